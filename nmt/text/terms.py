"""Target terms a translation must hold (glossary entries, kept spans, explicit constraints) as piece ids,
and the text of a hypothesis that holds them.

A term is encoded as the target tokenizer writes it inside a sentence, after a space, so its first piece
carries the word-start mark. Characters the vocabulary lacks become <unk> pieces; `restore` writes the
term itself where the hypothesis holds them. Worked example (tests/test_glossary.py): the term "x@y.org"
is pieces [▁x, <unk>, y, ., org]; a hypothesis "▁see ▁x <unk> y . org" is written "see x@y.org".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nmt.text.lines import Counts
from nmt.text.tokenizer import EOS, UNK, WORD_START, Tokenizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Term:
    """One constraint of a sentence: its piece ids and the text they stand for."""
    ids: tuple[int, ...]
    text: str


def constraint_ids(tok: Tokenizer, terms: list[str], limit: int, where: str, counts: Counts) -> list[Term]:
    """Target terms as constraints, each once, in order. Terms beyond `limit` pieces in all are dropped,
    logged (naming `where`) and counted in counts.too_many."""
    out: list[Term] = []
    for text, ids in zip(terms, tok.encode(terms), strict=True):
        if not ids or any(tuple(ids) == known.ids for known in out):
            continue
        if sum(len(known.ids) for known in out) + len(ids) > limit:
            counts.too_many += 1
            log.warning("%s: the constraint %r is beyond the %d pieces of constraints a sentence may have; "
                        "dropped", where, text, limit)
        else:
            out.append(Term(tuple(ids), text))
    return out


def restore(tok: Tokenizer, tokens: list[int], terms: list[Term]) -> str | None:
    """The hypothesis `tokens` as text, each term in it that holds <unk> pieces written as the term again
    (the longest first, where they would overlap); None when no term has <unk>."""
    unknown = sorted((t for t in terms if UNK in t.ids), key=lambda t: -len(t.ids))
    if not unknown:
        return None
    found: list[tuple[int, int, str]] = []
    for term in unknown:
        n, ids = len(term.ids), list(term.ids)
        at = next((s for s in range(len(tokens) - n + 1) if tokens[s : s + n] == ids
                   and not any(a < s + n and s < b for a, b, _ in found)), None)
        if at is not None:
            found.append((at, at + n, term.text))
    parts: list[tuple[bool, str]] = []  # (starts a word, text) in order
    at = 0
    for start, end, text in sorted(found):
        if start > at:
            parts.append(_stretch(tok, tokens[at:start]))
        parts.append((True, text))  # its first piece has the word-start mark
        at = end
    if at < len(tokens):
        parts.append(_stretch(tok, tokens[at:]))
    out = ""
    for starts_word, piece in parts:
        out += (" " if out and starts_word else "") + piece
    return out


def _stretch(tok: Tokenizer, tokens: list[int]) -> tuple[bool, str]:
    """(Does it start a word, its text) for a stretch of a hypothesis."""
    return tok.pieces(tokens[:1])[0].startswith(WORD_START), tok.decode([tokens])[0].strip()


def word_marks(tok: Tokenizer) -> tuple[list[bool], list[bool]]:
    """Per target piece: (does it start a word: the word-start mark; does it continue the word before it:
    no mark, a letter or digit first). Search may not follow a completed term with a continuing piece, so
    "3" does not become "30"; the no-repeat rule counts words by their starts."""
    pieces = tok.pieces(list(range(len(tok))))
    starts = [i > EOS and p.startswith(WORD_START) for i, p in enumerate(pieces)]
    joins = [i > EOS and not p.startswith(WORD_START) and p[:1].isalnum() for i, p in enumerate(pieces)]
    return starts, joins
