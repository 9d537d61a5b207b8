"""Ensembles chosen on val: `python -m bench ensemble RUN RUN ...`.

Every combination of two or more of the runs' best.pt (`nmt evaluate --model A --model B ...`, beam 5) is
scored on val; the best of them on val is then scored on test2016, once. Models that read the source in
different directions cannot be ensembled (every model of an ensemble reads the same source tokens); such
combinations are listed as skipped.
"""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

from bench.common import DATA, evaluate, report, require_data


def _score(runs: tuple[str, ...], split: str) -> dict | None:
    try:
        return evaluate([Path(run) / "best.pt" for run in runs], DATA / f"{split}.de", DATA / f"{split}.en",
                        metrics="bleu,chrf")
    except subprocess.CalledProcessError:  # e.g. models reading the source in different directions
        return None


def main(*runs: str) -> None:
    require_data()
    if len(runs) < 2:
        raise SystemExit("usage: python -m bench ensemble RUN RUN ...")
    rows = []
    for n in range(2, len(runs) + 1):
        for combo in itertools.combinations(runs, n):
            score = _score(combo, "val")
            rows.append({"models": " + ".join(Path(r).name for r in combo), "split": "val", "runs": combo,
                         **({"bleu": score["bleu"], "chrf": score["chrf"]} if score else {"skipped": True})})
    scored = [r for r in rows if not r.get("skipped")]
    if scored:
        best = max(scored, key=lambda r: r["bleu"])
        test = _score(best["runs"], "test2016")
        rows.append({"models": best["models"], "split": "test2016 (chosen on val)", "runs": best["runs"],
                     "bleu": test["bleu"], "chrf": test["chrf"]})
    report("ensemble", rows, ["models", "split", "bleu", "chrf", "skipped"])
