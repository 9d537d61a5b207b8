"""Every direction Multi30k ships: `python -m bench pairs [MINUTES]` (15 by default); and with `general`
(`python -m bench pairs MINUTES general`), the general recipes' four directions instead: de-en, en-de, fr-en
and en-fr on Tatoeba and Multi30k, scored on test2016, the Tatoeba test and newstest2014 (bench/general.py).

For de→en, en→de, fr→en, en→fr, cs→en and en→cs: the pair's data from `nmt data multi30k` (from
$NMT_MULTI30K_MIRROR or ../shared/data/multi30k when there, else the official repository), then what
a user runs: `nmt train --config configs/multi30k-de-en-attention.yaml` with the pair's files given as
--train-src/--train-tgt/--valid-src/--valid-tgt (tokenizers trained on them) for MINUTES of training,
and `nmt evaluate` of best.pt with beam 5 on test2016 and, where the corpus has it (not cs), test2017:
BLEU and chrF.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from bench.common import ROOT, WORK, evaluate, report, run_command

PAIRS = (("de", "en"), ("en", "de"), ("fr", "en"), ("en", "fr"), ("cs", "en"), ("en", "cs"))
CONFIG = "configs/multi30k-de-en-attention.yaml"


def _mirror() -> list[str]:
    mirror = os.environ.get("NMT_MULTI30K_MIRROR") or str(ROOT.parent / "shared" / "data" / "multi30k")
    return ["--mirror", mirror] if os.environ.get("NMT_MULTI30K_MIRROR") or os.path.isdir(mirror) else []


def main(minutes: float = 15, recipes: str = "multi30k") -> None:
    if recipes == "general":
        from bench.general import pairs
        pairs(minutes)
        return
    rows = []
    for src, tgt in PAIRS:
        data = WORK / "pairs" / f"{src}-{tgt}"
        subprocess.run([sys.executable, "-m", "nmt", "data", "multi30k", "--out", str(data), "--src", src,
                        "--tgt", tgt, *_mirror()], check=True, cwd=ROOT, capture_output=True)
        run = WORK / "pairs" / f"run-{src}-{tgt}-{minutes:g}min"
        shutil.rmtree(run, ignore_errors=True)
        seconds, _ = run_command([sys.executable, "-m", "nmt", "train", "--config", CONFIG, "--out", str(run),
                                  "--train-src", str(data / f"train.{src}"), "--train-tgt",
                                  str(data / f"train.{tgt}"), "--valid-src", str(data / f"val.{src}"),
                                  "--valid-tgt", str(data / f"val.{tgt}"), "--max-minutes", str(minutes)])
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        steps = max(r["step"] for r in records)
        for test in ("test2016", "test2017"):
            if not (data / f"{test}.{src}").is_file() or not (data / f"{test}.{tgt}").is_file():
                continue
            scores = evaluate([run / "best.pt"], data / f"{test}.{src}", data / f"{test}.{tgt}",
                              metrics="bleu,chrf")
            rows.append({"pair": f"{src}-{tgt}", "budget_min": minutes, "wall_min": seconds / 60,
                         "steps": steps, "test": test, "bleu": scores["bleu"], "chrf": scores["chrf"]})
    report("pairs", rows, ["pair", "budget_min", "wall_min", "steps", "test", "bleu", "chrf"])
