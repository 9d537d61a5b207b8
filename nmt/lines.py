"""Input lines as the sentences a model decodes, and each line's n-best list joined back from theirs.

A line is split into sentences (segment.py; or kept whole), a sentence longer than the model's limit is
cut at clauses or between words, and a word still too long is truncated: each of these is logged with the
line's number and counted, never silent. After decoding, alternative k of a line joins the k-th best of
each of its sentences (a sentence with fewer gives its last), with the line's own spacing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from nmt import segment
from nmt.config import DecodeConfig
from nmt.scoring import Hypothesis
from nmt.tokenizer import Tokenizer

log = logging.getLogger(__name__)


@dataclass
class LineHypothesis(Hypothesis):
    """A line's hypothesis joined from its sentences': tokens one after the other, log-probabilities summed,
    the score their mean; `parts` holds each (source sentence, its hypothesis) for the alignments, `cut`
    how many of the line's sentences were cut for being too long."""
    parts: list[tuple[str, Hypothesis]] = field(default_factory=list)
    cut: int = 0


@dataclass
class Counts:
    """What a translator had to do to inputs too long for its model, over its life."""
    cut: int = 0        # sentences cut into pieces
    truncated: int = 0  # words longer than the model's limit on their own, truncated
    too_many: int = 0   # constraints beyond a sentence's max_constraint_tokens, dropped


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


def length_batches(lengths: list[int], cfg: DecodeConfig) -> Iterator[list[int]]:
    """Indices of the non-empty sentences (lengths in tokens), sorted by length, grouped by the token and
    sentence budgets of cfg (max_tokens, max_sentences): how both decoders batch."""
    order = sorted((i for i, n in enumerate(lengths) if n > 0), key=lambda i: lengths[i])
    batch: list[int] = []
    for i in order:
        full = len(batch) + 1 > cfg.max_sentences or (len(batch) + 1) * lengths[i] > cfg.max_tokens
        if batch and full:
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def rejoin(line: segment.Line, nbests: list[list[tuple[str, Hypothesis]]]) -> list[tuple[str, Hypothesis]]:
    """A line's n-best list of (text, hypothesis) from its sentences' n-best lists."""
    if not line.sentences:
        return [("", Hypothesis([], 0.0, 0.0))]
    if len(nbests) == 1 and line.parts == line.texts():  # one sentence, as it came
        return nbests[0]
    sources, joined = line.texts(), []
    for k in range(max(len(nbest) for nbest in nbests)):
        chosen = [nbest[min(k, len(nbest) - 1)] for nbest in nbests]
        hyps = [h for _, h in chosen]
        hyp = LineHypothesis([t for h in hyps for t in h.tokens], sum(h.log_prob for h in hyps),
                             sum(h.score for h in hyps) / len(hyps), list(zip(sources, hyps, strict=True)),
                             line.cut)
        joined.append((segment.join(line, [text for text, _ in chosen]), hyp))
    return joined


@dataclass
class Translation:
    """One text's translation: the best hypothesis and, with n_best > 1, the others, best first."""
    text: str
    score: float  # length-normalised log-probability (the mean over a text's lines)
    alternatives: list[Translation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what was done to inputs too long for the model
    # with attention=True: each sentence of the text, {"source", "text", "alignment"} (alignment.py)
    sentences: list[dict] = field(default_factory=list)


def join_lines(lines: list[list[tuple[str, Hypothesis]]], limit: int) -> Translation:
    """One text's Translation from its lines' n-best lists: alternative k joins each line's k-th best
    (a line with fewer hypotheses gives its last); a warning if sentences were cut (over `limit`)."""
    k = max(len(nbest) for nbest in lines)
    ranked = [Translation("\n".join(nbest[min(i, len(nbest) - 1)][0] for nbest in lines),
                          sum(nbest[min(i, len(nbest) - 1)][1].score for nbest in lines) / len(lines))
              for i in range(k)]
    ranked[0].alternatives = ranked[1:]
    cut = sum(getattr(nbest[0][1], "cut", 0) for nbest in lines)
    if cut:
        ranked[0].warnings.append(f"{cut} sentence(s) longer than the model's limit of {limit} tokens "
                                  "were translated in pieces")
    return ranked[0]
