from collections import Counter

import pytest
import torch

from nmt import NMTError, checkpoint
from nmt import train as train_mod
from nmt import translate as translate_mod
from nmt.config import DecodeConfig
from nmt.translate import Translator
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def run_dir(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = tiny_config(toy, max_steps=300, valid_every=300, lr=0.01, loss="full", max_tokens=512)
    cfg.model.emb, cfg.model.hidden, cfg.model.layers, cfg.model.dropout = 32, 64, 1, 0.0
    train_mod.run(cfg, out)
    return out


@pytest.fixture(scope="module")
def translator(run_dir):
    return Translator.load([run_dir])


def _texts(translator, lines, **cfg):
    return [nbest[0][0] for nbest in translator.translate(lines, DecodeConfig(**cfg))]


def test_one_output_line_per_input_line_even_for_odd_input(translator):
    lines = ["der hund läuft", "", "   ", "жжж ☃", "eine katze", "\t"]
    out = _texts(translator, lines, beam=3)
    assert len(out) == len(lines)
    assert out[1] == "" and out[2] == "" and out[5] == ""
    assert out[0] and out[4]


def test_the_trained_model_translates_the_lexicon(translator, toy):
    # 300 steps on the toy lexicon: a good share of the reference words must come out (learning, not
    # just running; an untrained model's output shares almost none)
    src, refs = toy["valid_src"].read_text().splitlines(), toy["valid_tgt"].read_text().splitlines()
    hyps = _texts(translator, src, beam=1)
    found = sum(sum((Counter(h.split()) & Counter(r.split())).values()) for h, r in zip(hyps, refs))
    assert found / sum(len(r.split()) for r in refs) > 0.35, hyps[:5]


def test_int8_translator_still_translates(run_dir, toy):
    quant = Translator.load([run_dir], quantize="int8")
    src, refs = toy["valid_src"].read_text().splitlines(), toy["valid_tgt"].read_text().splitlines()
    hyps = _texts(quant, src, beam=2)
    found = sum(sum((Counter(h.split()) & Counter(r.split())).values()) for h, r in zip(hyps, refs))
    assert len(hyps) == len(src) and found / sum(len(r.split()) for r in refs) > 0.35
    with pytest.raises(NMTError, match="int8"):
        Translator.load([run_dir], quantize="int4")


@pytest.mark.parametrize("beam", [1, 4])
def test_output_does_not_depend_on_batching(translator, toy, beam):
    lines = toy["valid_src"].read_text().splitlines()
    one = _texts(translator, lines, beam=beam, max_sentences=1)
    many = _texts(translator, lines, beam=beam, max_sentences=64)
    assert one == many


def test_chunked_streaming_keeps_input_order(translator, toy, monkeypatch):
    lines = toy["valid_src"].read_text().splitlines()
    whole = _texts(translator, lines, beam=2)
    monkeypatch.setattr(translate_mod, "CHUNK_LINES", 3)
    assert _texts(translator, iter(lines), beam=2) == whole


def test_beam_one_equals_greedy(translator, toy):
    lines = toy["valid_src"].read_text().splitlines()
    greedy = list(translator.translate(lines, DecodeConfig(beam=1)))
    beam1 = [translator.search([ids], DecodeConfig(beam=1))[0] for ids in translator.src_tok.encode(lines)]
    assert [g[0][1].tokens for g in greedy] == [b[0].tokens for b in beam1]


def test_n_best_lists_are_sorted(translator):
    [nbest] = list(translator.translate(["der mann spielt mit dem ball"], DecodeConfig(beam=5, n_best=5)))
    scores = [hyp.score for _, hyp in nbest]
    assert len(nbest) == 5 and scores == sorted(scores, reverse=True)


def test_too_long_sources_are_truncated_with_a_warning(translator, caplog):
    long_line = " ".join(["hund"] * 100)
    with caplog.at_level("WARNING", logger="nmt"):
        out = _texts(translator, [long_line, "der hund"], beam=2)
    assert len(out) == 2 and translator.truncated >= 1
    assert "truncated" in caplog.text


def test_ensemble_of_one_model_twice_equals_the_model(run_dir, translator, toy):
    lines = toy["valid_src"].read_text().splitlines()[:10]
    pair = Translator.load([run_dir, run_dir / "last.pt"])
    assert _texts(pair, lines, beam=3) == _texts(Translator.load([run_dir / "last.pt"]), lines, beam=3)


def test_averaging_copies_of_a_checkpoint_gives_it_back(run_dir, tmp_path):
    checkpoint.average([run_dir / "last.pt", run_dir / "last.pt"], tmp_path / "avg.pt")
    avg, orig = checkpoint.load(tmp_path / "avg.pt")["model"], checkpoint.load(run_dir / "last.pt")["model"]
    assert all(torch.allclose(avg[k].float(), orig[k].float()) for k in orig)
    Translator.load([tmp_path / "avg.pt"])  # and it loads as a translator


class Payload:
    def __reduce__(self):
        return (print, ("this would run",))


def test_checkpoints_that_would_run_code_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "model": Payload()}, path)
    with pytest.raises(NMTError, match="refused"):
        checkpoint.load(path)


def test_truncated_checkpoint_is_a_clear_error(run_dir, tmp_path):
    blob = (run_dir / "last.pt").read_bytes()
    (tmp_path / "half.pt").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(NMTError, match="not a readable nmt checkpoint"):
        checkpoint.load(tmp_path / "half.pt")
