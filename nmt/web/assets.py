"""Files as scripts: how a web folder carries binary files that a page opened from disk can read.

A page opened from disk (file://) may run <script> tags but may not fetch() its neighbours, and
WebAssembly and ONNX Runtime Web need bytes. So every binary file of a web folder (the models, the
tokenizers, ONNX Runtime's WebAssembly and its loader) is written as a script that hands its content,
gzip-compressed and base64-encoded, to the page's `nmtAsset` (page/nmt-web.js decodes it with the
browser's own DecompressionStream). Worked example:

    asset_script("src.model", b"...")
    -> 'nmtAsset("src.model", "H4sIA...");\n'

The same folder then works from a static host, unchanged. gzip takes the 14.8 MB WebAssembly file to
3.8 MB (5.1 MB as base64) and int8 graphs to 81-83% of their size, which keeps a folder with the
attention recipe's int8 model near 18 MB.
"""

from __future__ import annotations

import base64
import gzip
import json


def asset_script(name: str, data: bytes) -> str:
    """The script that gives the page `data` under `name`."""
    packed = base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")
    return f"nmtAsset({json.dumps(name)}, {json.dumps(packed)});\n"


def read_asset_script(text: str) -> tuple[str, bytes]:
    """asset_script's inverse (for tests and checks): the name and the bytes."""
    head, _, rest = text.partition("(")
    if head.strip() != "nmtAsset":
        raise ValueError("not an asset script")
    name, packed = json.loads("[" + rest.strip().removesuffix(";").removesuffix(")") + "]")
    return name, gzip.decompress(base64.b64decode(packed))
