"""HTML in, HTML out: a page's text is translated and its markup kept.

`parse` reads HTML with the standard library's parser (html.parser: tolerant of broken markup, and it
reports where every tag starts, so whatever is not translated is copied byte for byte). The page becomes
a sequence of markup, kept as written, and blocks: the text of a `p`, `li`, `td`, heading... (any
element that is not inline), each translated on its own, sentence by sentence. Inside a block, inline
elements (`b`, `a`, `span`...) are remembered as spans over the block's characters; comments, images
and untouched inline elements (`code`, `translate="no"`) as points. The contents of `script`, `style`,
`pre`, `code` and of any element with `translate="no"` or `class="notranslate"` are never translated.
Attributes are kept as written (not translated). Spacing inside a block is one space; around it, as
written.

`Document.render` puts each span on the target words that attend to its source words: a target unit
(a word, or a punctuation mark of its own) belongs to a span when the source piece it attends to most
lies in the span; the span covers its first to its last such unit. A span no unit attends to most goes
on the unit that attends to it most. Spans stay nested as in the source; siblings keep the target's
order and never overlap. Without alignments (a model without attention) a span covers the whole
translated sentence(s) it was in. Worked example:

    doc = parse('<p>Ein <b>großer</b> Hund.</p>')
    doc.texts                  -> ['Ein großer Hund.']   (span b over characters 4-10)
    translated "A big dog.": target pieces ▁A ▁big ▁dog . attend most to ▁Ein ▁großer ▁Hund .
    doc.render([translation])  -> '<p>A <b>big</b> dog.</p>'

tests/test_markup.py checks it. The output has every tag of the input; an element the input left open
inside a block stays open to the end of the block's translation, and a stray end tag is kept as a point.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from nmt import segment
from nmt.tokenizer import WORD_START


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


INLINE = _names("a abbr acronym b bdi bdo big cite data del dfn em font i ins label mark q s small span "
                "strike strong sub sup time tt u")
POINTS = _names("img wbr")  # inline and empty: placed between words
UNTOUCHED_INLINE = _names("code kbd samp var")
UNTOUCHED_BLOCK = _names("script style pre textarea svg math template")
BLOCKS = _names("address article aside blockquote body button caption dd details div dl dt figcaption figure "
                "footer form h1 h2 h3 h4 h5 h6 head header hr html li main nav ol option p section summary "
                "table tbody td tfoot th thead title tr ul")
VOID = _names("area base br col embed hr img input link meta param source track wbr")
SPACE = re.compile(r"[ \t\n\r\f]+")  # HTML's whitespace (a no-break space is text)


@dataclass
class Inline:
    """An inline element of a block over characters start..end of the block's text, or a point
    (start == end) such as an image, a comment, a stray end tag or an untouched element, held whole in
    `open`."""
    tag: str
    start: int
    open: str                  # the start tag as written (a point: all of it)
    end: int | None = None     # None while open
    close: str = ""            # the end tag as written; "" when the input left it open, or for a point
    point: bool = False
    space_before: bool = False  # a point: was there spacing before and after it in the source
    space_after: bool = False
    children: list[Inline] = field(default_factory=list)


@dataclass
class Block:
    """A run of text between block-level markup, translated as one text."""
    text: str = ""
    raw: list[str] = field(default_factory=list)  # its source as written (kept when it is not translated)
    spans: list[Inline] = field(default_factory=list)  # top level, in source order
    entities: dict[str, str] = field(default_factory=dict)  # a character -> the entity that wrote it
    trail: str = ""  # the spacing after its text, as written
    line: segment.Line | None = None  # its sentences, once Document.texts was asked for
    _open: list[Inline] = field(default_factory=list)
    _tail: str = ""

    def translatable(self) -> bool:
        return any(ch.isalpha() for ch in self.text)


@dataclass
class _Unit:
    """A piece of translated text as rendered: a word, or a punctuation mark of its own."""
    before: str  # the spacing before it
    text: str
    link: tuple[int, int] | None = None  # the source characters (of a piece) it attends to most
    row: list[float] | None = None       # its attention over the sentence's source pieces
    ranges: list[tuple[int, int]] | None = None  # those pieces' characters in the block
    sentence: tuple[int, int] = (0, 0)  # its sentence's source characters


class Document:
    """A parsed page: markup kept as written (str) and Blocks, in order."""

    def __init__(self, items: list[str | Block]):
        self.items = items
        self.blocks = [item for item in items if isinstance(item, Block) and item.translatable()]

    def text(self) -> str:
        """The page's text to translate, its blocks joined by newlines (e.g. for language identification)."""
        return "\n".join(block.text for block in self.blocks)

    def texts(self, *, split: bool = True, language: str | None = None) -> list[str]:
        """The sentences to translate, block after block (each block split with segment.py unless not
        `split`); render takes their translations in this order."""
        out = []
        for block in self.blocks:
            block.line = segment.split(block.text, language) if split else segment.whole(block.text)
            out += block.line.texts()
        return out

    def needs_alignment(self) -> list[bool]:
        """For each text of `texts`: does its sentence hold inline markup to place."""
        flags = []
        for block in self.blocks:
            marks = [(s.start, s.end) for s in _walk(block.spans)]
            for start, end in _sentence_ranges(block):
                flags.append(any(a < end and b > start or start <= a <= end and a == b for a, b in marks))
        return flags

    def render(self, translations: list) -> str:
        """The page with each sentence of `texts` replaced by its translation: objects with `text` and,
        where alignments exist, `sentences` ({"source", "alignment"} for each piece translated: see
        alignment.py). Without a call of `texts` first, its defaults split the blocks."""
        if any(block.line is None for block in self.blocks):
            self.texts()
        at = iter(translations)
        out = []
        for item in self.items:
            if isinstance(item, str):
                out.append(item)
            elif not item.translatable():
                out.append("".join(item.raw) + item.trail)
            else:
                done = [next(at) for _ in item.line.sentences]
                out.append(_render_block(item, done) + item.trail)
        return "".join(out)


def parse(page: str) -> Document:
    """The page's markup and blocks (see the module's docstring). Never fails: broken markup is read as
    well as the parser reads it."""
    return _Builder().build(_events(page))


def holds_html(text: str) -> bool:
    """Does the text hold markup of HTML elements (a tag of an element HTML has)?"""
    known = INLINE | POINTS | UNTOUCHED_INLINE | UNTOUCHED_BLOCK | BLOCKS | VOID
    return "<" in text and any(kind in ("start", "startend", "end") and name in known
                               for kind, name, _, _ in _events(text))


# -- reading -------------------------------------------------------------------------------------------
class _Recorder(HTMLParser):
    """html.parser's events with where each starts; an event's source runs to the next one's start."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.events: list[list] = []  # [kind, tag or text, attrs, start offset]
        self._lines = [0]

    def feed_all(self, page: str) -> list[tuple[str, str, dict, str]]:
        self._lines += [m.end() for m in re.finditer("\n", page)]
        self.feed(page)
        self.close()
        starts = [e[3] for e in self.events] + [len(page)]
        out = [(kind, name, attrs, page[starts[k]:starts[k + 1]])
               for k, (kind, name, attrs, _) in enumerate(self.events)]
        if self.events and starts[0] > 0:  # nothing is lost before the first event
            out.insert(0, ("data", page[: starts[0]], {}, page[: starts[0]]))
        return out

    def _add(self, kind: str, name: str, attrs=None) -> None:
        line, column = self.getpos()
        self.events.append([kind, name, dict(attrs or []), self._lines[line - 1] + column])

    def handle_starttag(self, tag, attrs):
        self._add("start", tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._add("startend", tag, attrs)

    def handle_endtag(self, tag):
        self._add("end", tag)

    def handle_data(self, data):
        self._add("data", data)

    def handle_entityref(self, name):
        self._add("entity", html.unescape(f"&{name};"))

    def handle_charref(self, name):
        self._add("entity", html.unescape(f"&#{name};"))

    def handle_comment(self, data):
        self._add("comment", data)

    def handle_decl(self, decl):
        self._add("markup", decl)

    def handle_pi(self, data):
        self._add("markup", data)

    def unknown_decl(self, data):
        self._add("markup", data)


def _events(page: str) -> list[tuple[str, str, dict, str]]:
    return _Recorder().feed_all(page)


def _untouched(tag: str, attrs: dict) -> bool:
    return (tag in UNTOUCHED_INLINE or tag in UNTOUCHED_BLOCK
            or (attrs.get("translate") or "").strip().lower() == "no"
            or "notranslate" in (attrs.get("class") or "").split())


class _Builder:
    def __init__(self):
        self.items: list[str | Block] = []
        self.block: Block | None = None
        self.frozen: list | None = None  # [tag, depth, raw parts, inline?]

    def build(self, events) -> Document:
        for kind, name, attrs, raw in events:
            if self.frozen is not None:
                self._frozen(kind, name, raw)
            elif kind == "data":
                self._data(name, raw)
            elif kind == "entity":
                self._open_block().raw.append(raw)
                self._text(name, raw)
            elif kind in ("start", "startend"):
                self._start(kind, name, attrs, raw)
            elif kind == "end":
                self._end(name, raw)
            elif kind == "comment" and self.block is not None:
                self._point(raw)
            else:
                self._markup(raw)
        if self.frozen is not None:  # the page ended inside an untouched element
            raw = "".join(self.frozen[2])
            self._point(raw) if self.frozen[3] else self._markup(raw)
        self._close_block()
        return Document(self.items)

    def _frozen(self, kind: str, name: str, raw: str) -> None:
        tag, depth, parts, inline = self.frozen
        parts.append(raw)
        if name == tag and kind in ("start", "end"):
            depth += 1 if kind == "start" else -1
        self.frozen[1] = depth
        if depth == 0:
            self.frozen = None
            self._point("".join(parts)) if inline else self._markup("".join(parts))

    def _data(self, data: str, raw: str) -> None:
        if self.block is None:
            body = data.lstrip(" \t\n\r\f")
            if not body:
                self.items.append(raw)
                return
            lead = data[: len(data) - len(body)]
            if lead:
                self.items.append(lead)
            raw, data = raw[len(lead):], body
        self._open_block().raw.append(raw)
        self._text(data, None)
        body = data.rstrip(" \t\n\r\f")
        self.block._tail = data[len(body):]

    def _text(self, text: str, entity: str | None) -> None:
        block = self.block
        if entity is not None:
            if entity != html.escape(text, quote=False):
                block.entities[text] = entity
            block.text += text
            block._tail = ""
            return
        text = SPACE.sub(" ", text)
        if text.startswith(" ") and (not block.text or block.text.endswith(" ")):
            text = text[1:]
        block.text += text

    def _start(self, kind: str, tag: str, attrs: dict, raw: str) -> None:
        if _untouched(tag, attrs):
            inline = tag in UNTOUCHED_INLINE or tag in INLINE or tag in POINTS
            if kind == "startend" or tag in VOID:
                self._point(raw) if inline else self._markup(raw)
            else:
                if not inline:
                    self._close_block()
                self.frozen = [tag, 1, [raw], inline]
        elif tag in INLINE and kind == "start":
            block = self._open_block()
            block.raw.append(raw)
            block._tail = ""
            span = Inline(tag, len(block.text), raw)
            (block._open[-1].children if block._open else block.spans).append(span)
            block._open.append(span)
        elif tag in INLINE or tag in POINTS:
            self._point(raw)
        else:
            self._markup(raw)

    def _end(self, tag: str, raw: str) -> None:
        block = self.block
        if tag in INLINE and block is not None and any(s.tag == tag for s in block._open):
            block.raw.append(raw)
            block._tail = ""
            while block._open:
                span = block._open.pop()
                span.end = len(block.text)
                if span.tag == tag:
                    span.close = raw
                    break
        elif tag in INLINE or tag in POINTS:
            self._point(raw)  # a stray end tag: kept where it stood
        else:
            self._markup(raw)

    def _point(self, raw: str) -> None:
        block = self._open_block()
        block.raw.append(raw)
        block._tail = ""
        before = block.text.endswith(" ") or not block.text
        point = Inline("", len(block.text), raw, end=len(block.text), point=True, space_before=before)
        (block._open[-1].children if block._open else block.spans).append(point)

    def _markup(self, raw: str) -> None:
        self._close_block()
        self.items.append(raw)

    def _open_block(self) -> Block:
        if self.block is None:
            self.block = Block()
        return self.block

    def _close_block(self) -> None:
        block, self.block = self.block, None
        if block is None:
            return
        tail = block._tail
        if tail and block.raw and block.raw[-1].endswith(tail):
            block.raw[-1] = block.raw[-1][: len(block.raw[-1]) - len(tail)]
            block.trail = tail
        stripped = block.text.lstrip(" ")
        shift = len(block.text) - len(stripped)
        block.text = stripped.rstrip(" ")
        for span in _walk(block.spans):
            span.start = min(max(span.start - shift, 0), len(block.text))
            span.end = len(block.text) if span.end is None else min(max(span.end - shift, 0), len(block.text))
        for point in _walk(block.spans):
            after = block.text[point.start: point.start + 1]
            point.space_after = point.point and (after == " " or not after)
        self.items.append(block)


# -- writing -------------------------------------------------------------------------------------------
def _walk(spans: list[Inline]):
    for span in spans:
        yield span
        yield from _walk(span.children)


def _sentence_ranges(block: Block) -> list[tuple[int, int]]:
    """Where each of the block's sentences lies in its text."""
    ranges, at = [], 0
    for text in block.line.texts():
        start = block.text.find(text, at)
        start = at if start < 0 else start
        ranges.append((start, start + len(text)))
        at = start + len(text)
    return ranges


def _render_block(block: Block, translations: list) -> str:
    units: list[_Unit] = []
    ranges = _sentence_ranges(block)
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


def _arrange(spans: list[Inline], lo: int, hi: int, units: list[_Unit]) -> list[tuple]:
    """Each span's units within lo..hi, in the target's order, never overlapping a sibling: (span, first,
    end, its children arranged)."""
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
