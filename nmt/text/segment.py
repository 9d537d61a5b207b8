"""A line of text as the sentences a model was trained on, and the translations joined back as the line was.

Splitting uses sentencex (about 300 languages, de, en, fr and cs among them, rules for abbreviations,
ordinals and quotes; maintained, and its segments add up to the text exactly). It was chosen over pysbd,
which has no Czech and has not been released since 2021. A line is cut into parts that alternate between
sentences and the spacing between them; only the sentences are translated, and the line is joined again
from its own spacing. Worked example (de):

    split("Ein Hund läuft. Zwei Katzen schlafen!", "de")
    -> Line(parts=["Ein Hund läuft.", " ", "Zwei Katzen schlafen!"], sentences=[0, 2])
    join(line, ["A dog runs.", "Two cats sleep!"]) -> "A dog runs. Two cats sleep!"

A line's own leading and trailing spacing is dropped (a translation has none), so a line of one sentence
translates exactly as it would unsplit. A sentence longer than the model takes is cut further
(`cut_long`): after the last clause mark (, ; : and dashes) that keeps the first part within the limit,
else after the last word that does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

FALLBACK = "en"  # the rules for a language sentencex does not know: Latin-script punctuation
CLAUSE = re.compile(r"[,;:]\s+|\s[-–—]\s+")  # a clause ends after one of these (the spacing stays with it)


@dataclass
class Line:
    parts: list[str]      # the line in order: sentences, and the spacing between them
    sentences: list[int]  # which parts are sentences, to be translated
    cut: int = 0          # how many of its sentences were too long for the model and cut (cut_long)

    def texts(self) -> list[str]:
        return [self.parts[i] for i in self.sentences]


def split(line: str, language: str | None) -> Line:
    """The sentences of `line` in `language` (an ISO 639-1 code; None or unknown: FALLBACK's rules)."""
    import sentencex  # imported on first use: the command line starts without it
    line = line.strip()
    parts: list[str] = []
    for segment in sentencex.segment(language or FALLBACK, line):
        body = segment.strip()
        lead = segment[: len(segment) - len(segment.lstrip())]
        trail = segment[len(segment.rstrip()):] if body else ""
        for piece in (lead, body, trail):
            if piece and piece.isspace() and parts and parts[-1].isspace():
                parts[-1] += piece  # spacing next to spacing: one separator
            elif piece:
                parts.append(piece)
    return Line(parts, [i for i, p in enumerate(parts) if not p.isspace()])


def whole(line: str) -> Line:
    """The line as one sentence (no splitting)."""
    line = line.strip()
    return Line([line], [0]) if line else Line([], [])


def join(line: Line, translations: list[str]) -> str:
    """The line again, each sentence replaced by its translation (in order), the spacing kept."""
    parts = list(line.parts)
    for i, text in zip(line.sentences, translations, strict=True):
        parts[i] = text
    return "".join(parts)


def cut_long(sentence: str, fits: Callable[[str], bool]) -> list[str]:
    """`sentence` as consecutive pieces that each `fits` (the model's length limit), cut after clause
    marks where possible, else between words; a single word too long for the model stays whole (it is
    truncated then). The pieces joined with single spaces give the sentence back, up to its spacing."""
    if fits(sentence):
        return [sentence]
    for pattern in (CLAUSE, re.compile(r"\s+")):
        cuts = [m.end() for m in pattern.finditer(sentence)]
        fitting = [c for c in cuts if fits(sentence[:c].strip())]
        if fitting:
            head, rest = sentence[: fitting[-1]].strip(), sentence[fitting[-1]:].strip()
            return [head, *cut_long(rest, fits)]
    return [sentence]
