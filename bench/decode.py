"""Decoding speed and BLEU on test2016 for one checkpoint.

Speed: sentences/s and target tokens/s for greedy and beam 5, at batch 1, 64 and the default (128),
with the model load excluded (timed in-process) and included (the whole `nmt translate` command).
Quality: sacreBLEU greedy vs beam 5 vs beam 10 for the same checkpoint.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.common import DATA, ROOT, report, require_data
from nmt.config import DecodeConfig
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
from nmt.translate import Translator


def main(model: str, split: str = "test2016") -> None:
    require_data()
    src = list(read_lines(DATA / f"{split}.de"))
    refs = list(read_lines(DATA / f"{split}.en"))
    translator = Translator.load([model])
    rows = []
    for beam in (1, 5, 10):
        for batch in ((1, 64, 128) if beam in (1, 5) else (128,)):
            cfg = DecodeConfig(beam=beam, max_sentences=batch)
            start = time.perf_counter()
            out = [nbest[0] for nbest in translator.translate(src, cfg)]
            seconds = time.perf_counter() - start
            hyps = [text for text, _ in out]
            tokens = sum(len(h.tokens) + 1 for _, h in out)
            rows.append({"search": "greedy" if beam == 1 else f"beam {beam}", "batch": batch, "load": "excluded",
                         "sent_per_s": len(src) / seconds, "tok_per_s": tokens / seconds,
                         "bleu": corpus_bleu(hyps, refs)})
    for beam in (1, 5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nmt", "translate", "--model", model, "--beam", str(beam),
                        "--input", str(DATA / f"{split}.de"), "--output", "/dev/null"], check=True, cwd=ROOT)
        seconds = time.perf_counter() - start
        rows.append({"search": "greedy" if beam == 1 else f"beam {beam}", "batch": 128, "load": "included",
                     "sent_per_s": len(src) / seconds})
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nmt", "translate", "--model", model, "--input", "/dev/null"],
                   check=True, cwd=ROOT)
    rows.append({"search": "start-up only", "load": "included", "seconds": time.perf_counter() - start})
    report("decode", [{"model": model, "split": split, **r} for r in rows],
           ["search", "batch", "load", "sent_per_s", "tok_per_s", "bleu", "seconds"])


if __name__ == "__main__":
    main(*sys.argv[1:])
