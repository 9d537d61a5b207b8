"""Several corpora in one training (mixture.py, data.corpora) and several validation sets (data.valid):
the docstring's worked example, what batches draw, exact resume, per-set validation and the config."""

import json

import numpy as np
import pytest
import torch

from nmt import NMTError, checkpoint
from nmt.config import Config, apply_overrides, from_dict
from nmt.corpora import languages_of, train_corpora
from nmt.mixture import Mixture, counts, draw, shares
from nmt.plot import plot
from nmt.text.tokenizer import _sample_lines
from nmt.training import trainer as train_mod
from tests.helpers import nmt, tiny_config, toy_pairs, write_pairs


class Sized:
    """What Mixture reads of a corpus: its length, its lengths, its sentences (pair i: [i] and [i, i])."""

    def __init__(self, n: int, name: str):
        self.n, self.dir = n, name

    def __len__(self):
        return self.n

    def lengths(self, side):
        return np.full(self.n, 1 if side == "src" else 2)

    def sentence(self, side, i):
        return np.array([i] if side == "src" else [i, i])


def test_worked_example():
    assert shares([6, 2], [1, 1]).tolist() == [0.5, 0.5]
    assert counts(8, shares([6, 2], [1, 1])).tolist() == [4, 4]
    assert counts(8, shares([6, 2], [1, 1], temperature=1)).tolist() == [6, 2]
    share = shares([6, 2], [1, 1], temperature=2)
    assert share == pytest.approx([6 ** 0.5 / (6 ** 0.5 + 2 ** 0.5), 2 ** 0.5 / (6 ** 0.5 + 2 ** 0.5)])
    assert share[0] == pytest.approx(0.634, abs=1e-3)
    assert counts(8, share).tolist() == [5, 3]
    rng = np.random.default_rng(0)
    assert sorted(draw(2, 4, rng).tolist()) == [0, 0, 1, 1]       # two whole passes
    sample = draw(6, 4, rng)
    assert len(set(sample.tolist())) == 4 and sample.max() < 6   # a sample without replacement
    third = draw(2, 3, rng).tolist()
    assert sorted(third)[:2] == [0, 0] or sorted(third)[1:] == [1, 1]


def test_counts_always_add_up():
    rng = np.random.default_rng(1)
    for _ in range(200):
        k = int(rng.integers(1, 6))
        total = int(rng.integers(0, 1000))
        got = counts(total, shares(rng.integers(1, 500, k), rng.random(k) + 0.01))
        assert got.sum() == total and (got >= 0).all()


def test_an_epoch_depends_on_seed_and_epoch_only():
    mix = Mixture([Sized(6, "a"), Sized(2, "b")], [0.5, 0.5])
    one, again, other, later = mix.epoch(1, 0), mix.epoch(1, 0), mix.epoch(2, 0), mix.epoch(1, 1)
    assert np.array_equal(one.local, again.local) and np.array_equal(one.source, again.source)
    assert np.bincount(one.source).tolist() == [4, 4]
    assert sorted(one.local[one.source == 1].tolist()) == [0, 0, 1, 1]
    assert not np.array_equal(one.local, other.local) or not np.array_equal(one.local, later.local)
    assert one.lengths("tgt").tolist() == [2] * 8
    k = int(np.flatnonzero(one.source == 1)[0])
    assert one.sentence("tgt", k).tolist() == [one.local[k]] * 2


def test_one_corpus_reads_itself_in_order():
    """A single corpus (data.train_src) trains on exactly the batches it trained on before mixtures."""
    epoch = Mixture([Sized(5, "a")], [1.0]).epoch(7, 3)
    assert epoch.local.tolist() == [0, 1, 2, 3, 4] and epoch.source.tolist() == [0] * 5


def _two_corpora(toy, tmp_path, weights=(3, 1)):
    """The toy corpus and a second one of other sentences, with the given weights, and both valid sets."""
    other_src, other_tgt = write_pairs(tmp_path / "other", "train", toy_pairs(300, seed=11))
    other_valid = write_pairs(tmp_path / "other", "valid", toy_pairs(20, seed=12))
    cfg = tiny_config(toy)
    d = cfg.data
    d.corpora = [{"name": "toy", "src": d.train_src, "tgt": d.train_tgt, "weight": weights[0]},
                 {"name": "other", "src": str(other_src), "tgt": str(other_tgt), "weight": weights[1]}]
    d.valid = [{"name": "toy", "src": d.valid_src, "tgt": d.valid_tgt},
               {"name": "other", "src": str(other_valid[0]), "tgt": str(other_valid[1])}]
    d.train_src = d.train_tgt = d.valid_src = d.valid_tgt = ""
    return cfg


def test_batches_follow_the_weights(toy, tmp_path, monkeypatch):
    drawn = []
    original = train_mod.Trainer._accumulate

    def recording(self, chunk):
        drawn.extend(self.batch_corpus.source[index].tolist() for index in chunk)
        return original(self, chunk)
    monkeypatch.setattr(train_mod.Trainer, "_accumulate", recording)
    cfg = _two_corpora(toy, tmp_path, weights=(3, 1))
    cfg.train.max_steps, cfg.train.valid_every = 30, 30
    train_mod.run(cfg, tmp_path / "run")
    sources = np.concatenate([np.asarray(batch) for batch in drawn])
    share = np.bincount(sources, minlength=2) / len(sources)
    assert share[0] == pytest.approx(0.75, abs=0.08), share  # 900 pairs an epoch: 675 toy, 225 other
    log = (tmp_path / "run" / "train.log").read_text()
    assert ("an epoch draws toy 675 pairs (75.0%, 1.12 times its 600), "
            "other 225 pairs (25.0%, 0.75 times its 300)") in log


def test_interrupted_and_resumed_mixture_ends_with_the_same_parameters(toy, tmp_path):
    def config(steps):
        cfg = _two_corpora(toy, tmp_path, weights=(1, 2))
        cfg.train.max_steps, cfg.train.valid_every, cfg.train.seed = steps, 10, 3
        return cfg
    train_mod.run(config(80), tmp_path / "a")  # over an epoch of 900 pairs: the next is drawn afresh
    train_mod.run(config(17), tmp_path / "b")
    train_mod.run(config(80), tmp_path / "b", resume=True, changed={"train.max_steps"})
    a, b = (checkpoint.load(tmp_path / run / "last.pt") for run in ("a", "b"))
    assert a["progress"]["epoch"] >= 1
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_every_validation_set_is_scored_and_the_mean_picks_best(toy, tmp_path):
    cfg = _two_corpora(toy, tmp_path)
    # a model that learns the lexicon in 240 steps; the second set's references are the words backwards,
    # so the two sets score apart and their mean is neither
    cfg.model.emb, cfg.model.hidden, cfg.model.layers, cfg.model.dropout = 32, 64, 1, 0.0
    cfg.train.lr, cfg.train.loss, cfg.train.max_tokens = 0.01, "full", 512
    cfg.train.max_steps, cfg.train.valid_every, cfg.train.metric = 240, 80, "bleu"
    cfg.train.tensorboard = True
    backwards = [(s, " ".join(reversed(t.split()))) for s, t in toy_pairs(20, seed=12)]
    src, tgt = write_pairs(tmp_path / "backwards", "valid", backwards)
    cfg.data.valid[1] = {"name": "other", "src": str(src), "tgt": str(tgt)}
    run = tmp_path / "run"
    train_mod.run(cfg, run)
    records = map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
    valid = [r for r in records if r["type"] == "valid"]
    assert [r["step"] for r in valid] == [80, 160, 240]
    assert valid[-1]["sets"]["toy"]["bleu"] > valid[-1]["sets"]["other"]["bleu"] + 1
    for r in valid:
        assert set(r["sets"]) == {"toy", "other"}
        assert r["bleu"] == pytest.approx((r["sets"]["toy"]["bleu"] + r["sets"]["other"]["bleu"]) / 2)
        assert r["loss"] == pytest.approx((r["sets"]["toy"]["loss"] + r["sets"]["other"]["loss"]) / 2)
    best = max(valid, key=lambda r: r["bleu"])
    assert checkpoint.load(run / "best.pt")["progress"]["step"] == best["step"]
    assert "toy: ppl" in (run / "train.log").read_text()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    assert {"valid/bleu", "valid/toy/bleu", "valid/other/ppl"} <= set(events.Tags()["scalars"])
    fig = plot([run], tmp_path / "curves.png")
    labels = fig.axes[2].get_legend_handles_labels()[1]
    assert labels == ["run: mean of 2 sets", "run: toy", "run: other"]


def test_tokenizers_sample_each_corpus_by_its_share(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("alpha one\nalpha two\n")
    b.write_text("".join(f"beta {i}\n" for i in range(10)))
    lines = list(_sample_lines([a, b], limit=1000, seed=1, lines=[5, 3]))
    assert len(lines) == 8
    assert sorted(line for line in lines if line.startswith("alpha")) in (
        ["alpha one"] * 3 + ["alpha two"] * 2, ["alpha one"] * 2 + ["alpha two"] * 3)
    assert len({line for line in lines if line.startswith("beta")}) == 3


def test_a_mixture_trains_its_tokenizers_over_every_corpus(toy, tmp_path):
    cfg = _two_corpora(toy, tmp_path)
    cfg.data.tokenizers, cfg.data.vocab_size, cfg.data.byte_fallback = "", 1000, True  # tokenizer.ROOMY
    cfg.train.max_steps = 2
    train_mod.run(cfg, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "tokenizers" / "tokenizers.json").read_text())
    assert summary["byte_fallback"] and summary["src"]["trained_on"].count("train.de") == 2
    assert sorted(p.name for p in (tmp_path / "run" / "prepared").iterdir()) == ["other", "toy"]


def test_config_entries_are_checked():
    good = {"data": {"corpora": [{"src": "data/multi30k/train.de", "tgt": "data/multi30k/train.en"},
                                 {"name": "tat", "src": "t.de", "tgt": "t.en", "weight": 2}]}}
    cfg = from_dict(good)
    assert [(c.name, c.weight) for c in train_corpora(cfg.data)] == [("multi30k", 1.0), ("tat", 2.0)]
    assert languages_of(cfg) == ("de", "en")
    assert from_dict(cfg.to_dict()) == cfg
    for bad, message in [
        ([{"src": "a.de"}], r"data.corpora\[0\] must be a mapping with src and tgt"),
        ([{"src": "a.de", "tgt": "a.en", "weight": 0}], r"data.corpora\[0\].weight must be a number > 0"),
        ([{"src": "x/a.de", "tgt": "a.en"}, {"src": "x/b.de", "tgt": "b.en"}], "names must differ"),
        ([{"name": "../up", "src": "a.de", "tgt": "a.en"}], "it names a folder"),
        ("a.de", "must be a list"),
    ]:
        with pytest.raises(NMTError, match=message):
            from_dict({"data": {"corpora": bad}})
    with pytest.raises(NMTError, match="data.corpora and data.train_src/train_tgt both"):
        apply_overrides(Config(), ["data.train_src=a.de", "data.corpora=[{src: b.de, tgt: b.en}]"]).check()
    with pytest.raises(NMTError, match="data.temperature must be >= 0"):
        apply_overrides(Config(), ["data.temperature=-1"])


def test_command_line_files_replace_the_configs_corpora(toy, tmp_path):
    """`nmt train --config MIXTURE.yaml --train-src F --train-tgt F` trains on F alone, as a user means."""
    config = tmp_path / "mix.yaml"
    config.write_text("data:\n  corpora:\n    - {src: missing/a.de, tgt: missing/a.en}\n"
                      "  valid:\n    - {src: missing/v.de, tgt: missing/v.en}\n"
                      "model: {emb: 8, hidden: 16, layers: 1}\ntrain: {max_steps: 2, max_tokens: 256}\n")
    r = nmt("train", "--config", config, "--out", tmp_path / "r")
    assert r.returncode == 1 and "multi30k's src" not in r.stderr and "missing/a.de: no such file" in r.stderr
    r = nmt("train", "--config", config, "--out", tmp_path / "r", "--train-src", toy["train_src"],
            "--train-tgt", toy["train_tgt"], "--valid-src", toy["valid_src"], "--valid-tgt", toy["valid_tgt"],
            "--tokenizers", toy["tok_dir"], "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "r" / "prepared" / "train" / "meta.json").is_file()
