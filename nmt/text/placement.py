"""Writing a translated block back with its markup: each inline element on the target words that attend to
its source words (markup.py's docstring has the rules and a worked example)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nmt.text.tokenizer import WORD_START

# an inline element with this attribute divides its block in order with its siblings (subtitle cues,
# documents/subtitles.py): the translation is divided among them in the same order (_partition)
PARTITION = "data-c="

if TYPE_CHECKING:  # the model of a page; markup.py imports this module to render one
    from nmt.text.markup import Block, Inline


@dataclass
class _Unit:
    """A piece of translated text as rendered: a word, or a punctuation mark of its own."""
    before: str  # the spacing before it
    text: str
    link: tuple[int, int] | None = None  # the source characters (of a piece) it attends to most
    row: list[float] | None = None       # its attention over the sentence's source pieces
    ranges: list[tuple[int, int]] | None = None  # those pieces' characters in the block
    sentence: tuple[int, int] = (0, 0)  # its sentence's source characters


def walk(spans: list[Inline]):
    for span in spans:
        yield span
        yield from walk(span.children)


def sentence_ranges(block: Block) -> list[tuple[int, int]]:
    """Where each of the block's sentences lies in its text."""
    ranges, at = [], 0
    for text in block.line.texts():
        start = block.text.find(text, at)
        start = at if start < 0 else start
        ranges.append((start, start + len(text)))
        at = start + len(text)
    return ranges


def render_block(block: Block, translations: list) -> str:
    """The block's translation (one object with `text`, and `sentences` where aligned, per sentence) with
    its inline elements placed."""
    units: list[_Unit] = []
    ranges = sentence_ranges(block)
    for k, ((start, end), translation) in enumerate(zip(ranges, translations, strict=True)):
        found = _aligned_units(block.text, start, translation) or _word_units(translation.text)
        for unit in found:
            unit.sentence = (start, end)
        if found:
            found[0].before = block.text[ranges[k - 1][1]:start] if k and units else ""
        units += found
    out: list[str] = []
    _emit(units, 0, len(units), _arrange(block.spans, 0, len(units), units), block.entities, out, bare=False)
    return "".join(out)


def _word_units(text: str) -> list[_Unit]:
    return [_Unit(" " if i else "", word) for i, word in enumerate(text.split())]


def _aligned_units(text: str, offset: int, translation) -> list[_Unit] | None:
    """The translation of the sentence at `offset` of the block's text as units, each linked to the
    source piece it attends to most; None without alignments or when the pieces do not match the
    words (then the sentence is placed whole)."""
    units: list[_Unit] = []
    at = offset
    for part in getattr(translation, "sentences", None) or [None]:
        if part is None or "alignment" not in part:
            return None
        record, source = part["alignment"], part["source"]
        start = text.find(source, at)
        ranges = _piece_ranges(source, record["source"])
        if start < 0 or ranges is None:
            return None
        at = start + len(source)
        ranges = [(a + start, b + start) for a, b in ranges]
        found = _target_units(record["target"][:-1], record["weights"], ranges)
        if found and units:
            found[0].before = " "  # pieces of a cut sentence were joined with a space
        units += found
    if "".join(u.before + u.text for u in units) != translation.text:
        return None
    return units


def _piece_ranges(source: str, pieces: list[str]) -> list[tuple[int, int]] | None:
    """Each source piece's characters in `source`: words are found by spacing, and the pieces of a word
    share its characters in order."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", source)]
    groups: list[list[str]] = []
    for piece in pieces:
        if piece.startswith(WORD_START) or not groups:
            groups.append([])
        groups[-1].append(piece.removeprefix(WORD_START))
    if len(groups) != len(words):
        return None
    ranges = []
    for (start, end), group in zip(words, groups, strict=True):
        for k, body in enumerate(group):
            stop = end if k == len(group) - 1 else min(start + len(body), end)
            ranges.append((start, stop))
            start = stop
    return ranges


def _target_units(pieces: list[str], weights: list[list[float]], ranges: list[tuple[int, int]]
                  ) -> list[_Unit]:
    """Target pieces as units: a word, or a punctuation mark of its own; each with its pieces' attention
    summed and the source piece it attends to most."""
    units: list[_Unit] = []
    space, last_mark = False, True
    for piece, row in zip(pieces, weights, strict=False):  # weights has a row for "</s>" too
        if piece == WORD_START:
            space = True
            continue
        body = "⁇" if piece == "<unk>" else piece.removeprefix(WORD_START)
        space = space or piece.startswith(WORD_START)
        mark = not any(ch.isalnum() for ch in body)
        if space or mark or last_mark or not units:
            units.append(_Unit(" " if space and units else "", "", row=[0.0] * len(row), ranges=ranges))
        unit = units[-1]
        unit.text += body
        unit.row = [a + b for a, b in zip(unit.row, row, strict=True)]
        space, last_mark = False, mark
    for unit in units:
        if unit.row:
            unit.link = ranges[max(range(len(unit.row)), key=unit.row.__getitem__)]
    return units


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _position(point: Inline, units: list[_Unit], lo: int, hi: int) -> int:
    """Where a point goes: after the last unit that translates something before it."""
    before = [i for i in range(lo, hi)
              if (units[i].link[1] <= point.start if units[i].link is not None
                  else sum(units[i].sentence) / 2 <= point.start)]
    return before[-1] + 1 if before else lo


def _wanted(span: Inline, units: list[_Unit], lo: int, hi: int) -> tuple[int, int]:
    """The units a span would cover (see the module's docstring), within lo..hi."""
    if span.point or span.start == span.end:
        at = _position(span, units, lo, hi)
        return at, at
    chars = (span.start, span.end)
    hits = [i for i in range(lo, hi) if (_overlaps(units[i].link, chars) if units[i].link is not None
                                           else _overlaps(units[i].sentence, chars))]
    if not hits:
        mass = [(sum(w for w, r in zip(units[i].row, units[i].ranges, strict=True) if _overlaps(r, chars)), i)
                for i in range(lo, hi) if units[i].row]
        best = max(mass, default=(0.0, lo))
        if best[0] <= 0:
            at = _position(span, units, lo, hi)
            return at, at
        hits = [best[1]]
    return min(hits), max(hits) + 1


def _partition(spans: list[Inline], lo: int, hi: int, units: list[_Unit]) -> list[tuple]:
    """Spans that divide a text in order (PARTITION, e.g. subtitle cues) divide its translation in the same
    order: the boundaries that put the most units in the span they attend to most (a unit without an
    alignment counts for the span its position would give in proportion), each span at least one unit where
    there are enough. Worked example: cues "Ich habe gestern" | "einen Hund gesehen."; "I saw a dog
    yesterday ." attends to cues 0 1 1 1 0 1: the split after "I" puts 4 units right, after "saw" 3, so
    cue 0 gets "I" and cue 1 "saw a dog yesterday."."""
    n, m = hi - lo, len(spans)
    sizes = [max(1, span.end - span.start) for span in spans]
    edges = [sum(sizes[:i]) / sum(sizes) * n for i in range(m + 1)]

    def gain(j: int, i: int) -> float:
        unit = units[lo + j]
        linked = unit.link is not None and _overlaps(unit.link, (spans[i].start, spans[i].end))
        return float(linked) + 0.001 * (edges[i] <= j + 0.5 < edges[i + 1])

    least = 1 if n >= m else 0
    best = [[float("-inf")] * (n + 1) for _ in range(m + 1)]
    back = [[0] * (n + 1) for _ in range(m + 1)]
    best[0][0] = 0.0
    for i in range(1, m + 1):
        for j in range(n + 1):
            total = 0.0
            for k in range(j - least, -1, -1):  # span i-1 takes units k..j
                if k < j:
                    total += gain(k, i - 1)
                if best[i - 1][k] + total > best[i][j]:
                    best[i][j], back[i][j] = best[i - 1][k] + total, k
    bounds, j = [n], n
    for i in range(m, 0, -1):
        j = back[i][j]
        bounds.append(j)
    bounds.reverse()
    return [(span, lo + a, lo + b, _arrange(span.children, lo + a, lo + b, units))
            for span, a, b in zip(spans, bounds, bounds[1:], strict=False)]


def _arrange(spans: list[Inline], lo: int, hi: int, units: list[_Unit]) -> list[tuple]:
    """Each span's units within lo..hi, in the target's order, never overlapping a sibling: (span, first,
    end, its children arranged)."""
    if spans and all(PARTITION in span.open for span in spans):
        return _partition(spans, lo, hi, units)
    wanted = []
    for span in spans:
        a, b = _wanted(span, units, lo, hi)
        if not span.point and not span.close:  # left open by the input: it runs to the end
            b = hi
        wanted.append((a, b, span))
    wanted.sort(key=lambda w: w[0])
    placed, cursor = [], lo
    for a, b, span in wanted:
        a = min(max(a, cursor), hi)
        b = min(max(b, a), hi)
        placed.append((span, a, b, _arrange(span.children, a, b, units)))
        cursor = b
    return placed


def _emit(units: list[_Unit], lo: int, hi: int, placed: list[tuple], entities: dict[str, str],
          out: list[str], *, bare: bool) -> None:
    """Write units lo..hi with their spans; `bare`: the first unit's spacing was written already."""
    def escape(text: str) -> str:
        return "".join(entities.get(ch) or html.escape(ch, quote=False) for ch in text)

    def words(a: int, b: int) -> None:
        out.extend(("" if bare and j == lo else units[j].before) + escape(units[j].text) for j in range(a, b))

    at = lo
    for span, a, b, children in placed:
        words(at, a)
        if span.point:
            if span.space_before and out and not out[-1][-1:].isspace() and (a > lo or not bare):
                out.append(" ")
            out.append(span.open)
            if span.space_after and a < hi and not units[a].before and units[a].text[:1].isalnum():
                out.append(" ")
        elif a == b:
            out.append(span.open + span.close)
        else:
            out.append(("" if bare and a == lo else units[a].before) + span.open)
            _emit(units, a, b, children, entities, out, bare=True)
            out.append(span.close)
        at = b
    words(at, hi)
