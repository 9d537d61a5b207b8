"""Scores with sacreBLEU, signatures included, so numbers can be compared across papers and tools."""

from __future__ import annotations

from pathlib import Path

from sacrebleu.metrics import BLEU, CHRF, TER

from nmt import NMTError
from nmt.fileio import read_lines

METRICS = {"bleu": BLEU, "chrf": CHRF, "ter": TER}


def parse_metrics(text: str) -> list[str]:
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise NMTError(f"unknown metric {', '.join(unknown) or text!r}; choose from {', '.join(METRICS)}")
    return names


def score(hyps: list[str], refs: list[list[str]], metrics: list[str]) -> list[dict]:
    """refs: one list per reference set, each as long as hyps. Returns name, score, signature, text."""
    for k, ref in enumerate(refs):
        if len(ref) != len(hyps):
            raise NMTError(f"reference set {k + 1} has {len(ref)} lines but there are {len(hyps)} "
                           "hypotheses; they must align line by line")
    results = []
    for name in metrics:
        metric = METRICS[name]()
        result = metric.corpus_score(hyps, refs)
        results.append({"metric": name, "score": round(result.score, 4),
                        "signature": str(metric.get_signature()), "text": str(result)})
    return results


def score_files(hyps: list[str] | Path, refs: list[Path], metrics: list[str],
                hyp_name: str = "") -> list[dict]:
    """Score hypotheses (a file, or lines read from `hyp_name`) against reference files."""
    if isinstance(hyps, Path):
        hyps, hyp_name = list(read_lines(hyps)), str(hyps)
    ref_sets = []
    for ref in refs:
        lines = list(read_lines(ref))
        if len(lines) != len(hyps):
            raise NMTError(f"{hyp_name} has {len(hyps)} lines but {ref} has {len(lines)}; "
                           "they must align line by line")
        ref_sets.append(lines)
    return score(hyps, ref_sets, metrics)


def corpus_bleu(hyps: list[str], refs: list[str]) -> float:
    return BLEU().corpus_score(hyps, [refs]).score


# source lengths in words, the buckets `--by-length` scores apart (Multi30k's sentences are mostly 6-20
# words; joined sentences and real documents reach the last ones)
BUCKETS = ((1, 10), (11, 20), (21, 30), (31, 50), (51, None))


def by_length(hyps: list[str], refs: list[list[str]], sources: list[str], metrics: list[str]) -> list[dict]:
    """Each source-length bucket's scores: {"bucket": "11-20", "words": [11, 20], "sentences": n, and
    each metric's score}, empty buckets left out. Worked example: sources of 5, 12 and 14 words give
    bucket 1-10 with 1 sentence and 11-20 with 2, each scored as a corpus of its own."""
    if len(sources) != len(hyps):
        raise NMTError(f"the source has {len(sources)} lines but there are {len(hyps)} hypotheses; "
                       "they must align line by line")
    lengths = [len(s.split()) for s in sources]
    out = []
    for low, high in BUCKETS:
        rows = [i for i, n in enumerate(lengths) if n >= low and (high is None or n <= high)]
        if not rows:
            continue
        scores = score([hyps[i] for i in rows], [[ref[i] for i in rows] for ref in refs], metrics)
        out.append({"bucket": f"{low}-{high}" if high else f"{low}+", "words": [low, high],
                    "sentences": len(rows), **{s["metric"]: s["score"] for s in scores}})
    return out
