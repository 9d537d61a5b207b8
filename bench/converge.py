"""Quality at convergence: train a config until early stopping, then score best.pt, last.pt and the average
of the last step checkpoints on test2016 (beam 5). `python -m bench converge [CONFIG [MAX_MINUTES]]`.

The run continues `python -m bench budget 15 auto CONFIG`'s run folder when there is one (copied, so the
budget result stays as it was): the two share their first 15 minutes instead of training them twice.
Training minutes are summed over the run's sessions from its train.log; MAX_MINUTES (default 90) caps
the total, so a run that has not early-stopped by then reports "max_minutes".
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from bench.common import DATA, ROOT, WORK, report, require_data, run_command
from nmt.config import load


def trained_minutes(run: Path) -> float:
    """Training minutes of every session of a run, from the "stopped: ... after M min" lines of train.log."""
    log = (run / "train.log").read_text()
    return sum(float(m) for m in re.findall(r"stopped: .* after ([\d.]+) min", log))


def checkpoint_metric(run: Path) -> str:
    """The validation measure that chose the run's best.pt (train.metric of its config)."""
    return load(run / "config.yaml").train.metric


def test_bleu(checkpoint: Path) -> float:
    out = subprocess.run([sys.executable, "-m", "nmt", "evaluate", "--model", str(checkpoint),
                          "--src", str(DATA / "test2016.de"), "--ref", str(DATA / "test2016.en"),
                          "--beam", "5", "--metrics", "bleu", "--json"], check=True, cwd=ROOT,
                         capture_output=True, text=True)
    return json.loads(out.stdout)["score"]


def main(config: str = "configs/multi30k-de-en.yaml", max_minutes: float = 90) -> None:
    require_data()
    stem = Path(config).stem
    run, budget_run = WORK / f"converge-{stem}", WORK / f"budget-{stem}-15min-auto"
    shutil.rmtree(run, ignore_errors=True)
    data = ["--train-src", str(DATA / "train.de"), "--train-tgt", str(DATA / "train.en"),
            "--valid-src", str(DATA / "val.de"), "--valid-tgt", str(DATA / "val.en")]
    if (budget_run / "last.pt").exists():
        shutil.copytree(budget_run, run)
        command = ["--resume", str(run)]
    else:
        command = ["--config", config, "--out", str(run), *data]
    left = max_minutes - (trained_minutes(run) if run.exists() else 0)
    if left > 0:
        run_command([sys.executable, "-m", "nmt", "train", *command, "--max-minutes", f"{left:.2f}"])
    log = (run / "train.log").read_text()
    reason = re.findall(r"stopped: (.*) at step", log)[-1]
    records = map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
    valid = [r for r in records if r["type"] == "valid"]
    metric = checkpoint_metric(run)
    best = (max if metric == "bleu" else min)(valid, key=lambda r: r[metric])  # what best.pt holds
    steps = sorted(run.glob("step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    subprocess.run([sys.executable, "-m", "nmt", "average", *map(str, steps), "--out", str(run / "avg.pt")],
                   check=True, cwd=ROOT, capture_output=True)
    base = {"config": config, "train_min": trained_minutes(run), "stopped": reason,
            "steps": valid[-1]["step"], "metric": metric, "best_step": best["step"],
            "best_valid": best[metric]}
    rows = [{**base, "checkpoint": name, "test2016_bleu_beam5": test_bleu(run / file)}
            for name, file in [(f"best.pt (best validation {metric})", "best.pt"), ("last.pt", "last.pt"),
                               (f"average of {', '.join(p.stem for p in steps)}", "avg.pt")]]
    report("converge", rows, ["config", "train_min", "stopped", "steps", "metric", "best_step", "best_valid",
                              "checkpoint", "test2016_bleu_beam5"])


if __name__ == "__main__":
    main(*(float(a) if i == 1 else a for i, a in enumerate(sys.argv[1:3])))
