"""Peak RSS of training: `nmt train` of the shipped config for STEPS updates (two validations
included at the default 500), fp32 and bf16, each its own process. `python -m bench memory [STEPS]`.
Decoding's peak RSS is in `python -m bench decode`."""

from __future__ import annotations

import shutil
import sys

from bench.common import DATA, WORK, report, require_data, run_command

CONFIG = "configs/multi30k-de-en.yaml"


def main(steps: int = 500) -> None:
    require_data()
    rows = []
    for dtype in ("fp32", "bf16"):
        run = WORK / f"memory-{dtype}"
        shutil.rmtree(run, ignore_errors=True)
        data = ["--train-src", str(DATA / "train.de"), "--train-tgt", str(DATA / "train.en"),
                "--valid-src", str(DATA / "val.de"), "--valid-tgt", str(DATA / "val.en")]
        args = ["--config", CONFIG, "--out", str(run), "--tokenizers", str(WORK / "tok8000"),
                "--max-steps", str(steps), "--dtype", dtype, "--set", "train.valid_every=250", *data]
        seconds, peak = run_command([sys.executable, "-m", "nmt", "train", *args])
        rows.append({"config": CONFIG, "dtype": dtype, "steps": steps, "minutes": seconds / 60,
                     "train_peak_rss_mb": peak})
    report("memory", rows, ["config", "dtype", "steps", "minutes", "train_peak_rss_mb"])


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
