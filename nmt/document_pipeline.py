"""Documents through the text pipeline: a file's blocks (text/documents/) translated a chunk at a time by
TextPipeline.translate, and the file written again around them. TextPipeline.translate_document and
translate_file call these; the server feeds the same chunks to its batcher (serving/file_api.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nmt import NMTError
from nmt.config import DocumentLimits
from nmt.fileio import atomic_write_bytes
from nmt.text import documents
from nmt.text.lines import Translation

# a document's blocks (paragraphs, cues...) decoded together: enough sentences to fill length-sorted batches,
# few enough that the progress line moves on a long document
CHUNK_BLOCKS = 256


@dataclass
class DocumentTranslation:
    """A translated document: its bytes, its kind (a PDF comes back as txt or html), the blocks translated
    and what the user should be told (a sentence cut for its length, a PDF's lost layout)."""
    data: bytes
    kind: str
    blocks: int
    warnings: list[str] = field(default_factory=list)


def document_chunks(document, size: int = CHUNK_BLOCKS) -> list[list[str]]:
    """A document's blocks in the groups that are translated together."""
    return [document.blocks[at:at + size] for at in range(0, len(document.blocks), size)]


def finish_document(document, done: list[Translation]) -> DocumentTranslation:
    """The document written around its blocks' translations, with what the user should be told."""
    warnings = [*document.notes, *(w for t in done for w in t.warnings)]
    return DocumentTranslation(document.write([t.text for t in done]), document.output_kind, len(done),
                               list(dict.fromkeys(warnings)))


def translate_document(engine, data: bytes, kind: str, *, output_kind: str | None = None, glossary=None,
                       limits: DocumentLimits | None = None, progress=None, **options) -> DocumentTranslation:
    """See TextPipeline.translate_document."""
    document = documents.open_document(data, kind, limits, output_kind=output_kind)
    if progress is not None:  # what the progress line's time left is reckoned against
        progress.total = sum(len(block.encode("utf-8")) + 1 for block in document.blocks)
    done: list[Translation] = []
    for chunk in document_chunks(document):
        done += engine.translate(chunk, format=document.block_format, glossary=glossary, **options)
        if progress is not None:
            progress.done_all(chunk)
    return finish_document(document, done)


def translate_file(engine, src: str | Path, dst: str | Path, *, kind: str | None = None,
                   **options) -> DocumentTranslation:
    """See TextPipeline.translate_file."""
    src, dst = Path(src), Path(dst)
    kind = documents.check_kind(kind) if kind else documents.kind_of(src)
    if kind is None:
        raise NMTError(f"{src}: the extension does not say what kind of document it is; give kind (one "
                       f"of {', '.join(documents.KINDS)})")
    if not src.is_file():
        raise NMTError(f"{src}: no such file")
    if src.resolve() == dst.resolve():
        raise NMTError(f"{dst}: the output would overwrite the input; give another name")
    output_kind = dst.suffix if kind in documents.OUTPUTS else None  # a PDF: .txt or .html, by its name
    result = translate_document(engine, src.read_bytes(), kind, output_kind=output_kind, **options)
    atomic_write_bytes(dst, result.data)
    return result
