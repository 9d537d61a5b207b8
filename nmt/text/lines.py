"""Input lines as the sentences a model decodes, and what a text's translation is (Translation).

A line is split into sentences (segment.py; or kept whole), a sentence longer than the model's limit is
cut at clauses or between words, and a word still too long is truncated: each of these is logged with the
line's number and counted, never silent. (pipeline.py joins each line's translation back from its
sentences'.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from nmt.text import segment
from nmt.text.tokenizer import Tokenizer

log = logging.getLogger(__name__)


@dataclass
class Counts:
    """What a translator had to do to inputs too long for its model, over its life."""
    cut: int = 0        # sentences cut into pieces
    truncated: int = 0  # words longer than the model's limit on their own, truncated
    too_many: int = 0   # constraints beyond a sentence's max_constraint_tokens, dropped
    unplaced: int = 0   # translations that misplaced a placeholder, translated again with constraints


def sentences(chunk: list[str], tok: Tokenizer, *, limit: int, split: bool, language: str | None,
              first: int, counts: Counts) -> tuple[list[segment.Line], list[list[int]]]:
    """The chunk's lines as segment.Lines and the ids of all their sentences, in order, each within
    `limit` tokens. `first`: the number of the chunk's first line (for the log)."""
    lines = [segment.split(text, language) if split else segment.whole(text) for text in chunk]
    ids = tok.encode([s for line in lines for s in line.texts()])
    if all(len(x) <= limit for x in ids):
        return lines, ids
    fits = lambda text: len(tok.encode([text])[0]) <= limit
    at, ids_out = iter(ids), []
    for k, line in enumerate(lines):
        cut = segment.Line([], [])
        for i, part in enumerate(line.parts):
            if i not in line.sentences:
                cut.parts.append(part)
                continue
            sentence_ids = next(at)
            pieces = segment.cut_long(part, fits) if len(sentence_ids) > limit else [part]
            if len(pieces) > 1:
                counts.cut += 1
                cut.cut += 1
                log.warning("input line %d: a sentence of %d tokens, over the model's limit of %d, "
                            "translated in %d pieces", first + k, len(sentence_ids), limit, len(pieces))
            for j, piece in enumerate(pieces):
                cut.parts += [" ", piece] if j else [piece]
                cut.sentences.append(len(cut.parts) - 1)
        lines[k] = cut
        for piece_ids in tok.encode(cut.texts()):
            if len(piece_ids) > limit:
                counts.truncated += 1
                log.warning("input line %d: %d tokens without a place to cut, truncated to the model's "
                            "limit of %d", first + k, len(piece_ids), limit)
            ids_out.append(piece_ids[:limit])
    return lines, ids_out


@dataclass
class Translation:
    """One text's translation: the best hypothesis and, with n_best > 1, the others, best first."""
    text: str
    score: float  # length-normalised log-probability (the mean over a text's lines)
    alternatives: list[Translation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what was done to inputs too long for the model
    # with attention=True: each sentence of the text, {"source", "text", "alignment"} (alignment.py)
    sentences: list[dict] = field(default_factory=list)
