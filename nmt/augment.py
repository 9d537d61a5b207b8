"""Training pairs rewritten so a model learns to carry spans and to follow term annotations:

1. placeholders: a span (number, URL, e-mail address; text/spans.py) found on both sides of a pair
   becomes the same placeholder on both (text/placeholders.py numbers them in source order);
2. span augmentation: in a share of the pairs a word pair the lexicon links (lexicon.py) is replaced on
   both sides by a made-up span of a random kind, so URLs and e-mail addresses, rare in everyday
   corpora, are seen at all, and in every position;
3. term annotation: in a share of the pairs, one or two linked source words are followed by the target
   word that translates them in that pair, between the term markers (text/annotate.py), as Dinu et al.
   (2019) do with a terminology; with term_swap, that share of those words gets another target word
   instead, in the annotation and the target alike, so that the model learns to follow an annotation it
   would not have chosen (measured in docs/guide/training.md: it follows more such terms, at a cost).

Worked example (seeded; tests/test_augment.py): with Hund <-> dog linked,
    ("Um 8:15 Uhr bellt der Hund.", "At 8:15 the dog barks.")
    placeholders -> ("Um ⦅n1⦆ Uhr bellt der Hund.", "At ⦅n1⦆ the dog barks.")
    annotation   -> ("Um ⦅n1⦆ Uhr bellt der Hund ⦅t⦆ dog ⦅/t⦆.", "At ⦅n1⦆ the dog barks.")

`texts` writes each training corpus rewritten into the run folder (streamed, one line out per line in),
which tokenizer training and binarizing then read in place of the corpus.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from nmt.corpora import CorpusFiles
from nmt.fileio import atomic_write_text, read_lines
from nmt.lexicon import Lexicon
from nmt.text.annotate import annotate
from nmt.text.placeholders import numbered
from nmt.text.placeholders import replace as replace_spans
from nmt.text.spans import located

log = logging.getLogger(__name__)
VERSION = 2  # of the rewriting: a change makes runs write their texts again
MAX_TERMS = 2  # annotated words in one sentence at most
SPAN_KINDS = {"n": 0.5, "u": 0.3, "e": 0.2}  # the kinds of made-up spans, by share


@dataclass(frozen=True)
class Augmentation:
    placeholders: bool   # spans on both sides become placeholders (1 above)
    span_share: float    # share of pairs given a made-up span (2), with placeholders
    term_share: float    # share of pairs with annotated terms (3)
    seed: int
    term_swap: float = 0.0  # share of the annotated words given another target word (3)

    @property
    def active(self) -> bool:
        return self.placeholders or self.term_share > 0


def made_up_span(kind: str, rng: random.Random) -> str:
    """A span of `kind` as text (any will do: the model sees only its placeholder)."""
    word = rng.choice(["info", "shop", "team", "news", "hilfe", "park", "zug", "mail", "contact"])
    if kind == "u":
        return rng.choice([f"https://www.example{rng.randint(1, 99)}.com/{word}",
                           f"www.{word}{rng.randint(1, 99)}.org",
                           f"http://{word}.example.net/?id={rng.randint(1, 999)}"])
    if kind == "e":
        return f"{word}{rng.randint(1, 99)}@example.{rng.choice(['com', 'org', 'de', 'fr'])}"
    return rng.choice([str(rng.randint(0, 100)), str(rng.randint(100, 99999)),
                       f"{rng.randint(0, 23)}:{rng.randint(0, 59):02d}",
                       f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1950, 2030)}",
                       f"{rng.randint(1, 999)}.{rng.randint(0, 99)}"])


def _swap(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def rewrite(src: str, tgt: str, lexicon: Lexicon, aug: Augmentation, rng: random.Random) -> tuple[str, str]:
    """One training pair rewritten (see the module's docstring)."""
    if aug.placeholders:
        if aug.span_share and rng.random() < aug.span_share:
            links = lexicon.aligned(src, tgt)
            if links:
                s0, s1, t0, t1 = rng.choice(links)
                span = made_up_span(rng.choices(list(SPAN_KINDS), list(SPAN_KINDS.values()))[0], rng)
                src, tgt = _swap(src, s0, s1, span), _swap(tgt, t0, t1, span)
        src, tgt = _placeholders(src, tgt)
    if aug.term_share and rng.random() < aug.term_share:
        links = lexicon.aligned(src, tgt)
        if links:
            chosen = sorted(rng.sample(links, min(len(links), rng.randint(1, MAX_TERMS))))
            terms = [tgt[t0:t1] for _, _, t0, t1 in chosen]
            # the target's words swapped from its end, so the places of those before stay right
            for k in sorted(range(len(chosen)), key=lambda k: -chosen[k][2]):
                _, _, t0, t1 = chosen[k]
                if aug.term_swap and rng.random() < aug.term_swap and lexicon.targets:
                    other = rng.choice(lexicon.targets)
                    terms[k] = other.capitalize() if terms[k][:1].isupper() else other
                    tgt = _swap(tgt, t0, t1, terms[k])
            src = annotate(src, [(s0, s1, term) for (s0, s1, _, _), term in zip(chosen, terms, strict=True)])
    return src, tgt


def _placeholders(src: str, tgt: str) -> tuple[str, str]:
    """Spans found on both sides, as the same placeholders on both."""
    src_spans = located(src)
    if not src_spans:
        return src, tgt
    tgt_spans = located(tgt)
    shared = {(s.kind, s.text) for s in src_spans} & {(s.kind, s.text) for s in tgt_spans}
    if not shared:
        return src, tgt
    mine = [s for s in src_spans if (s.kind, s.text) in shared]
    table, _ = numbered(mine)
    name = {text: n for n, text in table.items()}
    src_names = [name.get(s.text) if (s.kind, s.text) in shared else None for s in src_spans]
    tgt_names = [name.get(s.text) if (s.kind, s.text) in shared else None for s in tgt_spans]
    return replace_spans(src, src_spans, src_names), replace_spans(tgt, tgt_spans, tgt_names)


def texts(corpora: list[CorpusFiles], out: Path, aug: Augmentation) -> list[CorpusFiles]:
    """Each corpus rewritten into OUT/NAME.text/{src,tgt} (reused while the corpus and `aug` are unchanged);
    the corpora as they are when `aug` rewrites nothing."""
    if not aug.active:
        return corpora
    files = text_files(corpora, out, aug)
    folders = [Path(f.src).parent for f in files]
    prints = [_fingerprint(c, aug) for c in corpora]
    todo = [k for k, folder in enumerate(folders) if _meta(folder).get("fingerprint") != prints[k]]
    if todo:
        log.info("learning the word links of the training data (for term annotation and span augmentation)")
        lexicon = Lexicon.build(pair for c in corpora
                                for pair in zip(read_lines(c.src), read_lines(c.tgt), strict=True))
        for k in todo:
            _write(corpora[k], folders[k], lexicon, aug, k, prints[k])
    return files


def text_files(corpora: list[CorpusFiles], out: Path, aug: Augmentation) -> list[CorpusFiles]:
    """Where `texts` writes each corpus rewritten (the corpora themselves when `aug` rewrites nothing)."""
    if not aug.active:
        return corpora
    return [replace(c, src=str(out / f"{c.name}.text" / "src"), tgt=str(out / f"{c.name}.text" / "tgt"))
            for c in corpora]


def _write(corpus: CorpusFiles, folder: Path, lexicon: Lexicon, aug: Augmentation, k: int, fingerprint: str
           ) -> None:
    rng = random.Random(aug.seed * 1_000_003 + k)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts = {"pairs": 0, "placeholders": 0, "annotated": 0}
    with open(tmp / "src", "w", encoding="utf-8") as fs, open(tmp / "tgt", "w", encoding="utf-8") as ft:
        for src, tgt in zip(read_lines(corpus.src), read_lines(corpus.tgt), strict=True):
            src, tgt = rewrite(src, tgt, lexicon, aug, rng)
            counts["pairs"] += 1
            counts["placeholders"] += "⦅" in tgt
            counts["annotated"] += "⦅t⦆" in src
            fs.write(src + "\n")
            ft.write(tgt + "\n")
    atomic_write_text(tmp / "meta.json", json.dumps({"fingerprint": fingerprint, **counts}, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    log.info("rewrote %s: %d pairs, %d with placeholders, %d with annotated terms", corpus.name,
             counts["pairs"], counts["placeholders"], counts["annotated"])


def _meta(folder: Path) -> dict:
    try:
        return json.loads((folder / "meta.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _fingerprint(corpus: CorpusFiles, aug: Augmentation) -> str:
    h = hashlib.sha256(f"{VERSION}|{json.dumps(asdict(aug), sort_keys=True)}".encode())
    for path in (corpus.src, corpus.tgt):
        st = Path(path).stat()
        h.update(f"|{Path(path).resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()
