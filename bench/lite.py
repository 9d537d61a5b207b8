"""The decoder without PyTorch against the torch decoder: `python -m bench lite RUN...`.

For each run: export it (fp32 and int8 graphs) into bench/work/, then on test2016
- greedy and beam 5 output of nmt.lite against nmt.Translator (fp32; spans not kept, so that both run
  the plain search on every sentence): lines that differ, BLEU of both; and the lines where each int8
  decoder's translation changes between batch 64 and batch 128;
- sentences/s at batches of 64 and 128, greedy and beam 5: lite fp32 and int8, torch fp32 and int8,
  one after the other, ROUNDS times; the median of each;
- start-up to the first output line of the whole command, one input line: `nmt-lite translate` and
  `nmt translate` (median of 3);
and once: the disk size of the installed distributions each install needs (the base install's
dependency closure against the full extra's), from the installed files' sizes.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from bench.common import DATA, WORK, report, require_data
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
from nmt.lite import Translator as Lite
from nmt.translate import Translator

BIN = Path(sys.executable).parent
# speeds are the median of this many rounds, each engine once a round: one round's ratios moved by up to
# 30% between two runs on this machine (torch fp32 beam 5, batch 128: 228 and 186 sentences/s)
ROUNDS = 3


def _closure(requirements: list[str]) -> set[str]:
    """The installed distributions these requirement strings pull in, recursively (markers ignored,
    extras of nmt itself followed)."""
    seen: set[str] = set()
    todo = list(requirements)
    while todo:
        name = re.split(r"[\s\[<>=!~;]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if not name or name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [r for r in dist.requires or [] if "extra ==" not in r]
    return seen


def _size_mb(names: set[str]) -> float:
    total = 0
    for name in names:
        for file in metadata.distribution(name).files or []:
            path = Path(file.locate())
            if path.is_file():
                total += path.stat().st_size
    return total / 2**20


def _requires(extra: str | None) -> list[str]:
    reqs = metadata.distribution("nmt").requires or []
    base = [r for r in reqs if "extra ==" not in r]
    return base if extra is None else base + [r.split(";")[0] for r in reqs if f'extra == "{extra}"' in r]


def _startup(command: list[str]) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run(command, input="Ein Hund läuft.\n", capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(*runs: str) -> None:
    require_data()
    from nmt.export import export
    src, ref = list(read_lines(DATA / "test2016.de")), list(read_lines(DATA / "test2016.en"))
    rows = []
    lite_size, full_size = _size_mb(_closure(_requires(None))), _size_mb(_closure(_requires("full")))
    rows.append({"what": "installed size, MB: base install (nmt.lite) / full", "value": f"{lite_size:.0f} / "
                 f"{full_size:.0f}"})
    for run in runs:
        folder = WORK / "lite" / Path(run).name
        export(run, folder, int8=True)
        engines = {"torch fp32": Translator.load(run, device="cpu"),
                   "torch int8": Translator.load(run, device="cpu", quantize="int8"),
                   "lite fp32": Lite.load(folder), "lite int8": Lite.load(folder, int8=True)}
        outputs = {}
        for beam in (1, 5):
            for batch in (64, 128):
                rates = {name: [] for name in engines}
                for _ in range(ROUNDS):  # the engines in turn, ROUNDS times: this CPU's speed drifts
                    for name, engine in engines.items():
                        start = time.perf_counter()
                        # numbers kept as constraints would decode some sentences apart: plain search on both
                        out = [t.text for t in engine.translate(src, beam=beam, max_sentences=batch,
                                                                keep_spans=False)]
                        rates[name].append(len(src) / (time.perf_counter() - start))
                        outputs[name, beam, batch] = out
                for name in engines:
                    rows.append({"model": run, "what": f"{name}, beam {beam}, batch {batch}",
                                 "sent_per_s": statistics.median(rates[name]),
                                 "bleu": corpus_bleu(outputs[name, beam, batch], ref)})
        for beam in (1, 5):
            lite, torch_out = outputs["lite fp32", beam, 128], outputs["torch fp32", beam, 128]
            differ = sum(a != b for a, b in zip(lite, torch_out, strict=True))
            rows.append({"model": run, "what": f"lines where lite fp32 differs from torch fp32, beam {beam}",
                         "value": differ})
            for name in ("lite int8", "torch int8"):  # a translation that depends on its batch shows here
                differ = sum(a != b for a, b in zip(outputs[name, beam, 64], outputs[name, beam, 128],
                                                    strict=True))
                rows.append({"model": run, "what": f"lines where {name} differs between batch 64 and 128, "
                             f"beam {beam}", "value": differ})
        rows.append({"model": run, "what": "start-up to the first line: nmt-lite translate",
                     "seconds": _startup([str(BIN / "nmt-lite"), "translate", "--model", str(folder)])})
        rows.append({"model": run, "what": "start-up to the first line: nmt translate",
                     "seconds": _startup([str(BIN / "nmt"), "translate", "--model", run])})
    report("lite", rows, ["model", "what", "sent_per_s", "bleu", "seconds", "value"])
