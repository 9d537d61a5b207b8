"""Quality on a budget: test2016 sacreBLEU after a fixed wall-clock training run of the shipped config.

Runs exactly what a user would: `nmt train --config configs/multi30k-de-en.yaml --max-minutes M`
(tokenizers and data preparation included before the clock starts), then `nmt evaluate` of best.pt on
test2016 with greedy search and beam 5.
`python -m bench budget [MINUTES [DTYPE [CONFIG [KEY=VALUE ...]]]]`: the settings go to `--set`.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from bench.common import DATA, WORK, evaluate, report, require_data, run_command


def main(minutes: float = 15, dtype: str = "auto", config: str = "configs/multi30k-de-en.yaml",
         *overrides: str) -> None:
    """`overrides`: KEY=VALUE settings given to `nmt train --set`, e.g. model.attention=dot."""
    require_data()
    settings = (o.partition("=") for o in overrides)
    names = "-".join(f"{key.split('.')[-1]}-{value}" for key, _, value in settings)
    slug = "".join(c if c.isalnum() else "-" for c in names)
    run = WORK / f"budget-{Path(config).stem}-{minutes:g}min-{dtype}{'-' + slug if slug else ''}"
    shutil.rmtree(run, ignore_errors=True)
    seconds, peak = run_command([sys.executable, "-m", "nmt", "train", "--config", config, "--out", str(run),
                                 "--train-src", str(DATA / "train.de"), "--train-tgt", str(DATA / "train.en"),
                                 "--valid-src", str(DATA / "val.de"), "--valid-tgt", str(DATA / "val.en"),
                                 "--max-minutes", str(minutes), "--dtype", dtype,
                                 *(a for o in overrides for a in ("--set", o))])
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    valid = [r for r in records if r["type"] == "valid"]
    rows = []
    for beam in (1, 5):
        bleu = evaluate([run / "best.pt"], DATA / "test2016.de", DATA / "test2016.en", beam=beam)["bleu"]
        rows.append({"config": config, "overrides": " ".join(overrides), "dtype": dtype,
                     "budget_min": minutes, "wall_min": seconds / 60, "train_peak_rss_mb": peak,
                     "steps": valid[-1]["step"] if valid else 0,
                     "best_valid_bleu": max(v["bleu"] for v in valid),
                     "search": "greedy" if beam == 1 else f"beam {beam}", "test2016_bleu": bleu})
    report("budget", rows, ["config", "overrides", "dtype", "budget_min", "wall_min", "train_peak_rss_mb",
                            "steps", "best_valid_bleu", "search", "test2016_bleu"])


if __name__ == "__main__":
    main(*(float(a) if i == 0 else a for i, a in enumerate(sys.argv[1:])))
