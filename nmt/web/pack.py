"""The browser runtime of web folders, packed from the pinned npm packages: `make web` runs

    npm ci --ignore-scripts --prefix web          # web/package-lock.json: exact versions and hashes
    python -m nmt.web.pack web/node_modules nmt/web/runtime

and `nmt export --web` copies what this writes into every web folder:

    ort.wasm.min.js     ONNX Runtime Web, the WebAssembly build (a classic script: works from disk)
    ort-wasm.js         its WebAssembly file and the module that loads it, as asset scripts (assets.py)
    sentencepiece.js    sentencepiece compiled to WebAssembly (@sctg/sentencepiece-js): its module
                        factory alone, as a classic script (the package's ES module also carries three
                        built-in tokenizers, 3.3 MB, and imports Node's fs)
    LICENSES/           both packages' licences
    runtime.json        the packages' versions and each file's SHA-256

Nothing here is fetched when a page runs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

from nmt import NMTError
from nmt.web.assets import asset_script

ORT = "onnxruntime-web"
SENTENCEPIECE = "@sctg/sentencepiece-js"
ORT_FILES = ("ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
FACTORY = "var createSentencePieceModule="
# ONNX Runtime Web's package ships no licence file; its package.json says MIT and its scripts' headers
# "Copyright (c) Microsoft Corporation"
MIT = """MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def sentencepiece_factory(module_text: str) -> str:
    """The emscripten module factory of @sctg/sentencepiece-js's ES module, as a classic script: its one
    line `var createSentencePieceModule=...`, with `import.meta.url` (where to find files it does not
    need: its WebAssembly is inside it) made empty."""
    lines = [line for line in module_text.splitlines() if line.startswith(FACTORY)]
    if len(lines) != 1 or not lines[0].rstrip().endswith("})();"):
        raise NMTError(f"{SENTENCEPIECE}: its module factory was not found where this version keeps it; "
                       "pin the version web/package.json names")
    return lines[0].replace("import.meta.url", '""') + "\n"


def pack(modules: Path, out: Path) -> dict:
    """Write the runtime from the installed npm packages in `modules` (node_modules) into `out`."""
    ort_dir, sp_dir = modules / ORT, modules / SENTENCEPIECE
    for folder in (ort_dir, sp_dir):
        if not (folder / "package.json").is_file():
            raise NMTError(f"{folder}: not installed; run `npm ci --ignore-scripts --prefix web` first")
    work = out.with_name(out.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    (work / "LICENSES").mkdir(parents=True)
    shutil.copyfile(ort_dir / "dist" / "ort.wasm.min.js", work / "ort.wasm.min.js")
    (work / "ort-wasm.js").write_text("".join(asset_script(name, (ort_dir / "dist" / name).read_bytes())
                                              for name in ORT_FILES), encoding="ascii")
    (work / "sentencepiece.js").write_text(
        sentencepiece_factory((sp_dir / "dist" / "index.js").read_text(encoding="utf-8")), encoding="utf-8")
    (work / "LICENSES" / "onnxruntime-web.txt").write_text(MIT, encoding="utf-8")
    shutil.copyfile(sp_dir / "LICENSE", work / "LICENSES" / "sentencepiece-js.txt")
    versions = {name: json.loads((modules / name / "package.json").read_text(encoding="utf-8"))["version"]
                for name in (ORT, SENTENCEPIECE)}
    files = {p.relative_to(work).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(work.rglob("*")) if p.is_file()}
    meta = {"packages": versions, "files": files}
    (work / "runtime.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    work.replace(out)
    return meta


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m nmt.web.pack NODE_MODULES OUT", file=sys.stderr)
        return 2
    try:
        meta = pack(Path(argv[0]), Path(argv[1]))
    except NMTError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in Path(argv[1]).rglob("*") if p.is_file())
    print(f"{argv[1]}: {', '.join(f'{k} {v}' for k, v in meta['packages'].items())}; {size / 2**20:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
