"""Reading a page into a markup.Document: html.parser's events, with where each starts in the page, so that
whatever is not translated is copied byte for byte (markup.py's docstring has the model and an example)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from nmt.text.markup import (
    BLOCKS,
    INLINE,
    POINTS,
    SPACE,
    UNTOUCHED_BLOCK,
    UNTOUCHED_INLINE,
    VOID,
    Block,
    Document,
    Inline,
)
from nmt.text.placement import walk


def parse(page: str) -> Document:
    """The page's markup and blocks (see the module's docstring). Never fails: broken markup is read as
    well as the parser reads it."""
    return _Builder().build(events(page))


def holds_html(text: str) -> bool:
    """Does the text hold markup of HTML elements (a tag of an element HTML has)?"""
    known = INLINE | POINTS | UNTOUCHED_INLINE | UNTOUCHED_BLOCK | BLOCKS | VOID
    return "<" in text and any(kind in ("start", "startend", "end") and name in known
                               for kind, name, _, _ in events(text))


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


def events(page: str) -> list[tuple[str, str, dict, str]]:
    """The page as html.parser's events: (kind, tag or text, attributes, the event's source as written)."""
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
        for span in walk(block.spans):
            span.start = min(max(span.start - shift, 0), len(block.text))
            span.end = len(block.text) if span.end is None else min(max(span.end - shift, 0), len(block.text))
        for point in walk(block.spans):
            after = block.text[point.start: point.start + 1]
            point.space_after = point.point and (after == " " or not after)
        self.items.append(block)


