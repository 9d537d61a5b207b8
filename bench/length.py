"""BLEU by source length: `python -m bench length LABEL=RUN ...` draws bench/results/by-length.png.

The inputs are test2016's 1,000 sentences plus the same sentences joined into paragraphs of 2 to 5
consecutive sentences (bench/paragraphs.py's grouping), translated whole, without sentence splitting:
the long inputs where an encoder that must carry the whole source in its final state falls apart
(Sutskever et al. 2014, Bahdanau et al. 2015). Each model's output is scored per source-length bucket
(nmt/evaluate.py's BUCKETS), beam 5.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import DATA, RESULTS, report, require_data
from bench.paragraphs import paragraphs
from nmt.evaluate import by_length
from nmt.fileio import read_lines
from nmt.plot import by_length as draw
from nmt.translate import Translator


def main(*runs: str) -> None:
    require_data()
    src, ref = list(read_lines(DATA / "test2016.de")), list(read_lines(DATA / "test2016.en"))
    groups = paragraphs(len(src))
    sources = src + [" ".join(src[i] for i in g) for g in groups]
    refs = ref + [" ".join(ref[i] for i in g) for g in groups]
    tables, rows = {}, []
    for item in runs:
        label, _, run = item.rpartition("=") if "=" in item else (Path(item).name, "", item)
        translator = Translator.load(run, device="cpu")
        hyps = [t.text for t in translator.translate(sources, beam=5, split_sentences=False,
                                                     keep_spans=False)]
        tables[label] = by_length(hyps, [refs], sources, ["bleu", "chrf"])
        rows += [{"model": label, "run": run, **row} for row in tables[label]]
    out = RESULTS / "by-length.png"
    draw(tables, out, title="BLEU by source length: test2016 and its sentences joined 2-5 at a time")
    report("by_length", rows, ["model", "bucket", "sentences", "bleu", "chrf"])
    print(f"\n{out}")
