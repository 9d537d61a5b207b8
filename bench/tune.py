"""Decoding settings chosen on val: `python -m bench tune RUN`.

For RUN's best.pt, val BLEU and chrF over a grid of beam sizes and GNMT length penalties; for the
average of RUN's step checkpoints (`nmt average`, the last `train.keep_last`), at beam 5 and alpha 1.
Only val is read: the setting chosen here is then scored on test2016 once, by hand
(`nmt evaluate --beam B --length-penalty A`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.common import DATA, ROOT, evaluate, report, require_data

BEAMS = (5, 10)
PENALTIES = (0.6, 1.0, 1.4)


def main(run: str) -> None:
    require_data()
    folder = Path(run)
    steps = sorted(folder.glob("step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    averaged = folder / "averaged.pt"
    if steps:
        subprocess.run([sys.executable, "-m", "nmt", "average", *map(str, steps), "--out", str(averaged)],
                       check=True, cwd=ROOT, capture_output=True)
    models = {"best.pt": folder / "best.pt", **({f"average of the last {len(steps)} steps": averaged}
                                              if steps else {})}
    rows = []
    for name, model in models.items():
        for beam in BEAMS:
            for alpha in PENALTIES:
                if name != "best.pt" and (beam, alpha) != (5, 1.0):
                    continue  # the average at the default setting only
                score = evaluate([model], DATA / "val.de", DATA / "val.en", beam=beam, metrics="bleu,chrf",
                                 options=("--length-penalty", alpha))
                rows.append({"run": run, "model": name, "beam": beam, "length_penalty": alpha,
                             "val_bleu": score["bleu"], "val_chrf": score["chrf"]})
    report("tune", rows, ["model", "beam", "length_penalty", "val_bleu", "val_chrf"])
