"""Decoding speed, memory and BLEU on test2016 for one checkpoint, in fp32 and with each faster option.

Speed: sentences/s and target tokens/s for greedy and beam 5, at batch 1 and the default batching
(128 sentences), with the model load excluded (timed in-process) and included (the whole
`nmt translate` command, with its peak RSS). Quality: sacreBLEU of every configuration.
`python -m bench decode CHECKPOINT quick`: batch 128, greedy and beam 5, load excluded, only.
A shortlist is built into the run folder first when it has none (`nmt shortlist`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.common import DATA, report, require_data, run_command
from nmt import shortlist
from nmt.config import DecodeConfig
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
from nmt.translate import Translator

# nmt's decoding options: Translator.load arguments, and the same as `nmt translate` flags
OPTIONS = {
    "fp32": ({}, []),
    "bf16": ({"dtype": "bf16"}, ["--dtype", "bf16"]),
    "shortlist": ({"shortlist": True}, ["--shortlist"]),
    "bf16+shortlist": ({"dtype": "bf16", "shortlist": True}, ["--dtype", "bf16", "--shortlist"]),
    "int8": ({"quantize": "int8"}, ["--quantize", "int8"]),
    "int8+shortlist": ({"quantize": "int8", "shortlist": True}, ["--quantize", "int8", "--shortlist"]),
}


def ensure_shortlist(model: str) -> None:
    folder = Path(model) if Path(model).is_dir() else Path(model).parent
    if not (folder / shortlist.FILE).is_file():
        subprocess.run([sys.executable, "-m", "nmt", "shortlist", "--model", model], check=True)


def main(model: str, mode: str = "full", split: str = "test2016") -> None:
    require_data()
    ensure_shortlist(model)
    quick = mode == "quick"
    src = list(read_lines(DATA / f"{split}.de"))
    refs = list(read_lines(DATA / f"{split}.en"))
    rows = []
    for name, (load, _) in OPTIONS.items():
        translator = Translator.load([model], device="cpu", **load)
        for beam, batch in ((1, 1), (1, 128), (5, 1), (5, 128), (10, 128)):
            if (name != "fp32" and beam == 10) or (quick and (batch == 1 or beam == 10)):
                continue
            cfg = DecodeConfig(beam=beam, max_sentences=batch)
            start = time.perf_counter()
            out = [nbest[0] for nbest in translator.translate_stream(src, cfg)]
            seconds = time.perf_counter() - start
            hyps = [text for text, _ in out]
            tokens = sum(len(h.tokens) + 1 for _, h in out)
            rows.append({"weights": name, "search": _search(beam), "batch": batch, "load": "excluded",
                         "sent_per_s": len(src) / seconds, "tok_per_s": tokens / seconds,
                         "bleu": corpus_bleu(hyps, refs)})
    translate = [sys.executable, "-m", "nmt", "translate", "--model", model, "--device", "cpu"]
    for name, (_, flags) in () if quick else OPTIONS.items():
        for beam in (1, 5):
            seconds, peak = run_command([*translate, "--beam", str(beam), "--input",
                                         str(DATA / f"{split}.de"), "--output", "/dev/null", *flags])
            rows.append({"weights": name, "search": _search(beam), "batch": 128, "load": "included",
                         "sent_per_s": len(src) / seconds, "peak_rss_mb": peak})
    if not quick:
        seconds, peak = run_command([*translate, "--input", "/dev/null"])
        rows.append({"weights": "fp32", "search": "start-up only", "load": "included", "seconds": seconds,
                     "peak_rss_mb": peak})
    report("decode", [{"model": model, "split": split, **r} for r in rows],
           ["weights", "search", "batch", "load", "sent_per_s", "tok_per_s", "bleu", "seconds",
            "peak_rss_mb"])


def _search(beam: int) -> str:
    return "greedy" if beam == 1 else f"beam {beam}"


if __name__ == "__main__":
    main(*sys.argv[1:])
