"""A line's translation joined again from its sentences' (pipeline.py splits lines into sentences and
decodes those).

Alternative k of a line joins the k-th best of each of its sentences (a sentence with fewer gives its
last), with the line's own spacing; alternative k of a text joins the k-th of each of its lines. Worked
example: a line "Ein Hund läuft. Zwei Katzen schlafen!" whose sentences came back as ["A dog runs.",
"A dog is running."] and ["Two cats sleep!"] gives "A dog runs. Two cats sleep!" and then "A dog is
running. Two cats sleep!", each scored by the mean of its sentences' scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nmt.search.scoring import Hypothesis
from nmt.text import segment
from nmt.text.lines import Translation


@dataclass
class LineHypothesis(Hypothesis):
    """A line's hypothesis joined from its sentences': tokens one after the other, log-probabilities summed,
    the score their mean; `parts` holds each (source sentence, its hypothesis) for the alignments, `cut`
    how many of the line's sentences were cut for being too long."""
    parts: list[tuple[str, Hypothesis]] = field(default_factory=list)
    cut: int = 0


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
                             sum(h.score for h in hyps) / len(hyps),
                             parts=list(zip(sources, hyps, strict=True)), cut=line.cut)
        joined.append((segment.join(line, [text for text, _ in chosen]), hyp))
    return joined


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
