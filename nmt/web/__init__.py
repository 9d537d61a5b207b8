"""A web folder: an exported model that translates inside the browser, offline (`nmt export --web DIR`).

    index.html, nmt-web.js   the page and its search (page/; nmt-lite's rules, see nmt-web.js)
    manifest.js              which model files and graphs the folder holds
    model/*.js               the export's files as asset scripts (assets.py): nmt-export.json, the two
                             sentencepiece models, encoder and decoder graphs (int8 by default)
    runtime/                 ONNX Runtime Web and sentencepiece in WebAssembly, with their licences
                             (pack.py; built by `make web` from pinned npm packages)

Opened from disk or from any static host, the page loads everything from the folder itself; nothing is
fetched from elsewhere, before or after it is ready.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from nmt import NMTError
from nmt.web.assets import asset_script

HERE = Path(__file__).parent
RUNTIME = HERE / "runtime"          # pack.py writes it (make web)
PAGE = HERE / "page"
GRAPHS = {"int8": ".int8.onnx", "fp32": ".onnx"}
META = "nmt-export.json"


def build(export: str | Path, out: str | Path, graphs: tuple[str, ...] = ("int8",),
          runtime: Path = RUNTIME) -> dict:
    """Write the web folder `out` (replaced if it exists) from the export folder `export`, with the
    graphs named (int8 and/or fp32; the first is the page's default). Returns the manifest."""
    export, out = Path(export), Path(out)
    if not (runtime / "runtime.json").is_file():
        raise NMTError(f"no browser runtime in {runtime}; build it with `make web` (npm installs the pinned "
                       "ONNX Runtime Web and sentencepiece packages)")
    unknown = [g for g in graphs if g not in GRAPHS]
    if unknown or not graphs:
        raise NMTError(f"web graphs are int8 and/or fp32, got {', '.join(graphs) or 'none'}")
    files = [META, "src.model", "tgt.model"]
    files += [f"{part}{GRAPHS[g]}" for g in graphs for part in ("encoder", "decoder")]
    missing = [f for f in files if not (export / f).is_file()]
    if missing:
        hint = " (export with --int8)" if any(".int8." in f for f in missing) else ""
        raise NMTError(f"{export}: {', '.join(missing)} missing{hint}")
    meta = json.loads((export / META).read_text(encoding="utf-8"))
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    (work / "model").mkdir(parents=True)
    for name in files:
        (work / "model" / f"{name}.js").write_text(asset_script(name, (export / name).read_bytes()),
                                                    encoding="ascii")
    shutil.copytree(runtime, work / "runtime")
    for page_file in ("index.html", "nmt-web.js", "placeholders.js"):
        shutil.copyfile(PAGE / page_file, work / page_file)
    manifest = {"files": files, "graphs": list(graphs), "languages": meta.get("languages"),
                "runtime": json.loads((runtime / "runtime.json").read_text(encoding="utf-8"))["packages"]}
    if meta.get("placeholders"):  # the page finds URLs and e-mail addresses by these (placeholders.js)
        manifest["tlds"] = top_level_domains()
    (work / "manifest.js").write_text(f"window.nmtManifest = {json.dumps(manifest)};\n", encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    work.replace(out)
    return manifest


def top_level_domains() -> list[str]:
    """The top-level domains urlextract ships, lowercase: what text/spans.py knows URLs by."""
    from importlib.resources import files
    listed = files("urlextract").joinpath("data", "tlds-alpha-by-domain.txt").read_text(encoding="utf-8")
    return sorted({line.strip().lower() for line in listed.splitlines()
                   if line.strip() and not line.startswith("#")})


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a web folder build() wrote; NMTError if `folder` is not one."""
    path = Path(folder) / "manifest.js"
    try:
        text = path.read_text(encoding="utf-8").strip()
        return json.loads(text.removeprefix("window.nmtManifest = ").removesuffix(";"))
    except (OSError, ValueError):
        raise NMTError(f"{folder}: not a web folder (no readable manifest.js); make one with "
                       "`nmt export RUN --out DIR --web WEB`") from None


def size_mb(folder: str | Path) -> float:
    """The folder's size on disk, all files."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 2**20
