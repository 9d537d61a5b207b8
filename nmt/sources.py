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
(`Reader.fallback`).
Worked example, a model trained with both, glossary Hunde -> puppies, mode both:

    "Zwei Hunde laufen um 8:15 Uhr." reads "Zwei Hunde ⦅t⦆ puppies ⦅/t⦆ laufen um ⦅n1⦆ Uhr.",
    constrained to hold "puppies"; "Two puppies run at ⦅n1⦆." is written "Two puppies run at 8:15."
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from nmt import NMTError
from nmt.config import GLOSSARY_MODE, DecodeConfig
from nmt.search.scoring import Hypothesis
from nmt.text.annotate import annotate
from nmt.text.glossary import Glossary
from nmt.text.placeholders import Masked, mask, unmask
from nmt.text.spans import spans
from nmt.text.terms import Term, constraint_ids, restore

log = logging.getLogger(__name__)


@dataclass
class Source:
    """One sentence as the model reads it."""
    sentence: str               # as the user wrote it
    text: str                   # as the model reads it (placeholders, annotations)
    ids: list[int]              # what the model reads
    terms: list[Term]           # what its translation must hold
    masked: Masked | None       # its spans as placeholders, when they are
    wanted: list[str]           # the target phrases its line was given (explicit constraints)
    where: str                  # "input line N", for the log
    pinned: bool = False        # its placeholders are constraints too


@dataclass(frozen=True)
class Reader:
    """How an engine's sentences are read and their translations chosen: what its model learnt (the
    engine's placeholders and annotates, pipeline.py), and what the caller asked (`cfg`, `glossary`)."""
    engine: object              # a TextPipeline: tokenizers, max_src_len, counts, translate_ids
    cfg: DecodeConfig
    glossary: Glossary | None
    placeholders: bool          # kept spans as placeholders (else as constraints)
    annotate: bool              # glossary terms annotated in the source
    constrain: bool             # glossary terms as constraints

    @classmethod
    def of(cls, engine, cfg: DecodeConfig, glossary: Glossary | None) -> Reader:
        """The Reader of `cfg` for `engine`'s model; refuses a glossary mode the model cannot follow."""
        mode = cfg.glossary_mode
        if mode == "auto":
            mode = GLOSSARY_MODE if engine.annotates else "constrain"
        elif mode in ("annotate", "both") and not engine.annotates:
            raise NMTError(f"glossary mode {mode} needs a model trained with term annotations "
                           "(data.term_share above 0); this one was not: use --glossary-mode constrain")
        return cls(engine, cfg, glossary, engine.placeholders and cfg.keep_spans,
                   mode in ("annotate", "both"), mode in ("constrain", "both"))

    def source(self, sentence: str, ids: list[int], wanted: list[str], where: str, *,
               placeholders: bool | None = None) -> Source:
        """The sentence as the model reads it (`ids`: the sentence's own, cut to the model's limit)."""
        engine, glossary = self.engine, self.glossary
        masked = mask(sentence) if (self.placeholders if placeholders is None else placeholders) else None
        text = masked.text if masked else sentence
        if glossary is not None and self.annotate:
            text = annotate(text, glossary.matches(text))
        if text != sentence:
            changed = engine.src_tok.encode([text])[0]
            if len(changed) <= engine.max_src_len:  # else (an annotation pushing it over) as it came
                ids = changed
            else:
                masked, text = None, sentence
        kept = masked.left if masked is not None else spans(sentence) if self.cfg.keep_spans else []
        texts = [*(glossary.targets(sentence) if glossary is not None and self.constrain else []), *kept,
                 *wanted]
        terms = constraint_ids(engine.tgt_tok, texts, self.cfg.max_constraint_tokens, where,
                               engine.counts) if texts else []
        return Source(sentence, text, ids, terms, masked if masked and masked.spans else None, wanted, where)

    def fallback(self, src: Source) -> Source:
        """The sentence again after no translation held each placeholder once: with its placeholders as
        constraints, or when they were, with its spans as constraints instead of placeholders."""
        assert src.masked is not None
        if not src.pinned:
            ids = self.engine.tgt_tok.sp.piece_to_id(list(src.masked.spans))
            pins = [Term((i,), name) for i, name in zip(ids, src.masked.spans, strict=True)]
            return dataclasses.replace(src, terms=[*src.terms, *pins], pinned=True)
        ids = self.engine.src_tok.encode([src.sentence])[0][:self.engine.max_src_len]
        return self.source(src.sentence, ids, src.wanted, src.where, placeholders=False)

    def translate(self, srcs: list[Source], attention: bool) -> list[list[tuple[str, Hypothesis]]]:
        """Each sentence's n-best list of (text, hypothesis). A sentence read with placeholders takes the
        best translations of its beam that hold each placeholder once (its whole beam is finished: n-best
        as wide as the beam); one with none is translated again (`fallback`), counted and logged."""
        engine, cfg = self.engine, self.cfg
        found: list = [None] * len(srcs)
        wide = dataclasses.replace(cfg, n_best=cfg.beam)
        for placing, group_cfg in ((False, cfg), (True, wide)):
            rows = [k for k, src in enumerate(srcs) if (src.masked is not None) == placing]
            phrases = [[list(t.ids) for t in srcs[k].terms] for k in rows]
            done = engine.translate_ids([srcs[k].ids for k in rows], group_cfg,
                                        phrases if any(phrases) else None, attention=attention)
            for k, hyps in zip(rows, done, strict=True):
                found[k] = hyps
        out, again = [], []
        for k, (src, hyps) in enumerate(zip(srcs, found, strict=True)):
            decoded = engine.tgt_tok.decode([h.tokens for h in hyps])
            texts = [restore(engine.tgt_tok, h.tokens, src.terms) or text
                     for h, text in zip(hyps, decoded, strict=True)]
            for h in hyps:  # attention recorded over what the model read: alignment.py reads it again
                h.attention = None if src.text != src.sentence else h.attention
                h.spans = src.masked.spans if src.masked is not None else None
            if src.masked is not None:
                texts = [unmask(text, src.masked) for text in texts]
                if all(text is None for text in texts):
                    again.append(k)
                    engine.counts.unplaced += not src.pinned
                    instead = "its numbers, URLs and e-mail addresses" if src.pinned else "the placeholders"
                    log.warning("%s: no translation in the beam held each placeholder once (%s); translated "
                                "again with %s as constraints", src.where, decoded[0], instead)
            held = [(text, h) for text, h in zip(texts, hyps, strict=True) if text is not None]
            out.append(held[:cfg.n_best])
        if again:
            redone = self.translate([self.fallback(srcs[k]) for k in again], attention)
            for k, nbest in zip(again, redone, strict=True):
                out[k] = nbest
        return out
