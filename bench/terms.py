"""Placeholders and term annotations, measured: `python -m bench terms RUN BASELINE [RUN...] [PART...]`
(PART: tests, spans, glossary; all three by default).

RUN is a model trained with data.placeholders and data.term_share (configs/general-de-en.yaml with those
set), BASELINE the same recipe, budget and seed without them. Every decode is beam 5, in this process, on
the CPU; sentences/s is each row's set decoded once, alone.

1. Spans (spans.py) kept: bench/data/spans.tsv (114 sentences with numbers, times, dates, URLs, e-mail
   addresses), the Tatoeba test's sentences with a span and newstest2014's (30 words at most, first 150),
   each span found verbatim in the reference. Ways: RUN with placeholders, RUN and BASELINE with the spans
   as constraints, and both without keeping spans. Spans kept (share of the sources' spans found verbatim
   in the output), BLEU, chrF; and BLEU on the same sentences with their spans removed from source and
   reference (the target: placeholders cost at most 1.0 BLEU against that).
2. Glossary terms, one per sentence, on 300 sentences each of the Tatoeba test and test2016: "reference"
   terms (Dinu et al.): a source word and the reference word the training data's lexicon (lexicon.py)
   links it with; "unseen" terms: the same source words with a synonym of that reference word which the
   lexicon does not link them with (SYNONYMS), scored against the reference with the word swapped. Modes
   none, constrain, annotate, both: term use (the term in the output as a whole word, any case), BLEU,
   chrF, sentences/s (sentences sharing a glossary entry decoded together, in every mode).
3. test2016 and the Tatoeba test without a glossary: BLEU and chrF of RUN and BASELINE.
Results: bench/results/terms_spans.jsonl, terms_glossary.jsonl, terms_tests.jsonl.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

from bench.common import ROOT, report
from bench.constraints import SPANS, _timed, _verbatim, verbatim
from bench.general import tests
from nmt.evaluate import score
from nmt.fileio import read_lines
from nmt.lexicon import Lexicon
from nmt.text.spans import spans
from nmt.translate import Translator

DATA = ROOT / "data"
TERM_SENTENCES = 300
NEWS_SPAN_SENTENCES = 150
SYNONYMS = {
    "dog": "hound", "dogs": "hounds", "car": "automobile", "cars": "automobiles", "house": "home",
    "child": "kid", "children": "kids", "man": "guy", "men": "guys", "woman": "lady", "women": "ladies",
    "big": "large", "large": "big", "small": "little", "little": "small", "fast": "quick",
    "street": "road", "road": "street", "begin": "start", "start": "begin", "buy": "purchase",
    "help": "assist", "happy": "glad", "beautiful": "pretty", "pretty": "beautiful",
    "job": "occupation", "picture": "photo", "photo": "picture", "shop": "store", "store": "shop",
    "film": "movie", "movie": "film", "girl": "lass", "boy": "lad", "friend": "pal", "friends": "pals",
    "answer": "reply", "shirt": "top", "talk": "speak", "speak": "talk", "walking": "strolling",
    "running": "sprinting", "cold": "chilly", "mistake": "error", "sick": "ill", "ill": "sick",
    "trip": "journey", "city": "town", "town": "city", "people": "folks", "doctor": "physician",
    "test": "exam", "quiet": "silent", "angry": "mad", "clever": "smart", "smart": "clever",
    "water": "liquid", "jacket": "coat", "coat": "jacket", "hat": "cap", "stairs": "steps",
    "rock": "stone", "stone": "rock", "ocean": "sea", "sea": "ocean", "bike": "bicycle",
    "bicycle": "bike", "crowd": "throng", "building": "edifice", "shouting": "yelling",
    "looking": "gazing", "sitting": "seated"
}


def _lines(src: Path, ref: Path) -> tuple[list[str], list[str]]:
    return list(read_lines(src)), list(read_lines(ref))


def span_sets() -> dict[str, tuple[list[str], list[str]]]:
    rows = [line.split("\t") for line in read_lines(SPANS)]
    sets = {"spans.tsv": ([s for s, _ in rows], [r for _, r in rows])}
    for name, (src, ref), cap in (("tatoeba", tests("de", "en")["tatoeba"], None),
                                  ("newstest2014", tests("de", "en")["newstest2014"], NEWS_SPAN_SENTENCES)):
        pairs = [(s, r) for s, r in zip(*_lines(src, ref), strict=True)
                 if spans(s) and len(s.split()) <= 30 and all(_verbatim(r, x) for x in spans(s))]
        sets[name] = tuple(map(list, zip(*pairs[:cap], strict=True)))
    return sets


def without_spans(text: str) -> str:
    for span in sorted(set(spans(text)), key=len, reverse=True):
        text = verbatim(span).sub("", text)
    return re.sub(r"\s+", " ", text).strip()


def _decode(model: Translator, lines: list[str], **options) -> tuple[list[str], float]:
    """Translations (beam 5, spans kept unless `options` say not) and sentences/s."""
    out, seconds = _timed(model, lines, beam=5, **{"keep_spans": True, **options})
    return out, len(lines) / seconds


def _scores(hyps: list[str], refs: list[str]) -> dict:
    return {r["metric"]: round(r["score"], 2) for r in score(hyps, [refs], ["bleu", "chrf"])}


def bench_spans(models: dict[str, Translator]) -> None:
    rows = []
    for set_name, (src, ref) in span_sets().items():
        bare_src, bare_ref = [without_spans(s) for s in src], [without_spans(r) for r in ref]
        for label, model in models.items():
            ways = {"constraints": {}, "not kept": {"keep_spans": False}}
            if model.placeholders:
                ways = {"placeholders": {}, **ways}
            for way, options in ways.items():
                placeholders = model.placeholders
                model.placeholders = way == "placeholders"  # the constraints way, on a model that has both
                before = model.counts.unplaced
                out, speed = _decode(model, src, **options)
                bare, _ = _decode(model, bare_src, **options)
                model.placeholders = placeholders
                wanted = [(o, x) for o, s in zip(out, src, strict=True) for x in spans(s)]
                rows.append({"set": set_name, "sentences": len(src), "model": label, "spans": way,
                             "kept_pct": 100 * sum(_verbatim(o, x) for o, x in wanted) / max(1, len(wanted)),
                             **_scores(out, ref), "bleu_spans_removed": _scores(bare, bare_ref)["bleu"],
                             "fallbacks": model.counts.unplaced - before, "sent_per_s": speed})
    report("terms_spans", rows, ["set", "sentences", "model", "spans", "kept_pct", "bleu", "chrf",
                                 "bleu_spans_removed", "fallbacks", "sent_per_s"])


def term_sets(lexicon: Lexicon) -> dict[str, tuple[list[str], list[str], list[list[tuple[str, str]]]]]:
    """name -> (sources, references, glossary per sentence), for reference and unseen terms."""
    out = {}
    for test in ("tatoeba", "test2016"):
        src, ref = _lines(*tests("de", "en")[test])
        chosen = {"reference": ([], [], []), "unseen": ([], [], [])}
        for k, (s, r) in enumerate(zip(src, ref, strict=True)):
            links = [(s[a:b], r[c:d], c, d) for a, b, c, d in lexicon.aligned(s, r)]
            if links and len(chosen["reference"][0]) < TERM_SENTENCES:
                source, target, _, _ = random.Random(k).choice(links)
                for part, value in zip(chosen["reference"], (s, r, [(source, target)]), strict=True):
                    part.append(value)
            swaps = [(a, b, c, d) for a, b, c, d in links if b.lower() in SYNONYMS
                     and SYNONYMS[b.lower()] not in lexicon.links.get(a.lower(), ())]
            if swaps and len(chosen["unseen"][0]) < TERM_SENTENCES:
                source, target, c, d = random.Random(k).choice(swaps)
                other = SYNONYMS[target.lower()]
                other = other.capitalize() if target[:1].isupper() else other
                swapped = r[:c] + other + r[d:]
                for part, value in zip(chosen["unseen"], (s, swapped, [(source, other)]), strict=True):
                    part.append(value)
        for kind, value in chosen.items():
            out[f"{test} {kind}"] = value
    return out


def _used(text: str, term: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text, re.IGNORECASE) is not None


def bench_glossary(models: dict[str, Translator], lexicon: Lexicon) -> None:
    rows = []
    for set_name, (src, ref, glossaries) in term_sets(lexicon).items():
        for label, model in models.items():
            modes = ["none", "constrain", *(["annotate", "both"] if model.annotates else [])]
            for mode in modes:
                start = time.perf_counter()
                out = _per_sentence_glossary(model, src, glossaries, mode)
                speed = len(src) / (time.perf_counter() - start)
                use = sum(_used(o, g[0][1]) for o, g in zip(out, glossaries, strict=True)) / len(src)
                rows.append({"set": set_name, "sentences": len(src), "model": label, "mode": mode,
                             "term_use_pct": 100 * use, **_scores(out, ref), "sent_per_s": speed})
    report("terms_glossary", rows, ["set", "sentences", "model", "mode", "term_use_pct", "bleu", "chrf",
                                    "sent_per_s"])


def _per_sentence_glossary(model: Translator, src: list[str], glossaries: list, mode: str) -> list[str]:
    """Each sentence with its own one-term glossary: sentences are grouped by glossary entry, each group one
    call (a glossary applies to every sentence of a call); "none" makes the same calls without one, so
    that sentences/s compare."""
    groups: dict[tuple, list[int]] = {}
    for i, glossary in enumerate(glossaries):
        groups.setdefault(tuple(glossary), []).append(i)
    out = [""] * len(src)
    for glossary, rows in groups.items():
        options = {} if mode == "none" else {"glossary": list(glossary), "glossary_mode": mode}
        for i, t in zip(rows, model.translate([src[i] for i in rows], beam=5, **options), strict=True):
            out[i] = t.text
    return out


def bench_tests(models: dict[str, Translator]) -> None:
    rows = []
    for name in ("test2016", "tatoeba"):
        src, ref = _lines(*tests("de", "en")[name])
        for label, model in models.items():
            out, speed = _decode(model, src)
            rows.append({"set": name, "model": label, **_scores(out, ref), "sent_per_s": speed})
    report("terms_tests", rows, ["set", "model", "bleu", "chrf", "sent_per_s"])


def main(run: str, baseline: str, *rest: str) -> None:
    """RUN BASELINE [MORE_RUNS...] [tests|spans|glossary...]: the runs (folders) are named by their folders
    in the tables."""
    parts = tuple(r for r in rest if r in ("tests", "spans", "glossary"))
    models = {Path(run).name: Translator.load(run, device="cpu"),
              **{Path(r).name: Translator.load(r, device="cpu") for r in rest if r not in parts},
              "baseline": Translator.load(baseline, device="cpu")}
    parts = parts or ("tests", "spans", "glossary")
    if "tests" in parts:
        bench_tests(models)
    if "spans" in parts:
        bench_spans(models)
    if "glossary" in parts:
        corpora = [(DATA / "tatoeba-de-en" / "train.de", DATA / "tatoeba-de-en" / "train.en"),
                   (DATA / "multi30k" / "train.de", DATA / "multi30k" / "train.en")]
        lexicon = Lexicon.build(pair for s, t in corpora
                                for pair in zip(read_lines(s), read_lines(t), strict=True))
        bench_glossary(models, lexicon)
