"""A paragraph of a word processor or slide as the text pipeline sees it: runs of formatted text become an
HTML fragment whose inline elements the pipeline places on the translated words by attention (markup.py),
and the translated fragment becomes runs again.

A paragraph is a list of Pieces (text with a formatting and a link, each an index into the paragraph's own
lists) and Points (whatever is not text: a tab, a line break, an image, a field, a footnote mark), in
reading order. The most used formatting is the paragraph's base and is left unmarked; every other one is a
`span`, a link an `a`, a point an `img`, each naming its index. Worked example (a Word paragraph
"Der *große* Hund [läuft](https://x.org)."):

    pieces: "Der " (base), "große" (formatting 1), " Hund " (base), "läuft" (base, link 0), "." (base)
    to_html(...)      -> 'Der <span data-f="1">große</span> Hund <a data-l="0">läuft</a>.'
    translated         'The <span data-f="1">big</span> dog <a data-l="0">runs</a>.'
    from_html(...)    -> "The " (base), "big" (1), " dog " (base), "runs" (base, link 0), "." (base)

tests/test_documents.py replays it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass
class Piece:
    text: str
    style: int | None = None  # None: the paragraph's base formatting
    link: int | None = None


@dataclass
class Point:
    index: int  # into the paragraph's points, kept as they are


Item = Piece | Point


def to_html(items: list[Item]) -> str:
    """The paragraph as an HTML fragment (see the module's docstring)."""
    out: list[str] = []
    link = style = None
    for item in items:
        if isinstance(item, Point) or item.link != link:
            if style is not None:
                out.append("</span>")
                style = None
            if link is not None:
                out.append("</a>")
                link = None
        if isinstance(item, Point):
            out.append(f'<img data-p="{item.index}">')
            continue
        if item.link != link:
            link = item.link
            out.append(f'<a data-l="{link}">')
        if item.style != style:
            if style is not None:
                out.append("</span>")
            style = item.style
            if style is not None:
                out.append(f'<span data-f="{style}">')
        out.append(html.escape(item.text, quote=False))
    out.append("</span>" * (style is not None) + "</a>" * (link is not None))
    return "".join(out)


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.items: list[Item] = []
        self.stack: list[tuple[str, dict]] = []

    def _innermost(self, key: str) -> int | None:
        for _, attrs in reversed(self.stack):
            if attrs.get(key) is not None:
                return int(attrs[key])
        return None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-p" in attrs:
            self.items.append(Point(int(attrs["data-p"])))
        elif tag != "img":
            self.stack.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        if "data-p" in dict(attrs):
            self.items.append(Point(int(dict(attrs)["data-p"])))

    def handle_endtag(self, tag):
        for k in range(len(self.stack) - 1, -1, -1):
            if self.stack[k][0] == tag:
                del self.stack[k:]
                return

    def handle_data(self, data):
        style, link = self._innermost("data-f"), self._innermost("data-l")
        last = self.items[-1] if self.items else None
        if isinstance(last, Piece) and (last.style, last.link) == (style, link):
            last.text += data
        else:
            self.items.append(Piece(data, style, link))


def from_html(fragment: str) -> list[Item]:
    """The paragraph's items from its translated fragment: adjacent text of one formatting and link joined."""
    reader = _Reader()
    reader.feed(fragment)
    reader.close()
    return reader.items


def translatable(items: list[Item]) -> bool:
    return any(ch.isalpha() for item in items if isinstance(item, Piece) for ch in item.text)
