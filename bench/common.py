"""What every benchmark shares: the machine description, a table printer, and a results file."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DATA = ROOT / "data" / "multi30k"
WORK = ROOT / "bench" / "work"  # what benchmarks make and reuse (git-ignored): tokenizers, runs, corpora


def machine() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    cpu = ""
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as info:
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit, "cpu": cpu, "cores": os.cpu_count(),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version()}


def sync(device: torch.device) -> None:
    """Wait for the GPU's queued work, so the clock reads what it did (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_rss_mb(children: bool = False) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024  # Linux reports KiB


def run_command(args: list[str], env: dict | None = None, log: Path | None = None) -> tuple[float, float]:
    """Run a command to completion, with `env` added to the environment and its output appended to `log`
    (default: this process's); (wall seconds, its own peak RSS in MB, measured by bench/children/peak.py).
    Fails loudly on error."""
    with tempfile.NamedTemporaryFile("r") as peak, open(log or os.devnull, "a") as out:
        start = time.perf_counter()
        where = {"stdout": out, "stderr": out} if log else {}
        subprocess.run([sys.executable, "-m", "bench.children.peak", peak.name, *args], cwd=ROOT, check=True,
                       env={**os.environ, **(env or {})}, **where)
        return time.perf_counter() - start, int(peak.read()) / 1024


def evaluate(models: list, src: Path, ref: Path, *, beam: int = 5, metrics: str = "bleu",
             options: tuple = ()) -> dict[str, float]:
    """`nmt evaluate --json` of `models` (checkpoints or run folders; several: an ensemble) translating
    `src` against `ref`: {metric: score}. Raises subprocess.CalledProcessError when nmt refuses."""
    command = ["nmt", "evaluate", *(a for m in models for a in ("--model", m)), "--src", src, "--ref", ref,
               "--beam", beam, *options, "--metrics", metrics, "--json"]
    out = subprocess.run([sys.executable, "-m", *map(str, command)], check=True, cwd=ROOT,
                         capture_output=True, text=True).stdout
    return {r["metric"]: r["score"] for r in map(json.loads, out.splitlines())}


def require_data() -> None:
    if not (DATA / "train.de").is_file():
        raise SystemExit("benchmarks read data/multi30k: run `nmt data multi30k --out data/multi30k` first")


def report(name: str, rows: list[dict], columns: list[str]) -> None:
    """Print a table and append the rows, with the machine, to bench/results/NAME.jsonl."""
    info = machine()
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print(f"\n{name}  ({info['cpu']}, {info['threads']} threads, torch {info['torch']}, "
          f"commit {info['commit']})")
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in columns))
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{name}.jsonl", "a") as f:
        for r in rows:
            f.write(json.dumps({"bench": name, **info, **r}) + "\n")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return "" if value is None else str(value)
