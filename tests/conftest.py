"""Shared fixtures: a toy parallel corpus made from a tiny lexicon, and tokenizers trained on it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from nmt.config import Config, ModelConfig
from nmt.tokenizer import load_tokenizers, train_tokenizers

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


@pytest.fixture(scope="session")
def toy(tmp_path_factory) -> dict:
    """train (600 pairs) and valid (40 pairs) files plus tokenizers with a vocabulary of 48."""
    root = tmp_path_factory.mktemp("toy")
    train_src, train_tgt = write_pairs(root, "train", toy_pairs(600, seed=1))
    valid_src, valid_tgt = write_pairs(root, "valid", toy_pairs(40, seed=2))
    tok_dir = root / "tok"
    train_tokenizers(train_src, train_tgt, tok_dir, vocab_size=48, model_type="unigram")
    src_tok, tgt_tok = load_tokenizers(tok_dir)
    return {"root": root, "train_src": train_src, "train_tgt": train_tgt, "valid_src": valid_src,
            "valid_tgt": valid_tgt, "tok_dir": tok_dir, "src_tok": src_tok, "tgt_tok": tgt_tok}


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


def train_toy(toy: dict, out: Path, steps: int = 300, **model) -> Path:
    """A small model that has learned the toy lexicon well enough to translate it (~4 s)."""
    from nmt import train as train_mod
    cfg = tiny_config(toy, max_steps=steps, valid_every=steps, lr=0.01, loss="full", max_tokens=512)
    cfg.model.emb, cfg.model.hidden, cfg.model.layers, cfg.model.dropout = 32, 64, 1, 0.0
    for key, value in model.items():
        setattr(cfg.model, key, value)
    # On the CPU everywhere: a GPU takes another path through training, and what the tests assert this
    # model learned holds for the CPU's weights, the same on every machine (decoding may use the GPU).
    train_mod.run(cfg, out, device="cpu")
    return out


@pytest.fixture(scope="session")
def toy_run(toy, tmp_path_factory) -> Path:
    """A run folder trained on the toy corpus (train.de/train.en: the de-en pair)."""
    return train_toy(toy, tmp_path_factory.mktemp("toy_run"))

