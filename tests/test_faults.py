"""Crashes and full disks never leave a half-written checkpoint."""

import errno
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from nmt import NMTError, checkpoint
from tests.test_distributed import ENV, _train

SAVER = """
import sys, torch
from nmt import checkpoint
path = sys.argv[1]
i = 0
while True:
    i += 1
    checkpoint.save(path, {"model": {"w": torch.full((1024, 1024), float(i))}, "step": i})
"""


def test_kill_during_saves_never_leaves_a_broken_checkpoint(tmp_path):
    # Each round starts a process that saves over and over, waits until a save is under way (its temporary
    # file exists) and kills the process then, mid-write: the checkpoint must load whole.
    path = tmp_path / "last.pt"
    mid_write = 0
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], env=ENV)
        deadline = time.time() + 60
        while not path.exists() and time.time() < deadline:  # the first save has landed
            time.sleep(0.01)
        deadline = time.time() + 5
        while not list(tmp_path.glob(".last.pt.*.tmp")) and time.time() < deadline:  # the next one is writing
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ckpt = checkpoint.load(path)  # whole, whatever moment the kill came
        assert torch.all(ckpt["model"]["w"] == ckpt["step"])
        stale = list(tmp_path.glob(".last.pt.*.tmp"))
        mid_write += bool(stale)  # the kill landed before the rename: the half-written file is left aside
        for leftover in stale:
            leftover.unlink()
    assert mid_write >= 1  # the kill did come in the middle of writing a checkpoint


def test_killed_training_resumes_from_the_newest_complete_checkpoint(toy, tmp_path):
    run = tmp_path / "run"
    args = [sys.executable, "-m", "nmt", "train", "--threads", "1", "--out", str(run),
            "--train-src", str(toy["train_src"]), "--train-tgt", str(toy["train_tgt"]),
            "--valid-src", str(toy["valid_src"]), "--valid-tgt", str(toy["valid_tgt"]),
            "--tokenizers", str(toy["tok_dir"]), "--set", "model.hidden=32", "--set", "model.emb=16",
            "--set", "train.max_tokens=256", "--set", "train.valid_every=3", "--max-steps", "100000"]
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not list(run.glob("step_*.pt")):
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = checkpoint.load(run / "last.pt")["progress"]["step"]
    assert step >= 3
    _train(toy, None, "--resume", str(run), "--max-steps", str(step + 3))
    assert checkpoint.load(run / "last.pt")["progress"]["step"] == step + 3
    assert not list(run.glob(".*.tmp"))


def test_disk_full_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    checkpoint.save(path, {"model": {"w": torch.ones(3)}, "step": 1})

    def full_disk(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(NMTError, match="No space left on device.*previous one is untouched"):
        checkpoint.save(path, {"model": {"w": torch.zeros(3)}, "step": 2})
    monkeypatch.undo()
    assert checkpoint.load(path)["step"] == 1
    assert os.listdir(tmp_path) == ["last.pt"]
