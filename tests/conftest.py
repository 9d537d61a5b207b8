"""Session fixtures: the toy corpus with its tokenizers, and every model the tests train, each trained
once per run (helpers.py has the functions behind them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nmt.serving.launch import Server
from nmt.text.tokenizer import load_tokenizers, train_tokenizers
from tests.helpers import ATTENTION, CHROMIUM, CHROMIUM_FLAGS, toy_pairs, train_toy, write_pairs

SERVER_LIMITS = ["--max-body", 20_000, "--max-chars", 300, "--max-texts", 16, "--max-beam", 6,
                 "--max-file", 100_000]


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


@pytest.fixture(scope="session")
def toy_run(toy, tmp_path_factory) -> Path:
    """A reversed-input LSTM trained on the toy corpus (train.de/train.en: the de-en pair)."""
    return train_toy(toy, tmp_path_factory.mktemp("toy_run"))


@pytest.fixture(scope="session")
def attention_run(toy, tmp_path_factory) -> Path:
    """A bidirectional LSTM with general attention and input feeding (helpers.ATTENTION)."""
    return train_toy(toy, tmp_path_factory.mktemp("attention"), steps=300, **ATTENTION)


@pytest.fixture(scope="session")
def reversed_attention_run(toy, tmp_path_factory) -> Path:
    """A reversed-input LSTM with dot attention: its weights are read backwards."""
    return train_toy(toy, tmp_path_factory.mktemp("reversed_attention"), steps=300, attention="dot")


@pytest.fixture(scope="session", params=["gru", "tied"])
def variant_run(request, toy, tmp_path_factory) -> tuple[str, Path]:
    """A GRU model, and one whose output layer is tied to its embedding (emb 32 != hidden 64, so the
    output layer projects first)."""
    model = {"cell": "gru"} if request.param == "gru" else {"tie_embeddings": True}
    return request.param, train_toy(toy, tmp_path_factory.mktemp(request.param), steps=500, **model)


@pytest.fixture(scope="session")
def learning_run(toy, tmp_path_factory) -> Path:
    """A model with dot attention trained with placeholders and term annotations (augment.py), on tokenizers
    with the reserved pieces and byte fallback (a vocabulary of 1,000: tokenizer.ROOMY)."""
    root = tmp_path_factory.mktemp("learning")
    train_tokenizers(toy["train_src"], toy["train_tgt"], root / "tok", vocab_size=1000)
    data = {"tokenizers": str(root / "tok"), "placeholders": True, "term_share": 0.5}
    return train_toy(toy, root / "run", steps=600, data=data, attention="dot")


@pytest.fixture(scope="session")
def toy_server(toy_run):
    """`nmt serve` of toy_run with small limits (SERVER_LIMITS), as a user starts it; it must stop cleanly,
    with no traceback in its log, whatever the tests sent it."""
    server = Server("--model", toy_run, *SERVER_LIMITS)
    yield server
    status, log = server.stop()
    assert status == 0 and "Traceback" not in log, log


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's package) driven by Playwright; skipped, with the reason, where either is
    missing (CI installs Chromium, .ci/run)."""
    playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed "
                                     "(pip install playwright, or make install)")
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (apt-get install -y chromium); the browser tests need it")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
