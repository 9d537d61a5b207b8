"""python -m bench WHAT ...: print tables, append to bench/results/ (see bench/README.md).

Every benchmark is one row of BENCHMARKS: its arguments, whether `all` runs it, and how it is called.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    args: str                      # its arguments, for the usage line
    run: Callable[[list[str]], None]
    in_all: bool = False           # part of `python -m bench all` (the others train or need runs)


def _call(module: str, function: str = "main", convert: Callable[[list[str]], list] = list,
          ) -> Callable[[list[str]], None]:
    """Import bench.MODULE only when its benchmark runs (they import torch and the data)."""
    def run(rest: list[str]) -> None:
        getattr(importlib.import_module(f"bench.{module}"), function)(*convert(rest))
    return run


def _repeats(rest: list[str]) -> list:
    return [[int(x) for x in rest] or None]


def _numbers(kind: type, limit: int | None = None):
    return lambda rest: [kind(x) for x in rest[:limit]]


def _first_float(limit: int):
    return lambda rest: [float(a) if i == 0 else a for i, a in enumerate(rest[:limit])]


BENCHMARKS = {
    "prepare": Benchmark("[REPEATS...]", _call("prepare", convert=_repeats), in_all=True),
    "scale": Benchmark("[REPEATS...]", _call("scale", convert=_repeats), in_all=True),
    "train": Benchmark("[STEPS]", _call("train_speed", convert=_numbers(int, 1)), in_all=True),
    "decode": Benchmark("CHECKPOINT [quick]", _call("decode", convert=lambda rest: rest[:2])),
    "budget": Benchmark("[MINUTES [DTYPE [CONFIG [KEY=VALUE...]]]]",
                        _call("budget", convert=_first_float(None))),
    "converge": Benchmark("[CONFIG [MAX_MINUTES]]", _call(
        "converge", convert=lambda rest: [float(a) if i == 1 else a for i, a in enumerate(rest[:2])])),
    "vocab": Benchmark("", _call("vocab", "speed", convert=lambda rest: [])),
    "vocab-bleu": Benchmark("[STEPS]", _call("vocab", "bleu", convert=_numbers(int, 1))),
    "memory": Benchmark("[STEPS]", _call("memory", convert=_numbers(int, 1))),
    "serve": Benchmark("RUN...", _call("serve")),
    "paragraphs": Benchmark("RUN...", _call("paragraphs")),
    "html": Benchmark("RUN...", _call("html")),
    "documents": Benchmark("RUN [TEST_SRC TEST_REF]", _call("documents")),
    "constraints": Benchmark("RUN...", _call("constraints")),
    "terms": Benchmark("RUN BASELINE [RUN...] [tests|spans|glossary...]", _call("terms")),
    "lite": Benchmark("RUN...", _call("lite")),
    "web": Benchmark("RUN_OR_EXPORT", _call("web")),
    "length": Benchmark("[LABEL=]RUN...", _call("length")),
    "pairs": Benchmark("[MINUTES [general]]", _call("pairs", convert=_first_float(2))),
    "ablate": Benchmark("[MINUTES [ROW...]]", _call("ablate", convert=_first_float(None))),
    "recipes": Benchmark("[MINUTES [ROW...]]", _call("recipes", convert=_first_float(None))),
    "tune": Benchmark("RUN", _call("tune")),
    "ensemble": Benchmark("RUN RUN...", _call("ensemble")),
    "select": Benchmark("RUN", _call("select")),
    "general": Benchmark("screen|budget|converge|splits|pairs ...", _call("general")),
    "peers": Benchmark("CHECKPOINT [quick] | train [MINUTES [general]]",
                       _call("peers", convert=lambda rest: rest[:3])),
}
USAGE = "usage: python -m bench {" + " | ".join(
    f"{name} {b.args}".strip() for name, b in BENCHMARKS.items()) + " | all [CHECKPOINT]}"


def main(argv: list[str]) -> None:
    if not argv or (argv[0] not in BENCHMARKS and argv[0] != "all"):
        raise SystemExit(USAGE)
    what, rest = argv[0], argv[1:]
    if what != "all":
        BENCHMARKS[what].run(rest)
        return
    for benchmark in BENCHMARKS.values():
        if benchmark.in_all:
            benchmark.run([])
    if rest:  # all CHECKPOINT: its decoding too
        BENCHMARKS["decode"].run(rest[:2])


if __name__ == "__main__":
    main(sys.argv[1:])
