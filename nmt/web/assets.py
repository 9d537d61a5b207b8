"""Files as scripts: how a web folder carries binary files that a page opened from disk can read.

A page opened from disk (file://) may run <script> tags but may not fetch() its neighbours, and
WebAssembly and ONNX Runtime Web need bytes. So every binary file of a web folder (the models, the
tokenizers, ONNX Runtime's WebAssembly and its loader) is written as a script that hands its content,
base64-encoded, to the page's `nmtAsset`, gzip-compressed where that pays (page/nmt-web.js decodes it
with the browser's own DecompressionStream). Worked example:

    asset_script("src.model", b"...")
    -> 'nmtAsset("src.model", "gzip", "H4sIA...");\n'

The same folder then works from a static host, unchanged. gzip takes ONNX Runtime's 14.8 MB WebAssembly
file to 3.8 MB (26%) and a sentencepiece model to 53%, but int8 graphs only to 81-83% and fp32 ones to
93%; unpacking costs time on the way to ready, so a file is compressed only below GZIP_SHARE of its size.
Measured in Chromium on the general model (bench web): graphs sent compressed, ready in 1.0-1.1 s;
uncompressed, 0.85-0.92 s, the folder 21 -> 23 MB; the WebAssembly file uncompressed: 1.0-1.2 s, 37 MB.
"""

from __future__ import annotations

import base64
import gzip
import json

GZIP_SHARE = 0.6


def asset_script(name: str, data: bytes) -> str:
    """The script that gives the page `data` under `name`."""
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    encoding = "gzip" if len(packed) < GZIP_SHARE * len(data) else "raw"
    text = base64.b64encode(packed if encoding == "gzip" else data).decode("ascii")
    return f"nmtAsset({json.dumps(name)}, {json.dumps(encoding)}, {json.dumps(text)});\n"


def read_asset_script(text: str) -> tuple[str, bytes]:
    """asset_script's inverse (for tests and checks): the name and the bytes."""
    head, _, rest = text.partition("(")
    if head.strip() != "nmtAsset":
        raise ValueError("not an asset script")
    name, encoding, packed = json.loads("[" + rest.strip().removesuffix(";").removesuffix(")") + "]")
    data = base64.b64decode(packed)
    return name, gzip.decompress(data) if encoding == "gzip" else data
