"""`nmt plot`: curves drawn from metrics.jsonl records, checked on the figure it returns and the file."""

import json

import pytest

from nmt import NMTError
from nmt.plot import plot, read_metrics
from tests.helpers import nmt


def _run(folder, records, loss="sampled"):
    """A run folder with hand-made metrics: train records every 10 steps, validations every 20."""
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "train.log").write_text(f"... model: lstm 1x8, loss {loss} (4 negatives, unigram) ...\n")
    return folder


def _records(scale=1.0, t0=1000.0):
    train = [{"type": "train", "step": s, "loss": scale * 5 / s, "ppl": 1.0, "lr": 1e-3, "time": t0 + 6 * s}
             for s in (10, 20, 30, 40)]
    valid = [{"type": "valid", "step": s, "loss": 3.0, "ppl": scale * 40 / s, "bleu": s / 2,
              "time": t0 + 6 * s} for s in (20, 40)]
    return train + valid


def test_three_panels_with_each_run_overlaid(tmp_path):
    a = _run(tmp_path / "a", _records())
    b = _run(tmp_path / "b", _records(scale=2.0))
    fig = plot([a, b], tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loss, ppl, bleu = fig.axes
    assert loss.get_title() == "training loss (sampled softmax)"
    assert ppl.get_title() == "validation perplexity (full softmax)"
    assert bleu.get_title() == "validation BLEU (greedy)"
    assert [t.get_text() for t in loss.get_legend().get_texts()] == ["a", "b"]
    assert [list(line.get_xdata()) for line in loss.get_lines()] == [[10, 20, 30, 40]] * 2
    assert list(loss.get_lines()[1].get_ydata()) == pytest.approx([1.0, 0.5, 1 / 3, 0.25])  # 2 * 5 / step
    assert [list(line.get_ydata()) for line in bleu.get_lines()] == [[10, 20]] * 2


def test_minutes_on_the_x_axis_and_svg_output(tmp_path):
    run = _run(tmp_path / "r", _records(t0=5000.0))
    fig = plot([run], tmp_path / "curves.svg", x="minutes")
    assert "<svg" in (tmp_path / "curves.svg").read_text()
    # the first record (step 10) is at t0 + 60 s; step 40 at t0 + 240 s: 3 minutes later
    assert list(fig.axes[0].get_lines()[0].get_xdata()) == pytest.approx([0, 1, 2, 3])
    assert "minutes" in fig.axes[0].get_xlabel()


def test_a_full_softmax_run_is_labelled_so_and_same_named_runs_get_their_paths(tmp_path):
    one = _run(tmp_path / "x" / "run", _records(), loss="full")
    two = _run(tmp_path / "y" / "run", _records(), loss="sampled")
    fig = plot([one], tmp_path / "one.png")
    assert fig.axes[0].get_title() == "training loss (full softmax)"
    fig = plot([one, two], tmp_path / "two.png")
    assert fig.axes[0].get_title() == "training loss (full softmax / sampled softmax)"
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [str(one), str(two)]


def test_a_step_logged_twice_keeps_its_last_record(tmp_path):
    again = {"type": "train", "step": 20, "loss": 9.0, "ppl": 1.0, "lr": 1e-3, "time": 2000.0}
    records = [*_records(), again]
    train = read_metrics(_run(tmp_path / "r", records))["train"]
    assert [r["step"] for r in train] == [10, 20, 30, 40] and train[1]["loss"] == 9.0


def test_bad_input_is_refused_with_a_reason(tmp_path):
    with pytest.raises(NMTError, match="no metrics.jsonl"):
        plot([tmp_path], tmp_path / "c.png")
    run = _run(tmp_path / "r", _records())
    with pytest.raises(NMTError, match=r"ending in \.png, \.svg, \.pdf"):
        plot([run], tmp_path / "c.jpg")
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"type": "train", "st\n')
    with pytest.raises(NMTError, match=r"metrics.jsonl:7: not a JSON line"):
        plot([run], tmp_path / "c.png")


def test_the_command_plots_a_real_run(toy_run, tmp_path):
    r = nmt("plot", toy_run, "--out", tmp_path / "curves.png")
    assert r.returncode == 0 and (tmp_path / "curves.png").stat().st_size > 10_000, r.stderr
    r = nmt("plot", tmp_path / "nothing", "--out", tmp_path / "c.png")
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nothing'}: no metrics.jsonl; give run folders made by `nmt train`"]
