"""Crashes and full disks never leave a half-written checkpoint."""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from nmt import NMTError, checkpoint
from nmt.config import Config
from nmt.training import trainer
from tests.helpers import ENV, toy_data_flags, train_command

SAVER = """
import sys, torch
from nmt import checkpoint
path = sys.argv[1]
i = 0
while True:
    i += 1
    checkpoint.save(path, {"model": {"w": torch.full((1024, 1024), float(i))}, "step": i})
    if i == 1:
        print("saved", flush=True)
"""


def test_kill_during_saves_never_leaves_a_broken_checkpoint(tmp_path):
    # Each round starts a process that saves over and over, waits until a save is under way (its temporary
    # file exists) and kills the process then, mid-write: the checkpoint must load whole.
    path = tmp_path / "last.pt"
    mid_write = 0
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], env=ENV, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline() == "saved\n"  # the first save has landed
        give_up = time.monotonic() + 10  # a bound, not a wait: a save that writes no temporary file fails
        while not list(tmp_path.glob(".last.pt.*.tmp")) and time.monotonic() < give_up:  # the next is writing
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
    args = [sys.executable, "-m", "nmt", "train", "--threads", "1", "--out", str(run), *toy_data_flags(toy),
            "--set", "model.hidden=32", "--set", "model.emb=16",
            "--set", "train.max_tokens=256", "--set", "train.valid_every=3", "--max-steps", "100000"]
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    validations = 0
    for line in proc.stderr:  # killed as it goes on from its second validation: training, or saving
        validations += line.startswith("validation step")
        if validations == 2:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = checkpoint.load(run / "last.pt")["progress"]["step"]
    assert step >= 3  # the kill may land while step 6 is being saved
    train_command(toy, None, "--resume", str(run), "--max-steps", str(step + 3))
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


def test_one_training_per_run_folder_and_a_killed_runs_lock_does_not_block(toy, tmp_path):
    # Two real `nmt train` processes on one --out: the second is refused with one line naming the folder
    # and the process that holds it, and writes nothing; once the first is killed, its folder resumes.
    run = tmp_path / "run"
    common = ["--threads", "1", "--out", str(run), *toy_data_flags(toy), "--set", "model.hidden=32",
              "--set", "model.emb=16", "--set", "train.max_tokens=256", "--set", "train.valid_every=3"]
    first = subprocess.Popen([sys.executable, "-m", "nmt", "train", *common, "--max-steps", "100000",
                              "--seed", "1"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    try:
        for line in first.stderr:  # it holds the folder, and has written a checkpoint into it
            if line.startswith("validation step"):
                break
        second = subprocess.run([sys.executable, "-m", "nmt", "train", *common, "--max-steps", "120",
                                 "--seed", "2"], env=ENV, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1, second.stderr
        assert second.stderr == (f"error: {run} is in use by another `nmt train` (process {first.pid} holds "
                                 "it); wait for it to end or choose another --out\n")
        with pytest.raises(NMTError, match=f"process {first.pid} holds it"):  # --resume too
            trainer.run(Config(), run, resume=True)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    log = (run / "train.log").read_text()
    assert log.count("model: ") == 1  # one run logged into the folder: the second never started
    step = checkpoint.load(run / "last.pt")["progress"]["step"]
    cfg = Config()
    cfg.train.max_steps = step + 3
    trainer.run(cfg, run, resume=True, changed={"train.max_steps"})  # the dead process's lock is free
    assert checkpoint.load(run / "last.pt")["progress"]["step"] == step + 3
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
             if '"valid"' in line]
    assert steps == sorted(steps)  # one run's records, in order: nothing interleaved from another
