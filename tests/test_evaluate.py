import subprocess
import sys

import pytest
import sacrebleu

from nmt import NMTError
from nmt.evaluate import parse_metrics, score, score_files

HYPS = ["the dog runs in the park .", "a cat sleeps on the grass", "two men play football"]
REFS = ["the dog runs in the park .", "a cat is sleeping on the grass", "two men are playing soccer"]


def test_scores_equal_sacrebleus_own_functions():
    results = {r["metric"]: r for r in score(HYPS, [REFS], ["bleu", "chrf", "ter"])}
    assert results["bleu"]["score"] == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score, abs=1e-4)
    assert results["chrf"]["score"] == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS]).score, abs=1e-4)
    assert results["ter"]["score"] == pytest.approx(sacrebleu.corpus_ter(HYPS, [REFS]).score, abs=1e-4)
    assert results["bleu"]["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")


def test_scores_equal_the_sacrebleu_command(tmp_path):
    hyp, ref = tmp_path / "hyp", tmp_path / "ref"
    hyp.write_text("\n".join(HYPS) + "\n")
    ref.write_text("\n".join(REFS) + "\n")
    out = subprocess.run([sys.executable, "-m", "sacrebleu", str(ref), "-i", str(hyp), "-b", "-w", "4"],
                         capture_output=True, text=True, check=True).stdout
    [bleu] = score_files(hyp, [ref], ["bleu"])
    assert bleu["score"] == pytest.approx(float(out.strip()), abs=1e-4)


def test_multiple_references():
    two = score(HYPS, [REFS, HYPS], ["bleu"])[0]
    assert two["score"] == pytest.approx(100.0) and "nrefs:2" in two["signature"]


def test_line_count_mismatch_gives_no_score(tmp_path):
    hyp, ref = tmp_path / "hyp", tmp_path / "ref"
    hyp.write_text("a\nb\n")
    ref.write_text("a\n")
    with pytest.raises(NMTError, match="2 lines but .*ref has 1"):
        score_files(hyp, [ref], ["bleu"])


def test_unknown_metric():
    with pytest.raises(NMTError, match="choose from bleu, chrf, ter"):
        parse_metrics("bleu,meteor")


def test_scores_by_source_length_are_each_buckets_own_corpus_scores(tmp_path):
    from nmt.evaluate import by_length
    # the docstring's example: sources of 5, 12 and 14 words -> 1-10 holds one sentence, 11-20 two
    sources = [" ".join(["w"] * 5), " ".join(["w"] * 12), " ".join(["w"] * 14)]
    hyps = ["a man is riding a bike", "two dogs play in the snow together", "a woman reads a book"]
    refs = ["a man rides a bike", "two dogs play in the snow", "a woman reads a red book"]
    rows = by_length(hyps, [refs], sources, ["bleu", "chrf"])
    assert [(r["bucket"], r["sentences"]) for r in rows] == [("1-10", 1), ("11-20", 2)]
    assert rows[1]["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps[1:], [refs[1:]]).score, abs=1e-3)
    assert rows[0]["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps[:1], [refs[:1]]).score, abs=1e-3)
    for name, lines in (("src", sources), ("hyp", hyps), ("ref", refs)):
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    done = subprocess.run([sys.executable, "-m", "nmt", "evaluate", "--hyp", str(tmp_path / "hyp"), "--ref",
                           str(tmp_path / "ref"), "--src", str(tmp_path / "src"), "--by-length", "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert '"by_length"' in done.stdout.splitlines()[-1] and '"11-20"' in done.stdout
    plot = subprocess.run([sys.executable, "-m", "nmt", "plot", "--by-length", "--src", str(tmp_path / "src"),
                           "--ref", str(tmp_path / "ref"), "--hyp", f"mine={tmp_path / 'hyp'}", "--out",
                           str(tmp_path / "len.png")], capture_output=True, text=True)
    assert plot.returncode == 0, plot.stderr
    assert (tmp_path / "len.png").read_bytes()[:4] == b"\x89PNG"
    missing = subprocess.run([sys.executable, "-m", "nmt", "evaluate", "--hyp", str(tmp_path / "hyp"),
                              "--ref", str(tmp_path / "ref"), "--by-length"], capture_output=True, text=True)
    assert missing.returncode != 0 and "--by-length needs --src" in missing.stderr
