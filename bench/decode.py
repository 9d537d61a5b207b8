"""Decoding speed, memory and BLEU on test2016 for one checkpoint, fp32 and int8.

Speed: sentences/s and target tokens/s for greedy and beam 5, at batch 1 and the default batching
(128 sentences), with the model load excluded (timed in-process) and included (the whole
`nmt translate` command, with its peak RSS). Quality: sacreBLEU of every configuration.
`python -m bench decode CHECKPOINT quick`: batch 128, greedy and beam 5, load excluded, only.
"""

from __future__ import annotations

import sys
import time

from bench.common import DATA, report, require_data, run_command
from nmt.config import DecodeConfig
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
from nmt.translate import Translator


def main(model: str, mode: str = "full", split: str = "test2016") -> None:
    require_data()
    quick = mode == "quick"
    src = list(read_lines(DATA / f"{split}.de"))
    refs = list(read_lines(DATA / f"{split}.en"))
    rows = []
    for weights in ("fp32", "int8"):
        translator = Translator.load([model], quantize="int8" if weights == "int8" else None)
        for beam, batch in ((1, 1), (1, 128), (5, 1), (5, 128), (10, 128)):
            if (weights == "int8" and beam == 10) or (quick and (batch == 1 or beam == 10)):
                continue
            cfg = DecodeConfig(beam=beam, max_sentences=batch)
            start = time.perf_counter()
            out = [nbest[0] for nbest in translator.translate_stream(src, cfg)]
            seconds = time.perf_counter() - start
            hyps = [text for text, _ in out]
            tokens = sum(len(h.tokens) + 1 for _, h in out)
            rows.append({"weights": weights, "search": _search(beam), "batch": batch, "load": "excluded",
                         "sent_per_s": len(src) / seconds, "tok_per_s": tokens / seconds,
                         "bleu": corpus_bleu(hyps, refs)})
    translate = [sys.executable, "-m", "nmt", "translate", "--model", model]
    for weights in () if quick else ("fp32", "int8"):
        for beam in (1, 5):
            seconds, peak = run_command([*translate, "--beam", str(beam), "--input",
                                         str(DATA / f"{split}.de"), "--output", "/dev/null"]
                                        + (["--quantize", "int8"] if weights == "int8" else []))
            rows.append({"weights": weights, "search": _search(beam), "batch": 128, "load": "included",
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
