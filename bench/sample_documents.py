"""Real-shaped documents made from sentences, for `python -m bench documents` and tests/test_documents.py: a
report (.docx: heading, paragraphs with bold, italic and linked words inside sentences, a list, a table, a
header and a comment), a slide deck with notes (.pptx), an .odt, an epub chapter, subtitles with sentences
across cues (.srt, .vtt) and Markdown with code. Made with python-docx, python-pptx, odfpy and ebooklib (the
test extra), so that every output is also reopened by the library that made its input.

A paragraph is a list of (text, mark) runs, mark None, "b", "i" or "a" (a link to https://example.org/).
"""

from __future__ import annotations

import io
import zipfile

Paragraph = list[tuple[str, str | None]]
LINK = "https://example.org/"


def docx_bytes(title: str, paragraphs: list[Paragraph], table: list[list[str]], header: str) -> bytes:
    import docx
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = docx.Document()
    document.add_heading(title, 1)
    for k, runs in enumerate(paragraphs):
        p = document.add_paragraph(style="List Bullet" if k == len(paragraphs) - 1 else None)
        for text, mark in runs:
            if mark == "a":
                rel = p.part.relate_to(LINK, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
                link = OxmlElement("w:hyperlink")
                link.set(qn("r:id"), rel)
                run = OxmlElement("w:r")
                props = OxmlElement("w:rPr")
                style = OxmlElement("w:rStyle")
                style.set(qn("w:val"), "Hyperlink")
                props.append(style)
                run.append(props)
                t = OxmlElement("w:t")
                t.text = text
                run.append(t)
                link.append(run)
                p._p.append(link)
            else:
                run = p.add_run(text)
                run.bold, run.italic = mark == "b" or None, mark == "i" or None
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, text in enumerate(row):
            grid.cell(r, c).text = text
    document.sections[0].header.paragraphs[0].text = header
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx_bytes(title: str, paragraphs: list[Paragraph], notes: str) -> bytes:
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = title
    body = slide.placeholders[1].text_frame
    for k, runs in enumerate(paragraphs):
        p = body.paragraphs[0] if k == 0 else body.add_paragraph()
        for text, mark in runs:
            run = p.add_run()
            run.text = text
            run.font.bold, run.font.italic = (mark == "b") or None, (mark == "i") or None
            if mark == "a":
                run.hyperlink.address = LINK
    slide.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def odt_bytes(title: str, paragraphs: list[Paragraph]) -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.style import Style, TextProperties
    from odf.text import A, H, P, Span

    document = OpenDocumentText()
    styles = {}
    for mark, props in (("b", {"fontweight": "bold"}), ("i", {"fontstyle": "italic"})):
        style = Style(name=f"mark-{mark}", family="text")
        style.addElement(TextProperties(**props))
        document.automaticstyles.addElement(style)
        styles[mark] = style
    document.text.addElement(H(outlinelevel=1, text=title))
    for runs in paragraphs:
        p = P()
        for text, mark in runs:
            if mark in styles:
                p.addElement(Span(stylename=styles[mark], text=text))
            elif mark == "a":
                p.addElement(A(href=LINK, text=text))
            else:
                p.addText(text)
        document.text.addElement(p)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def html_of(paragraphs: list[Paragraph]) -> str:
    tag = {"b": ("<b>", "</b>"), "i": ("<i>", "</i>"), "a": (f'<a href="{LINK}">', "</a>"), None: ("", "")}
    return "\n".join("<p>" + "".join(tag[m][0] + t + tag[m][1] for t, m in runs) + "</p>"
                     for runs in paragraphs)


def epub_bytes(title: str, paragraphs: list[Paragraph]) -> bytes:
    """An EPUB 3 book of one chapter (the members ebooklib writes: mimetype, container, OPF, nav, chapter)."""
    chapter = ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml">'
               f'<head><title>{title}</title></head><body><h1>{title}</h1>\n{html_of(paragraphs)}\n</body></html>\n')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        book.writestr("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0" '
                      'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile '
                      'full-path="OEBPS/book.opf" media-type="application/oebps-package+xml"/></rootfiles>'
                      '</container>')
        book.writestr("OEBPS/book.opf", '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" '
                      'version="3.0" unique-identifier="id"><metadata '
                      'xmlns:dc="http://purl.org/dc/elements/1.1/">'
                      f'<dc:identifier id="id">nmt-sample</dc:identifier><dc:title>{title}</dc:title>'
                      '<dc:language>de</dc:language><meta property="dcterms:modified">2026-01-01T00:00:00Z'
                      '</meta></metadata><manifest><item id="nav" href="nav.xhtml" '
                      'media-type="application/xhtml+xml" properties="nav"/><item id="c1" '
                      'href="chapter.xhtml" media-type="application/xhtml+xml"/></manifest>'
                      '<spine><itemref idref="c1"/></spine></package>')
        book.writestr("OEBPS/nav.xhtml", '<?xml version="1.0" encoding="utf-8"?>\n<html '
                      'xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><head>'
                      '<title>nav</title></head><body><nav epub:type="toc"><ol><li><a href="chapter.xhtml">'
                      f'{title}</a></li></ol></nav></body></html>')
        book.writestr("OEBPS/chapter.xhtml", chapter)
    return out.getvalue()


def subtitles(cues: list[str], kind: str = "srt") -> bytes:
    """Cues two seconds each; in .vtt with a header."""
    def stamp(seconds: int, sep: str) -> str:
        return f"00:{seconds // 60:02d}:{seconds % 60:02d}{sep}000"
    sep = "," if kind == "srt" else "."
    blocks = [f"{k + 1}\n{stamp(2 * k, sep)} --> {stamp(2 * k + 2, sep)}\n{text}"
              for k, text in enumerate(cues)]
    return (("WEBVTT\n\n" if kind == "vtt" else "") + "\n\n".join(blocks) + "\n").encode("utf-8")


def markdown(title: str, paragraphs: list[Paragraph]) -> bytes:
    mark = {"b": ("**", "**"), "i": ("*", "*"), "a": ("[", f"]({LINK})"), None: ("", "")}
    body = ["\n" + "".join(mark[m][0] + t + mark[m][1] for t, m in runs) + "\n" for runs in paragraphs]
    return (f"---\ntitle: {title}\n---\n\n# {title}\n" + "".join(body) +
            "\n```python\nprint('der hund')\n```\n\n- `code` bleibt\n").encode("utf-8")
