"""What the model reads for each sentence, and what its translation must hold: the sentence with its kept
spans as placeholders (text/placeholders.py, a model trained with them) and its glossary terms annotated
(text/annotate.py, a model trained with annotations), and the target terms it is constrained to hold
(text/terms.py). How glossary terms are used is DecodeConfig.glossary_mode:

    annotate   the source term is followed by its target term; the model learns to write it (no guarantee)
    constrain  the target term is a constraint of the search: it appears, the sentence may suffer
    both       annotated and constrained
    auto       the model's: config.GLOSSARY_MODE for a model trained with annotations, else constrain

Kept spans are placeholders for a model trained with them and constraints otherwise. The best translation
of the beam that holds each placeholder as often as the source is taken (pipeline.py); where none does
(one dropped, repeated or invented), the sentence is translated again with its placeholders as
constraints (one piece each, so they fit any constraint budget, and the model still reads what it was
trained on), and should that misplace one too, with its spans as constraints of the sentence as written
(`fallback`).
Worked example, a model trained with both, glossary Hunde -> puppies, mode both:

    "Zwei Hunde laufen um 8:15 Uhr." reads "Zwei Hunde ⦅t⦆ puppies ⦅/t⦆ laufen um ⦅n1⦆ Uhr.",
    constrained to hold "puppies"; "Two puppies run at ⦅n1⦆." is written "Two puppies run at 8:15."
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nmt import NMTError
from nmt.config import GLOSSARY_MODE, DecodeConfig
from nmt.text.annotate import annotate
from nmt.text.glossary import Glossary
from nmt.text.lines import Counts
from nmt.text.placeholders import Masked, mask
from nmt.text.spans import spans
from nmt.text.terms import Term, constraint_ids
from nmt.text.tokenizer import Tokenizer


@dataclass
class Source:
    """One sentence as the model reads it."""
    sentence: str               # as the user wrote it
    text: str                   # as the model reads it (placeholders, annotations)
    ids: list[int]              # what the model reads
    terms: list[Term]           # what its translation must hold
    masked: Masked | None       # its spans as placeholders, when they are
    where: str                  # "input line N", for the log
    pinned: bool = False        # its placeholders are constraints too


@dataclass(frozen=True)
class Reading:
    """How an engine's sentences are read: what its model learnt, and what the caller asked."""
    placeholders: bool          # kept spans as placeholders (else as constraints)
    annotate: bool              # glossary terms annotated in the source
    constrain: bool             # glossary terms as constraints
    keep_spans: bool
    limit: int                  # the model's source length
    max_constraint_tokens: int


def reading(cfg: DecodeConfig, *, placeholders: bool, annotates: bool, limit: int) -> Reading:
    """The Reading of `cfg` for a model that learnt placeholders and/or annotations; refuses a mode the
    model cannot follow."""
    mode = cfg.glossary_mode
    if mode == "auto":
        mode = GLOSSARY_MODE if annotates else "constrain"
    elif mode in ("annotate", "both") and not annotates:
        raise NMTError(f"glossary mode {mode} needs a model trained with term annotations (data.term_share "
                       "above 0); this one was not: use --glossary-mode constrain")
    return Reading(placeholders and cfg.keep_spans, mode in ("annotate", "both"),
                   mode in ("constrain", "both"), cfg.keep_spans, limit, cfg.max_constraint_tokens)


def source(sentence: str, ids: list[int], read: Reading, glossary: Glossary | None, wanted: list[str],
           src_tok: Tokenizer, tgt_tok: Tokenizer, where: str, counts: Counts) -> Source:
    """The sentence as the model reads it (`ids`: the sentence's own, cut to the model's limit)."""
    masked = mask(sentence) if read.placeholders else None
    text = masked.text if masked else sentence
    if glossary is not None and read.annotate:
        text = annotate(text, glossary.matches(text))
    if text != sentence:
        changed = src_tok.encode([text])[0]
        if len(changed) <= read.limit:  # else (an annotation pushing it over) the sentence as it came
            ids = changed
        else:
            masked, text = None, sentence
    placed = masked is not None and bool(masked.spans)
    kept = masked.left if placed else spans(sentence) if read.keep_spans else []
    texts = [*(glossary.targets(sentence) if glossary is not None and read.constrain else []), *kept, *wanted]
    terms = constraint_ids(tgt_tok, texts, read.max_constraint_tokens, where, counts) if texts else []
    return Source(sentence, text, ids, terms, masked if placed else None, where)


def fallback(src: Source, read: Reading, glossary: Glossary | None, wanted: list[str], src_tok: Tokenizer,
             tgt_tok: Tokenizer, counts: Counts) -> Source:
    """The sentence again after its translation misplaced a placeholder: with its placeholders as
    constraints, or when they were, with its spans as constraints instead of placeholders."""
    assert src.masked is not None
    if not src.pinned:
        ids = tgt_tok.sp.piece_to_id(list(src.masked.spans))
        pins = [Term((i,), name) for i, name in zip(ids, src.masked.spans, strict=True)]
        return dataclasses.replace(src, terms=[*src.terms, *pins], pinned=True)
    ids = src_tok.encode([src.sentence])[0][:read.limit]
    plain = dataclasses.replace(read, placeholders=False)
    return source(src.sentence, ids, plain, glossary, wanted, src_tok, tgt_tok, src.where, counts)
