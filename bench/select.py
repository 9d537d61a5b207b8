"""Which checkpoint to keep: `python -m bench select RUN`.

For every step_N.pt of a run (train it with `--set train.keep_last=100` to keep them all): test2016
BLEU with beam 5, next to the validation perplexity and greedy validation BLEU logged at that step.
Then what each rule would pick (lowest validation perplexity, highest validation BLEU, the last
checkpoint, the average of the last three) and the test BLEU of its pick, and how closely each
validation measure ranks checkpoints as test BLEU does (Spearman's rank correlation).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from bench.common import DATA, report, require_data
from nmt import checkpoint
from nmt.config import DecodeConfig
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
from nmt.translate import Translator


def _test_bleu(path: Path, src: list[str], refs: list[str]) -> float:
    translator = Translator.load(path)  # on the GPU where there is one
    return corpus_bleu([n[0][0] for n in translator.translate_stream(src, DecodeConfig(beam=5))], refs)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    for rank, i in enumerate(order):
        ranks[i] = rank
    return ranks


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = _ranks(a), _ranks(b)
    n = len(a)
    mean = (n - 1) / 2
    cov = sum((x - mean) * (y - mean) for x, y in zip(ra, rb, strict=True))
    var = sum((x - mean) ** 2 for x in ra)
    return cov / var if var else float("nan")


def main(run: str, split: str = "test2016") -> None:
    require_data()
    run = Path(run)
    src, refs = list(read_lines(DATA / f"{split}.de")), list(read_lines(DATA / f"{split}.en"))
    valid = {r["step"]: r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
             if r["type"] == "valid"}
    steps = sorted(int(p.stem.split("_")[1]) for p in run.glob("step_*.pt"))
    rows = [{"run": str(run), "checkpoint": f"step_{s}.pt", "step": s, "valid_ppl": valid[s]["ppl"],
             "valid_bleu": valid[s]["bleu"], "test_bleu": _test_bleu(run / f"step_{s}.pt", src, refs)}
            for s in steps if s in valid]
    with tempfile.TemporaryDirectory() as tmp:
        last3 = [run / f"step_{r['step']}.pt" for r in rows[-3:]]
        checkpoint.average(last3, Path(tmp) / "avg.pt")
        average = _test_bleu(Path(tmp) / "avg.pt", src, refs)
    picks = {"lowest validation perplexity": min(rows, key=lambda r: r["valid_ppl"]),
             "highest validation BLEU (greedy)": max(rows, key=lambda r: r["valid_bleu"]),
             "last checkpoint": rows[-1]}
    summary = [{"run": str(run), "rule": rule, "checkpoint": r["checkpoint"], "test_bleu": r["test_bleu"]}
               for rule, r in picks.items()]
    summary.append({"run": str(run), "rule": "average of the last three",
                    "checkpoint": "+".join(p.stem for p in last3), "test_bleu": average})
    tests = [r["test_bleu"] for r in rows]
    for name, values in (("-validation perplexity", [-r["valid_ppl"] for r in rows]),
                         ("validation BLEU", [r["valid_bleu"] for r in rows])):
        summary.append({"run": str(run), "rule": f"rank correlation of {name} with test BLEU",
                        "spearman": spearman(values, tests)})
    report("select", rows, ["checkpoint", "valid_ppl", "valid_bleu", "test_bleu"])
    report("select_summary", summary, ["rule", "checkpoint", "test_bleu", "spearman"])


if __name__ == "__main__":
    main(*sys.argv[1:])
