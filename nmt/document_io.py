"""Documents on the command line, for `nmt translate` and `nmt-lite translate` alike: which format an
input is, and a document read from a file or standard input, translated (TextPipeline.translate_document) and
written to a file (atomically) or standard output."""

from __future__ import annotations

import sys
from pathlib import Path

from nmt import NMTError
from nmt.config import FORMATS
from nmt.text import documents

AUTO = "auto"
CHOICES = (AUTO, *FORMATS, *(k for k in documents.KINDS if k not in ("txt", "html")))
# how --format reads: text and html as before; a document kind through the document layer
SNIFFED = {b"PK\x03\x04": "a zip archive (a .docx, .pptx, .odt or .epub?)", b"%PDF-": "a PDF"}


def choose_format(format: str, input: str) -> str:
    """text, html or a document kind, from --format and the input's name (auto: by its extension)."""
    if format not in CHOICES:
        raise NMTError(f"--format takes {', '.join(CHOICES)}; got {format!r}")
    if format != AUTO:
        return format
    kind = documents.kind_of(input) if input != "-" else None
    return {"txt": "text", None: "text"}.get(kind, kind)


def refuse_binary_as_text(input: str, format: str) -> None:
    """A document read as text would give a confusing line about UTF-8; say what it is instead."""
    if input == "-" or format not in FORMATS or not Path(input).is_file():
        return
    with open(input, "rb") as f:
        head = f.read(8)
    for magic, what in SNIFFED.items():
        if head.startswith(magic):
            raise NMTError(f"{input} is {what}, not {format}: name it with its extension (e.g. report.docx) "
                           "or give --format docx, pptx, odt, odp, epub or pdf")


def translate_document_io(translator, input: str, output: str, kind: str, **options) -> None:
    """Translate the document at `input` (- : standard input) into `output` (- : standard output; a file is
    written atomically, and not at all on an error), with the progress line on a terminal and the result's
    warnings on standard error: what `nmt translate` and `nmt-lite translate` do with a document."""
    from nmt.console import Progress
    progress = Progress(unit="paragraphs", rate_unit="paragraphs")
    if input != "-" and output != "-":
        result = translator.translate_file(input, output, kind=kind, progress=progress, **options)
    else:
        if output == "-" and kind in documents.ZIPPED and sys.stdout.isatty():
            raise NMTError(f"a .{kind} file is not for a terminal: give --output FILE")
        if input != "-" and not Path(input).is_file():
            raise NMTError(f"{input}: no such input file")
        data = sys.stdin.buffer.read() if input == "-" else Path(input).read_bytes()
        wanted = Path(output).suffix if output != "-" and kind in documents.OUTPUTS else None
        result = translator.translate_document(data, kind, output_kind=wanted, progress=progress, **options)
        if output == "-":
            sys.stdout.buffer.write(result.data)
            sys.stdout.buffer.flush()
        else:
            from nmt.fileio import atomic_write_bytes
            atomic_write_bytes(output, result.data)
    progress.close()
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
