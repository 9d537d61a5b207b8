"""Word-processor and slide documents: .docx and .pptx (Office Open XML), .odt and .odp (OpenDocument).

One walk over the XML parts of the zip (archive.py) with lxml, rather than python-docx / python-pptx /
odfpy: those libraries expose the body's paragraphs but not every part (python-docx reaches neither
footnotes, comments nor text boxes), and three object models would be three walks. Here a format is a
list of parts and the names of its paragraph, run and text elements; every paragraph of every part is
read into runs.py's Pieces and Points, translated as an HTML fragment, and written back. Everything that
is not the text of a paragraph (styles, images, numbering, fields, relationships, other members) is
copied unchanged; a field (a page number, a table of contents) is one Point and keeps its result.

Parts translated: .docx the body, headers, footers, footnotes, endnotes and comments (tables and text
boxes are paragraphs inside them); .pptx every slide and its notes; .odt and .odp content.xml (body,
tables, frames, notes, annotations) and styles.xml (headers and footers).
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from dataclasses import dataclass, field

from nmt import NMTError
from nmt.config import DocumentLimits
from nmt.text.documents.archive import Archive, lxml_etree
from nmt.text.documents.runs import Item, Piece, Point, from_html, to_html, translatable

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


@dataclass(frozen=True)
class Grammar:
    """How an Office Open XML format writes a paragraph."""
    parts: str                  # regular expression over member names
    required: str               # a member every such file has
    paragraph: str
    run: str
    props: str                  # a run's formatting
    text: str
    keep: tuple[str, ...]       # a paragraph's own children that stay where they are (its properties)
    # containers of runs kept around the words they held, as a link is: a hyperlink, a tracked insertion,
    # a smart tag
    containers: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()  # children that mean nothing once translated (spelling marks)


DOCX = Grammar(r"word/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml", "word/document.xml",
               W + "p", W + "r", W + "rPr", W + "t", (W + "pPr",),
               (W + "hyperlink", W + "ins", W + "smartTag"), (W + "proofErr",))
PPTX = Grammar(r"ppt/(slides/slide|notesSlides/notesSlide)\d+\.xml", "ppt/presentation.xml",
               A + "p", A + "r", A + "rPr", A + "t", (A + "pPr", A + "endParaRPr"))
ODF_PARTS = r"(content|styles)\.xml"
ODF_MIMETYPES = {"odt": b"application/vnd.oasis.opendocument.text",
                 "odp": b"application/vnd.oasis.opendocument.presentation"}


@dataclass
class Paragraph:
    """A paragraph read: its items, and what their indices name (formattings, links, points)."""
    element: object
    items: list[Item]
    styles: list = field(default_factory=list)   # formatting i: a run-properties element or a style name
    base: object = None                           # the base formatting
    links: list = field(default_factory=list)     # link i: the element that held the runs (a container)
    points: list[tuple[list, object]] = field(default_factory=list)  # (elements, run properties or None)


class OfficeDocument:
    """An office file's paragraphs as HTML fragments (`blocks`), and the file again with them translated."""
    block_format = "html"

    def __init__(self, data: bytes, kind: str, limits: DocumentLimits):
        self.kind, self.archive, self.notes = kind, Archive(data, kind, limits), []
        names = self.archive.names()
        if kind in ODF_MIMETYPES:
            if "mimetype" not in names or self.archive.read("mimetype").strip() != ODF_MIMETYPES[kind]:
                raise NMTError(f"not a .{kind} file: its mimetype member does not say "
                               f"{ODF_MIMETYPES[kind].decode()}; check the file and its extension")
            pattern, reader, tags = ODF_PARTS, _read_odf, (TEXT + "p", TEXT + "h")
        else:
            grammar = DOCX if kind == "docx" else PPTX
            if grammar.required not in names:
                raise NMTError(f"not a .{kind} file: it has no {grammar.required}; check the file and its "
                               "extension")
            pattern, reader, tags = grammar.parts, lambda p: _read_ooxml(p, grammar), (grammar.paragraph,)
        self.parts = {name: self.archive.xml(name) for name in names if re.fullmatch(pattern, name)}
        self.paragraphs: list[tuple[str, Paragraph]] = []
        for name, root in self.parts.items():
            for element in list(root.iter(*tags)):
                paragraph = reader(element)
                if translatable(paragraph.items):
                    self.paragraphs.append((name, paragraph))
        self.blocks = [to_html(p.items) for _, p in self.paragraphs]

    def write(self, translated: list[str]) -> bytes:
        writer = _write_odf if self.kind in ODF_MIMETYPES else \
            lambda p, items: _write_ooxml(p, items, DOCX if self.kind == "docx" else PPTX)
        for (_, paragraph), fragment in zip(self.paragraphs, translated, strict=True):
            writer(paragraph, from_html(fragment))
        for name, root in self.parts.items():
            self.archive.replace_xml(name, root)
        return self.archive.write()


def _style_index(paragraph: Paragraph, key, keys: list) -> int:
    if key not in keys:
        keys.append(key)
    return keys.index(key)


def _finish(paragraph: Paragraph, keys: list, chars: Counter) -> None:
    """Make the formatting with most characters the base: its pieces unmarked."""
    if not chars:
        return
    base = max(chars, key=chars.__getitem__)
    paragraph.base = paragraph.styles[base]
    for item in paragraph.items:
        if isinstance(item, Piece) and item.style == base:
            item.style = None


# -- Office Open XML: a paragraph is a sequence of runs, each with properties and text -------------------
def _read_ooxml(p, g: Grammar) -> Paragraph:
    etree = lxml_etree()
    paragraph = Paragraph(p, [])
    keys: list[bytes] = []
    chars: Counter = Counter()
    field_group: list | None = None  # the elements of a complex field, begin to end

    def point(elements: list, props=None) -> None:
        paragraph.points.append((elements, props))
        paragraph.items.append(Point(len(paragraph.points) - 1))

    def run(r, link: int | None) -> None:
        props = r.find(g.props)
        key = etree.tostring(props) if props is not None else b""
        style = _style_index(paragraph, key, keys)
        if style == len(paragraph.styles):
            paragraph.styles.append(props)
        children = [c for c in r if c is not props]
        if any(c.tag != g.text for c in children) and len(children) == 1:
            point([r])
            return
        for child in children:
            if child.tag == g.text:
                text = child.text or ""
                chars[style] += len(text)
                paragraph.items.append(Piece(text, style, link))
            else:
                point([child], props)

    for child in p:
        if field_group is not None:
            field_group.append(child)
            if child.find(f"{W}fldChar[@{W}fldCharType='end']") is not None:
                point(field_group)
                field_group = None
        elif child.tag in g.keep or child.tag in g.dropped:
            continue
        elif child.tag == g.run and child.find(f"{W}fldChar[@{W}fldCharType='begin']") is not None:
            field_group = [child]
        elif child.tag == g.run:
            run(child, None)
        elif child.tag in g.containers and all(c.tag == g.run for c in child):
            paragraph.links.append(child)
            for r in child:
                run(r, len(paragraph.links) - 1)
        else:
            point([child])
    if field_group is not None:  # a field that never ends: kept whole
        point(field_group)
    _finish(paragraph, keys, chars)
    return paragraph


def _write_items(paragraph: Paragraph, items: list[Item], put_point, put_text) -> None:
    """Both writers' walk over a translated paragraph: each point put back (put_point(elements, props)), each
    piece of text put (put_text(parent, text, formatting)) inside a copy of its container when it had one."""
    etree = lxml_etree()
    container, held = None, None
    for item in items:
        if isinstance(item, Point):
            put_point(*paragraph.points[item.index])
            held = None
            continue
        if not item.text:
            continue
        if item.link is None:
            held = None
        elif item.link != held:
            source = paragraph.links[item.link]
            container, held = etree.SubElement(paragraph.element, source.tag, dict(source.attrib)), item.link
        put_text(paragraph.element if held is None else container, item.text,
                 paragraph.base if item.style is None else paragraph.styles[item.style])


def _write_ooxml(paragraph: Paragraph, items: list[Item], g: Grammar) -> None:
    etree = lxml_etree()
    p = paragraph.element
    kept = [c for c in p if c.tag in g.keep]
    for child in list(p):
        p.remove(child)
    p.extend(c for c in kept if c.tag != A + "endParaRPr")

    def put_point(elements: list, props) -> None:
        if props is None:
            p.extend(elements)
            return
        wrapper = etree.SubElement(p, g.run)
        wrapper.append(copy.deepcopy(props))
        wrapper.extend(elements)

    def put_text(parent, text: str, props) -> None:
        r = etree.SubElement(parent, g.run)
        if props is not None:
            r.append(copy.deepcopy(props))
        t = etree.SubElement(r, g.text)
        t.text = text
        if g.text == W + "t":
            t.set(XML_SPACE, "preserve")

    _write_items(paragraph, items, put_point, put_text)
    p.extend(c for c in kept if c.tag == A + "endParaRPr")


# -- OpenDocument: a paragraph is mixed content, spans and links holding text ------------------------------
def _read_odf(p) -> Paragraph:
    paragraph = Paragraph(p, [])
    keys: list[str | None] = []
    chars: Counter = Counter()

    def text(value: str | None, style_name: str | None, link: int | None) -> None:
        if value:
            style = _style_index(paragraph, style_name, keys)
            if style == len(paragraph.styles):
                paragraph.styles.append(style_name)
            chars[style] += len(value)
            paragraph.items.append(Piece(value, style, link))

    def walk(element, style_name: str | None, link: int | None) -> None:
        text(element.text, style_name, link)
        for child in element:
            if child.tag == TEXT + "span":
                walk(child, child.get(TEXT + "style-name", style_name), link)
            elif child.tag == TEXT + "a" and link is None:
                paragraph.links.append(child)
                walk(child, style_name, len(paragraph.links) - 1)
            elif child.tag == TEXT + "s":
                text(" " * int(child.get(TEXT + "c", "1")), style_name, link)
            else:  # a tab, a line break, a note, a frame, a bookmark, a field: kept as it is
                paragraph.points.append(([child], None))
                paragraph.items.append(Point(len(paragraph.points) - 1))
            text(child.tail, style_name, link)

    walk(p, None, None)
    _finish(paragraph, keys, chars)
    return paragraph


def _write_odf(paragraph: Paragraph, items: list[Item]) -> None:
    etree = lxml_etree()
    p = paragraph.element
    for child in list(p):
        child.tail = None
        p.remove(child)
    p.text = None

    def put_point(elements: list, _props) -> None:
        for element in elements:
            element.tail = None
            p.append(element)

    def put_text(parent, text: str, style: str | None) -> None:
        if style is not None:
            etree.SubElement(parent, TEXT + "span", {TEXT + "style-name": style}).text = text
        elif len(parent):
            parent[-1].tail = (parent[-1].tail or "") + text
        else:
            parent.text = (parent.text or "") + text

    _write_items(paragraph, items, put_point, put_text)
