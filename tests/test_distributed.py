"""Two processes with torchrun (gloo on CPU) train the same model as one process over the same batches."""

import torch

from nmt import checkpoint
from tests.helpers import train_command


def _close(a, b):
    a, b = checkpoint.load(a)["model"], checkpoint.load(b)["model"]
    return all(torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4) for k in a)


def test_two_gloo_processes_match_one_process_with_the_same_global_batches(toy, tmp_path):
    train_command(toy, tmp_path / "ddp", "--max-steps", "6", procs=2)
    train_command(toy, tmp_path / "one", "--max-steps", "6", "--set", "train.accum=2")
    ddp = tmp_path / "ddp"
    assert sorted(p.name for p in ddp.glob("*.pt")) == ["best.pt", "last.pt", "step_6.pt"]
    assert checkpoint.load(ddp / "last.pt")["progress"]["batch_in_epoch"] == 12
    assert _close(ddp / "last.pt", tmp_path / "one" / "last.pt")
    log = (ddp / "train.log").read_text()
    assert "distributed: 2 processes" in log and log.count("validation step 6") == 1

    # resume the 2-process run in one process (accumulating 2 batches): it continues where it stopped
    train_command(toy, None, "--resume", str(ddp), "--max-steps", "9", "--set", "train.accum=2")
    train_command(toy, None, "--resume", str(tmp_path / "one"), "--max-steps", "9")
    assert checkpoint.load(ddp / "last.pt")["progress"]["step"] == 9
    assert _close(ddp / "last.pt", tmp_path / "one" / "last.pt")


def test_a_plain_cuda_device_is_named_by_its_index(monkeypatch):
    # torch.cuda.set_device refuses torch.device("cuda"): training on a GPU once failed right there.
    # The CUDA calls are stood in for, so this runs on any machine.
    from nmt.training import distributed
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
