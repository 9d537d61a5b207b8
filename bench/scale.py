"""Big corpora: peak memory and time to the first training step at 0.29M and 3M sentence pairs.

Multi30k repeated 10x and 104x (see bench/prepare.py). For each size a fresh process prepares the
corpus (timed, peak RSS), then another trains the shipped 2x512 config for 3 steps from that cache
(time from process start to the first step, peak RSS). File-backed pages of the memory-mapped corpus
count in RSS once touched (counting target frequencies reads tgt.bin once); they are page cache the
kernel can drop, not heap.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from bench.common import ROOT, WORK, report, require_data
from bench.prepare import _repeat, bench_tokenizers


def _child(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "bench.children.scale", *args], capture_output=True,
                            text=True, cwd=ROOT)
    if result.returncode:
        raise SystemExit(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(sizes: list[int] | None = None) -> None:
    require_data()
    tok = bench_tokenizers()
    rows = []
    for times in sizes or [10, 104]:
        src, tgt = _repeat(times)
        out = WORK / f"run.x{times}"
        shutil.rmtree(out, ignore_errors=True)
        prep = _child(str(src), str(tgt), str(tok), str(out), "prepare")
        run = _child(str(src), str(tgt), str(tok), str(out), "train")
        rows.append({"pairs": 29000 * times, "prepare_s": prep["seconds"],
                     "prepare_peak_mb": prep["peak_rss_mb"], "first_step_s": run["first_step_s"],
                     "train_peak_mb": run["peak_rss_mb"]})
        shutil.rmtree(out, ignore_errors=True)
    report("scale", rows, ["pairs", "prepare_s", "prepare_peak_mb", "first_step_s", "train_peak_mb"])


if __name__ == "__main__":
    main([int(x) for x in sys.argv[1:]] or None)
