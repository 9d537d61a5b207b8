"""Two processes with torchrun (gloo on CPU) train the same model as one process over the same batches."""

import os
import subprocess
import sys

import torch

from nmt import checkpoint

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _train(toy, out, *extra, procs=1):
    launcher = [sys.executable]
    if procs > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={procs}"]
    args = ["-m", "nmt", "train", "--threads", "1", "--device", "cpu", *extra]  # gloo, even beside a GPU
    if "--resume" not in extra:
        args += ["--out", str(out), "--train-src", str(toy["train_src"]),
                 "--train-tgt", str(toy["train_tgt"]), "--valid-src", str(toy["valid_src"]),
                 "--valid-tgt", str(toy["valid_tgt"]),
                 "--tokenizers", str(toy["tok_dir"]),
                 "--set", "model.hidden=32", "--set", "model.emb=16", "--set", "model.dropout=0.0",
                 "--set", "train.loss=full", "--set", "train.max_tokens=256",
                 "--set", "train.schedule=constant", "--set", "train.valid_every=6"]
    result = subprocess.run(launcher + args, capture_output=True, text=True, env=ENV, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _close(a, b):
    a, b = checkpoint.load(a)["model"], checkpoint.load(b)["model"]
    return all(torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4) for k in a)


def test_two_gloo_processes_match_one_process_with_the_same_global_batches(toy, tmp_path):
    _train(toy, tmp_path / "ddp", "--max-steps", "6", procs=2)
    _train(toy, tmp_path / "one", "--max-steps", "6", "--set", "train.accum=2")
    ddp = tmp_path / "ddp"
    assert sorted(p.name for p in ddp.glob("*.pt")) == ["best.pt", "last.pt", "step_6.pt"]
    assert checkpoint.load(ddp / "last.pt")["progress"]["batch_in_epoch"] == 12
    assert _close(ddp / "last.pt", tmp_path / "one" / "last.pt")
    log = (ddp / "train.log").read_text()
    assert "distributed: 2 processes" in log and log.count("validation step 6") == 1

    # resume the 2-process run in one process (accumulating 2 batches): it continues where it stopped
    _train(toy, None, "--resume", str(ddp), "--max-steps", "9", "--set", "train.accum=2")
    _train(toy, None, "--resume", str(tmp_path / "one"), "--max-steps", "9")
    assert checkpoint.load(ddp / "last.pt")["progress"]["step"] == 9
    assert _close(ddp / "last.pt", tmp_path / "one" / "last.pt")


def test_a_plain_cuda_device_is_named_by_its_index(monkeypatch):
    # torch.cuda.set_device refuses torch.device("cuda"): training on a GPU once failed right there.
    # The CUDA calls are stood in for, so this runs on any machine.
    from nmt import distributed
    chosen = []
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    for asked in (None, "cuda"):
        _, device = distributed.start(asked)
        assert device == torch.device("cuda", 0) and chosen[-1] == torch.device("cuda", 0)
    assert distributed.start("cuda:1")[1] == torch.device("cuda", 1)
    assert distributed.start("cpu")[1] == torch.device("cpu")
