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
