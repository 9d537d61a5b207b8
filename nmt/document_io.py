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


def translate_document_io(translator, input: str, output: str, kind: str, *, progress=None,
                          **options):
    """Translate the document at `input` (- : standard input) into `output` (- : standard output; a file is
    written atomically, and not at all on an error). Returns the DocumentTranslation."""
    from nmt.fileio import atomic_write_bytes
    if output == "-" and kind not in ("md", "srt", "vtt", "pdf") and sys.stdout.isatty():
        raise NMTError(f"a .{kind} file is not for a terminal: give --output FILE")
    if input == "-":
        data = sys.stdin.buffer.read()
    elif not Path(input).is_file():
        raise NMTError(f"{input}: no such input file")
    else:
        data = Path(input).read_bytes()
    if output != "-" and input != "-" and Path(input).resolve() == Path(output).resolve():
        raise NMTError(f"{output}: the output would overwrite the input; give another name")
    output_kind = None
    if kind in documents.OUTPUTS:
        output_kind = documents.kind_of(output) if output != "-" else documents.OUTPUTS[kind][0]
        if output_kind not in documents.OUTPUTS[kind]:
            raise NMTError(f"a .{kind} file is translated into text or HTML (its layout is not kept): give "
                           f"an --output ending in {' or '.join('.' + c for c in documents.OUTPUTS[kind])}")
    result = translator.translate_document(data, kind, output_kind=output_kind, progress=progress, **options)
    if output == "-":
        sys.stdout.buffer.write(result.data)
        sys.stdout.buffer.flush()
    else:
        atomic_write_bytes(output, result.data)
    return result
