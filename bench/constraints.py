"""Constrained decoding, measured: `python -m bench constraints RUN...`.

1. Constraints from the reference, as Post & Vilar measure: for each test2016 sentence, 0 to 3 phrases
   of 1 to 3 consecutive words of its reference (seeded per sentence: the count, then for each phrase a
   length and a start that overlaps no phrase chosen before; words stripped of the punctuation around
   them). BLEU and constraint satisfaction (the share of phrases found in the output, as whole words)
   against unconstrained beam 5, and sentences/s of both.
2. The cost when only 10% of the sentences carry constraints: the 90% without decoded alone, the 10%
   alone, and all of them together.
3. Batch invariance: constrained output at batch 1 against 64 (fp32), and int8 at 1 against 64.
4. Spans kept (bench/data/spans.tsv: 114 sentences with numbers, times, dates, URLs and e-mail addresses,
   96 written in the Multi30k style with references, 18 from Multi30k's test and val sets): the share of
   the source's spans (spans.py) found verbatim in the output, and BLEU, with and without keep_spans.
5. --no-repeat-ngram at 0, 3 and 4 on test2016: BLEU.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

from bench.common import DATA, report, require_data
from nmt.evaluate import corpus_bleu
from nmt.fileio import read_lines
from nmt.text.spans import spans
from nmt.translate import Translator

SPANS = Path(__file__).resolve().parent / "data" / "spans.tsv"
PUNCTUATION = ".,;:!?\"'()"


def reference_phrases(reference: str, seed: int) -> list[str]:
    """0 to 3 phrases of 1 to 3 consecutive words of `reference` (see the module's docstring)."""
    rng = random.Random(seed)
    words = [w.strip(PUNCTUATION) for w in reference.split()]
    taken: set[int] = set()
    phrases = []
    for _ in range(rng.randint(0, 3)):
        size = rng.randint(1, 3)
        starts = [s for s in range(len(words) - size + 1)
                  if not taken & set(range(s, s + size)) and all(words[s : s + size])]
        if not starts:
            break
        start = rng.choice(starts)
        taken |= set(range(start, start + size))
        phrases.append(" ".join(words[start : start + size]))
    return phrases


def holds(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


def _timed(translator: Translator, lines: list[str], **options) -> tuple[list[str], float]:
    """Translations and seconds; spans are kept only where asked (they would constrain some lines)."""
    start = time.perf_counter()
    out = [t.text for t in translator.translate(lines, **{"keep_spans": False, **options})]
    return out, time.perf_counter() - start


def main(*runs: str) -> None:
    require_data()
    src, ref = list(read_lines(DATA / "test2016.de")), list(read_lines(DATA / "test2016.en"))
    phrases = [reference_phrases(r, seed=i) for i, r in enumerate(ref)]
    some = [p if i % 10 == 0 else [] for i, p in enumerate(phrases)]  # 10% of the sentences
    span_src, span_ref = zip(*(line.split("\t") for line in SPANS.read_text(encoding="utf-8").splitlines()),
                             strict=True)
    rows = []
    for run in runs:
        translator = Translator.load(run, device="cpu")
        plain, plain_s = _timed(translator, src, beam=5)
        forced, forced_s = _timed(translator, src, beam=5, constraints=phrases)
        wanted = sum(len(p) for p in phrases)
        met = sum(holds(out, p) for out, ps in zip(forced, phrases, strict=True) for p in ps)
        met_plain = sum(holds(out, p) for out, ps in zip(plain, phrases, strict=True) for p in ps)
        row = {"model": run, "sentences": len(src), "constraints": wanted}
        rows.append({**row, "what": "unconstrained beam 5", "bleu": corpus_bleu(plain, ref),
                     "satisfied": met_plain / wanted, "sent_per_s": len(src) / plain_s})
        rows.append({**row, "what": "constraints from the reference", "bleu": corpus_bleu(forced, ref),
                     "satisfied": met / wanted, "sent_per_s": len(src) / forced_s})

        rest = [s for s, p in zip(src, some, strict=True) if not p]
        tenth = [(s, p) for s, p in zip(src, some, strict=True) if p]
        _, rest_s = _timed(translator, rest, beam=5)
        _, tenth_s = _timed(translator, [s for s, _ in tenth], beam=5, constraints=[p for _, p in tenth])
        _, mixed_s = _timed(translator, src, beam=5, constraints=some)
        rows.append({**row, "what": "10% constrained: the 90% alone / the 10% alone / all together",
                     "seconds": f"{rest_s:.2f} / {tenth_s:.2f} / {mixed_s:.2f}"})

        one, _ = _timed(translator, src, beam=5, constraints=phrases, max_sentences=1)
        int8 = Translator.load(run, device="cpu", quantize="int8")
        int8_one, _ = _timed(int8, src, beam=5, constraints=phrases, max_sentences=1)
        int8_many, _ = _timed(int8, src, beam=5, constraints=phrases)
        rows.append({**row, "what": "constrained, lines differing at batch 1 vs 64: fp32 / int8",
                     "differ": f"{sum(a != b for a, b in zip(one, forced, strict=True))} / "
                               f"{sum(a != b for a, b in zip(int8_one, int8_many, strict=True))}"})

        found = [spans(s) for s in span_src]
        for keep in (False, True):
            out, seconds = _timed(translator, list(span_src), beam=5, keep_spans=keep)
            kept = sum(_verbatim(o, s) for o, ss in zip(out, found, strict=True) for s in ss)
            rows.append({"model": run, "what": f"spans set, keep_spans {'on' if keep else 'off'}",
                         "sentences": len(span_src), "constraints": sum(map(len, found)),
                         "satisfied": kept / sum(map(len, found)), "bleu": corpus_bleu(out, list(span_ref)),
                         "sent_per_s": len(span_src) / seconds})
        for n in (0, 3, 4):
            out, seconds = _timed(translator, src, beam=5, no_repeat_ngram=n)
            rows.append({"model": run, "what": f"no_repeat_ngram {n}", "sentences": len(src),
                         "bleu": corpus_bleu(out, ref), "sent_per_s": len(src) / seconds})
    report("constraints", rows, ["model", "what", "sentences", "constraints", "satisfied", "bleu",
                                 "sent_per_s", "seconds", "differ"])


def verbatim(span: str) -> re.Pattern:
    """`span` as it is, not inside a longer number or word."""
    return re.compile(rf"(?<![\w.]){re.escape(span)}(?!\w|[.,:/-]\d)")


def _verbatim(text: str, span: str) -> bool:
    return verbatim(span).search(text) is not None
