"""Paragraphs in, paragraphs out: BLEU of test2016 made into paragraphs, translated with and without sentence
splitting, beside the sentence-level input.

Consecutive test2016 sentences are joined in groups of 2 to 5 (seeded), with a space, and their references
joined the same way; the 1,000 sentences make about 290 paragraphs. Scores are sacreBLEU over the
paragraphs; the sentence-level row is the same sentences one per line, its output joined into the same
paragraphs, so that the three rows score the same text. `python -m bench paragraphs RUN...`.
"""

from __future__ import annotations

import random
import time

from bench.common import DATA, report, require_data
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
from nmt.translate import Translator


def paragraphs(n: int, seed: int = 1) -> list[range]:
    """Consecutive groups of 2 to 5 of n sentences."""
    rng, groups, start = random.Random(seed), [], 0
    while start < n:
        size = rng.randint(2, 5)
        groups.append(range(start, min(n, start + size)))
        start += size
    return groups


def main(*runs: str) -> None:
    require_data()
    src, ref = list(read_lines(DATA / "test2016.de")), list(read_lines(DATA / "test2016.en"))
    groups = paragraphs(len(src))
    joined_src = [" ".join(src[i] for i in g) for g in groups]
    joined_ref = [" ".join(ref[i] for i in g) for g in groups]
    rows = []
    for run in runs:
        translator = Translator.load(run, device="cpu")
        inputs = (("sentences, one per line", src, True), ("paragraphs, split", joined_src, True),
                  ("paragraphs, not split", joined_src, False))
        for name, lines, split in inputs:
            start = time.perf_counter()
            out = [t.text for t in translator.translate(lines, beam=5, split_sentences=split)]
            seconds = time.perf_counter() - start
            hyps = out if lines is joined_src else [" ".join(out[i] for i in g) for g in groups]
            rows.append({"model": run, "input": name, "texts": len(lines), "seconds": seconds,
                         "bleu": corpus_bleu(hyps, joined_ref)})
    report("paragraphs", rows, ["model", "input", "texts", "seconds", "bleu"])

