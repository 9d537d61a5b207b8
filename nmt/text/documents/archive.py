"""Documents that are zip archives of XML (.docx, .pptx, .odt, .odp, .epub), read as untrusted input: every
limit is checked before anything is decompressed or parsed, and the translated archive is written member
for member in the input's order, with each member's name, date and compression kept.

Refused, each with one line that says why (NMTError): not a zip archive or a truncated one; more members,
more uncompressed bytes, or a higher compression ratio than DocumentLimits allows (a zip bomb declares
small sizes and inflates: a member is read at most to its declared size + 1 byte); member names with `..`,
an absolute path or a drive; XML with a document type declaration (no OOXML, ODF or EPUB content part has
one, and that is where entity-expansion and external-entity attacks live). lxml then parses without
resolving entities, loading DTDs or touching the network.
"""

from __future__ import annotations

import io
import re
import zipfile

from nmt import NMTError
from nmt.config import DocumentLimits

DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def lxml_etree():
    try:
        from lxml import etree
    except ImportError:
        raise NMTError("translating documents needs the documents extra: pip install 'nmt[documents]'") \
            from None
    return etree


class Archive:
    """A checked zip archive: its members' bytes by name, in order; `replace` some, `write` all."""

    def __init__(self, data: bytes, kind: str, limits: DocumentLimits):
        self.kind = kind
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise NMTError(f"not a .{kind} file: it is not a readable zip archive ({e}); "
                           "check the file and its extension") from None
        if len(infos) > limits.max_members:
            raise NMTError(f"the .{kind} file holds {len(infos)} members, more than the limit of "
                           f"{limits.max_members}; refused as a possible zip bomb")
        total = sum(info.file_size for info in infos)
        if total > limits.max_unpacked:
            raise NMTError(f"the .{kind} file unpacks to {total:,} bytes, more than the limit of "
                           f"{limits.max_unpacked:,}; refused as a possible zip bomb")
        for info in infos:
            name = info.filename
            parts = re.split(r"[/\\]", name)
            if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
                raise NMTError(f"the .{kind} file has a member named {name!r} (an absolute path or ..); "
                               "refused")
            if info.file_size > 1_000_000 and info.file_size > limits.max_ratio * max(1, info.compress_size):
                ratio = info.file_size // max(1, info.compress_size)
                raise NMTError(f"member {name} of the .{kind} file inflates {ratio} times, more than the "
                               f"limit of {limits.max_ratio}; refused as a possible zip bomb")
        self.infos = infos
        self.replaced: dict[str, bytes] = {}

    def names(self) -> list[str]:
        return [info.filename for info in self.infos]

    def read(self, name: str) -> bytes:
        info = self.zip.getinfo(name)
        try:
            with self.zip.open(info) as member:
                data = member.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
            raise NMTError(f"member {name} of the .{self.kind} file cannot be read ({e}); the file is "
                           "corrupt or truncated") from None
        if len(data) > info.file_size:
            raise NMTError(f"member {name} of the .{self.kind} file is larger than it declares; refused as a "
                           "possible zip bomb")
        return data

    def xml(self, name: str):
        """A member parsed as XML, safely (see the module's docstring)."""
        etree = lxml_etree()
        data = self.read(name)
        if DOCTYPE.search(data):
            raise NMTError(f"member {name} of the .{self.kind} file declares a document type or entities, "
                           "which these documents never do; refused")
        parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
                                 remove_blank_text=False)
        try:
            return etree.fromstring(data, parser)
        except etree.XMLSyntaxError as e:
            raise NMTError(f"member {name} of the .{self.kind} file is not well-formed XML ({e}); the file "
                           "is corrupt") from None

    def replace_xml(self, name: str, root) -> None:
        etree = lxml_etree()
        self.replaced[name] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)

    def write(self) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for info in self.infos:
                data = self.replaced.get(info.filename)
                target.writestr(info, self.read(info.filename) if data is None else data,
                                compress_type=info.compress_type)
        return out.getvalue()
