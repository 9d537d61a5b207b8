"""Documents: files as people keep them, read into blocks the text pipeline translates (HTML fragments or
plain text) and written again around their translations, with everything else kept.

    kind    module          what a block is
    txt     here            a line
    html    here            the whole page (markup.py keeps its markup)
    md      markdown.py     a paragraph, heading, list item or table cell, emphasis and links inline
    srt vtt subtitles.py    a sentence, its cues inline
    docx pptx odt odp       office.py: a paragraph, runs of other formatting and links inline
    epub    here            a page (XHTML) of the book
    pdf     here            a paragraph of extracted text; the output is text or HTML, without the layout

Every document has `kind`, `blocks`, `block_format` ("text" or "html": how the pipeline reads a block),
`notes` (lines to tell the user), `output_kind` (what it is written as) and `write(translations) -> bytes`.
open_document checks what the file is before reading it (its size, and that its first bytes are what its
kind says): documents are untrusted.
The readers need the `documents` extra (lxml, markdown-it-py, pypdf); plain text and HTML do not.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from nmt import NMTError
from nmt.config import DocumentLimits

KINDS = ("txt", "html", "md", "srt", "vtt", "docx", "pptx", "odt", "odp", "epub", "pdf")
ALIASES = {"htm": "html", "xhtml": "html", "markdown": "md", "text": "txt"}
ZIPPED = ("docx", "pptx", "odt", "odp", "epub")
OUTPUTS = {"pdf": ("txt", "html")}  # a kind whose output is another kind: the choices, the first the default
EXTRAS = {"md": "markdown_it", "pdf": "pypdf", **{kind: "lxml" for kind in ZIPPED if kind != "epub"}}


def kind_of(path: str | Path) -> str | None:
    """The document kind a file name says (by its extension), or None."""
    suffix = Path(str(path)).suffix.lower().lstrip(".")
    suffix = ALIASES.get(suffix, suffix)
    return suffix if suffix in KINDS else None


def check_kind(kind: str) -> str:
    kind = ALIASES.get(kind.lower().lstrip("."), kind.lower().lstrip("."))
    if kind not in KINDS:
        raise NMTError(f"{kind!r} is not a document kind nmt reads; it reads {', '.join(KINDS)}")
    return kind


def available(kind: str) -> bool:
    """Is the library this kind needs installed (the documents extra)?"""
    import importlib.util
    return kind not in EXTRAS or importlib.util.find_spec(EXTRAS[kind]) is not None


def written_kind(kind: str, wanted: str | None = None) -> str:
    """What a document of `kind` is written as: itself, or for a PDF "txt" (the default) or "html". wanted:
    a kind or an output file's extension (".html"); one the kind cannot be written as is refused."""
    choices = OUTPUTS.get(kind, (kind,))
    if wanted is None:
        return choices[0]
    name = wanted.lower().lstrip(".")
    name = ALIASES.get(name, name)
    if name not in choices:
        said = f".{name}" if name else "a name without an extension"
        raise NMTError(f"a .{kind} file is written as {' or '.join('.' + c for c in choices)}, not {said}"
                       + (" (its layout is not kept)" if kind in OUTPUTS else ""))
    return name


def decode_text(data: bytes, kind: str) -> str:
    """A text document's characters: UTF-8 (a byte-order mark dropped), else one line saying what to do."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NMTError(f"the .{kind} file is not UTF-8 text (byte {e.start}); convert it first, e.g. "
                       f"iconv -f latin1 -t utf-8") from None


def open_document(data: bytes, kind: str, limits: DocumentLimits | None = None, *,
                  output_kind: str | None = None):
    """The document of `kind` in `data` (see the module's docstring), or NMTError saying why not.
    output_kind: what to write it as (written_kind's `wanted`)."""
    limits = limits or DocumentLimits()
    kind = check_kind(kind)
    written_as = written_kind(kind, output_kind)
    if len(data) > limits.max_bytes:
        raise NMTError(f"the .{kind} file has {len(data):,} bytes, more than the limit of "
                       f"{limits.max_bytes:,}")
    if not available(kind):
        raise NMTError(f"translating .{kind} files needs the documents extra: pip install 'nmt[documents]'")
    zipped, pdf = data[:4] == b"PK\x03\x04", data[:5] == b"%PDF-"
    if kind in ZIPPED and not zipped:
        raise NMTError(f"not a .{kind} file: it is not a zip archive; check the file and its extension")
    if kind == "pdf" and not pdf:
        raise NMTError("not a .pdf file: it does not start with %PDF-; check the file and its extension")
    if kind not in ZIPPED and kind != "pdf" and (zipped or pdf):
        what = "zip archive (.docx, .odt, ...?)" if zipped else "PDF"
        raise NMTError(f"not a .{kind} file: it is a {what}; give its real extension or --format")
    if kind in ("docx", "pptx", "odt", "odp"):
        from nmt.text.documents.office import OfficeDocument
        document = OfficeDocument(data, kind, limits)
    elif kind in ("srt", "vtt"):
        from nmt.text.documents.subtitles import SubtitleDocument
        document = SubtitleDocument(data, kind)
    elif kind == "md":
        from nmt.text.documents.markdown import MarkdownDocument
        document = MarkdownDocument(data, kind)
    elif kind == "epub":
        document = EpubDocument(data, limits)
    elif kind == "pdf":
        document = PdfDocument(data)
    else:
        document = TextDocument(data, kind)
    document.output_kind = written_as
    chars = sum(len(block) for block in document.blocks)
    if chars > limits.max_chars:
        raise NMTError(f"the .{kind} file holds {chars:,} characters to translate, more than the limit of "
                       f"{limits.max_chars:,}")
    return document


class TextDocument:
    """Plain text (a block per line) or an HTML page (one block)."""

    def __init__(self, data: bytes, kind: str):
        self.kind, self.notes = kind, []
        text = decode_text(data, kind)
        self.block_format = "html" if kind == "html" else "text"
        self.blocks = [text] if kind == "html" else text.split("\n")

    def write(self, translated: list[str]) -> bytes:
        return "\n".join(translated).encode("utf-8")


class EpubDocument:
    """An EPUB book: each XHTML page translated as HTML (markup.py), every other member copied."""
    block_format = "html"

    def __init__(self, data: bytes, limits: DocumentLimits):
        from nmt.text.documents.archive import Archive
        self.kind, self.notes = "epub", []
        self.archive = Archive(data, "epub", limits)
        names = self.archive.names()
        if "mimetype" not in names or self.archive.read("mimetype").strip() != b"application/epub+zip":
            raise NMTError("not a .epub file: its mimetype member does not say application/epub+zip; check "
                           "the file and its extension")
        self.pages = [name for name in names if re.search(r"\.(x?html?)$", name, re.IGNORECASE)]
        self.blocks = [decode_text(self.archive.read(name), "epub page") for name in self.pages]

    def write(self, translated: list[str]) -> bytes:
        for name, page in zip(self.pages, translated, strict=True):
            self.archive.replaced[name] = page.encode("utf-8")
        return self.archive.write()


class PdfDocument:
    """A PDF's text (pypdf), a block per paragraph; written as text or as HTML. The layout is not kept: pypdf
    extracts text, and no well-kept library writes translated text back into a PDF's positioned glyphs."""
    block_format = "text"

    def __init__(self, data: bytes):
        import io

        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
        self.kind = "pdf"
        self.notes = ["a PDF's text is translated; its layout is not kept (the output is text or HTML)"]
        try:
            pages = [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]
        except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
            raise NMTError(f"the .pdf file cannot be read ({type(e).__name__}: {e}); it is corrupt or "
                           "encrypted") from None
        self.pages: list[int] = []  # the page of each block
        self.blocks: list[str] = []
        for number, text in enumerate(pages, start=1):
            text = re.sub(r"-\n(?=[a-zäöüß])", "", text)  # a word hyphenated at a line's end
            for paragraph in re.split(r"\n\s*\n", text):
                paragraph = " ".join(paragraph.split())
                if paragraph:
                    self.pages.append(number)
                    self.blocks.append(paragraph)
        if not self.blocks:
            self.notes.append("the PDF holds no text to extract (a scan needs OCR first)")

    def write(self, translated: list[str]) -> bytes:
        if self.output_kind == "txt":
            return "\n\n".join(translated).encode("utf-8") + b"\n"
        import html
        out, page = ['<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>'], 0
        for number, text in zip(self.pages, translated, strict=True):
            if number != page:
                out.append(f'<section id="page-{number}">' if not page else
                           f'</section>\n<section id="page-{number}">')
                page = number
            out.append(f"<p>{html.escape(text)}</p>")
        out.append("</section></body></html>\n" if page else "</body></html>\n")
        return "\n".join(out).encode("utf-8")
