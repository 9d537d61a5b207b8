"""HTML in, HTML out: a page's text is translated and its markup kept. This module holds what a parsed page
is (Document, its Blocks and Inline elements); htmlparse.py reads a page into one, placement.py writes the
translation back with its markup.

htmlparse.parse reads HTML with the standard library's parser (html.parser: tolerant of broken markup, and it
reports where every tag starts, so whatever is not translated is copied byte for byte). The page becomes
a sequence of markup, kept as written, and blocks: the text of a `p`, `li`, `td`, heading... (any
element that is not inline), each translated on its own, sentence by sentence. Inside a block, inline
elements (`b`, `a`, `span`...) are remembered as spans over the block's characters; comments, images
and untouched inline elements (`code`, `translate="no"`) as points. The contents of `script`, `style`,
`pre`, `code` and of any element with `translate="no"` or `class="notranslate"` are never translated.
Attributes are kept as written (not translated). Spacing inside a block is one space; around it, as
written.

`Document.render` (placement.py) puts each span on the target words that attend to its source words: a
target unit (a word, or a punctuation mark of its own) belongs to a span when the source piece it attends
to most lies in the span; the span covers its first to its last such unit. A span no unit attends to most goes
on the unit that attends to it most. Spans stay nested as in the source; siblings keep the target's
order and never overlap. Without alignments (a model without attention) a span covers the whole
translated sentence(s) it was in. Worked example:

    doc = htmlparse.parse('<p>Ein <b>großer</b> Hund.</p>')
    doc.texts                  -> ['Ein großer Hund.']   (span b over characters 4-10)
    translated "A big dog.": target pieces ▁A ▁big ▁dog . attend most to ▁Ein ▁großer ▁Hund .
    doc.render([translation])  -> '<p>A <b>big</b> dog.</p>'

tests/test_markup.py checks it. The output has every tag of the input; an element the input left open
inside a block stays open to the end of the block's translation, and a stray end tag is kept as a point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nmt.text import segment
from nmt.text.placement import render_block, sentence_ranges, walk


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
            marks = [(s.start, s.end) for s in walk(block.spans)]
            for start, end in sentence_ranges(block):
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
                out.append(render_block(item, done) + item.trail)
        return "".join(out)
