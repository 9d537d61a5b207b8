"""What the tests share besides fixtures (conftest.py holds those): the toy corpus and its lexicon,
small configs and trained toy models, running `nmt` as a user does, and how well a model translates the
lexicon."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from nmt.config import Config, DecodeConfig, ModelConfig
from nmt.fast import int8

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"  # screenshots of browser tests
# no sandbox (CI runs as root); nothing fetched in the background (the machine has no internet)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
# int8 decoding is refused off x86 (and without oneDNN) by design: its tests are skipped there
needs_int8 = pytest.mark.skipif(not int8.available(), reason="int8 decoding needs an x86 CPU and oneDNN")
# the attention variant most tests train: every option of the decoder at once
ATTENTION = {"attention": "general", "input_feeding": True, "bidirectional": True, "reverse_source": False}

LEXICON = {
    "der": "the", "die": "the", "ein": "a", "eine": "a", "hund": "dog", "katze": "cat", "mann": "man",
    "frau": "woman", "kind": "child", "läuft": "runs", "spielt": "plays", "sitzt": "sits",
    "schläft": "sleeps",
    "im": "in the", "auf": "on", "dem": "the", "gras": "grass", "park": "park", "straße": "street",
    "rot": "red", "blau": "blue", "groß": "big", "klein": "small", "und": "and", "mit": "with",
    "ball": "ball", "schnell": "fast", "heute": "today",
}
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "multi30k"


def toy_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    words = sorted(LEXICON)
    pairs = []
    for _ in range(n):
        src = [rng.choice(words) for _ in range(rng.randint(3, 8))]
        pairs.append((" ".join(src), " ".join(LEXICON[w] for w in src)))
    return pairs


def write_pairs(folder: Path, name: str, pairs: list[tuple[str, str]]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    src, tgt = folder / f"{name}.de", folder / f"{name}.en"
    src.write_text("".join(s + "\n" for s, _ in pairs), encoding="utf-8")
    tgt.write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")
    return src, tgt


def tiny_config(toy: dict, **train) -> Config:
    cfg = Config(model=ModelConfig(emb=16, hidden=32, layers=2, dropout=0.1, max_len=40))
    d = cfg.data
    d.train_src, d.train_tgt = str(toy["train_src"]), str(toy["train_tgt"])
    d.valid_src, d.valid_tgt = str(toy["valid_src"]), str(toy["valid_tgt"])
    d.tokenizers = str(toy["tok_dir"])
    cfg.train.max_tokens = 256
    cfg.train.num_sampled = 20
    cfg.train.log_every = 10
    cfg.train.threads = 1
    cfg.train.dtype = "fp32"  # exact comparisons in tests; bf16 has its own test
    for key, value in train.items():
        setattr(cfg.train, key, value)
    return cfg


def train_toy(toy: dict, out: Path, steps: int = 300, data: dict | None = None, **model) -> Path:
    """A small model that has learned the toy lexicon well enough to translate it (~4 s); `data`: DataConfig
    fields to set."""
    from nmt.training import trainer
    cfg = tiny_config(toy, max_steps=steps, valid_every=steps, lr=0.01, loss="full", max_tokens=512)
    cfg.model.emb, cfg.model.hidden, cfg.model.layers, cfg.model.dropout = 32, 64, 1, 0.0
    for key, value in model.items():
        setattr(cfg.model, key, value)
    for key, value in (data or {}).items():
        setattr(cfg.data, key, value)
    # On the CPU everywhere: a GPU takes another path through training, and what the tests assert this
    # model learned holds for the CPU's weights, the same on every machine (decoding may use the GPU).
    trainer.run(cfg, out, device="cpu")
    return out


def nmt(*args, input=None, cwd=None) -> subprocess.CompletedProcess:
    """`nmt ARGS...` in a subprocess, as a user runs it; its output as text."""
    return subprocess.run([sys.executable, "-m", "nmt", *map(str, args)], capture_output=True, text=True,
                          input=input, cwd=cwd, env=ENV)


def train_command(toy: dict, out, *extra, procs: int = 1) -> subprocess.CompletedProcess:
    """`nmt train` of a small model on the toy corpus in a subprocess (under torchrun with procs > 1);
    with --resume among `extra`, that run's own settings. Fails the test when it fails."""
    launcher = [sys.executable]
    if procs > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={procs}"]
    args = ["-m", "nmt", "train", "--threads", "1", "--device", "cpu", *extra]  # gloo, even beside a GPU
    if "--resume" not in extra:
        args += ["--out", str(out), *toy_data_flags(toy),
                 "--set", "model.hidden=32", "--set", "model.emb=16", "--set", "model.dropout=0.0",
                 "--set", "train.loss=full", "--set", "train.max_tokens=256",
                 "--set", "train.schedule=constant", "--set", "train.valid_every=6"]
    result = subprocess.run(launcher + args, capture_output=True, text=True, env=ENV, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def toy_data_flags(toy: dict) -> list[str]:
    """`nmt train`'s data flags for the toy corpus and its tokenizers."""
    return ["--train-src", str(toy["train_src"]), "--train-tgt", str(toy["train_tgt"]),
            "--valid-src", str(toy["valid_src"]), "--valid-tgt", str(toy["valid_tgt"]),
            "--tokenizers", str(toy["tok_dir"])]


def texts(translator, lines: list[str], **cfg) -> list[str]:
    """The best translation of each line."""
    return [nbest[0][0] for nbest in translator.translate_stream(lines, DecodeConfig(**cfg))]


def lexicon_recall(translator, toy: dict, beam: int) -> float:
    """Share of the reference words the translations of the toy validation set contain (an untrained
    model's share is near 0)."""
    src, refs = toy["valid_src"].read_text().splitlines(), toy["valid_tgt"].read_text().splitlines()
    hyps = texts(translator, src, beam=beam)
    assert len(hyps) == len(src)
    found = sum(sum((Counter(h.split()) & Counter(r.split())).values())
                for h, r in zip(hyps, refs, strict=True))
    return found / sum(len(r.split()) for r in refs)
