"""Getting Multi30k task 1: download (or read from a local mirror), verify sha256, write plain text."""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from nmt import NMTError
from nmt.fileio import atomic_write_bytes

OFFICIAL_URL = "https://github.com/multi30k/dataset/raw/master/data/task1/raw"
MIRROR_ENV = "NMT_MULTI30K_MIRROR"
LANGS = ("de", "en", "fr", "cs")
# upstream split name -> our file stem
SPLITS = {"train": "train", "val": "val", "test_2016_flickr": "test2016", "test_2017_flickr": "test2017"}
SUMS_FILE = Path(__file__).parent / "checksums" / "multi30k.sha256"


def load_sums(path: Path = SUMS_FILE) -> dict[str, str]:
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            sums[name] = digest
    return sums


def _read_source(name: str, mirror: str | None) -> bytes:
    base = mirror or OFFICIAL_URL
    if "://" not in base:  # a local folder
        path = Path(base) / name
        if not path.is_file():
            raise NMTError(f"{path}: not found in the mirror folder {base}; "
                           "it must hold the Multi30k task 1 .gz files")
        return path.read_bytes()
    url = f"{base.rstrip('/')}/{name}"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise NMTError(
            f"could not download {url} ({reason}). Without network access, pass --mirror DIR "
            f"(or set {MIRROR_ENV}) to a folder holding the Multi30k task 1 .gz files"
        ) from None


def fetch_multi30k(out: Path, src: str = "de", tgt: str = "en", mirror: str | None = None,
                   sums: dict[str, str] | None = None, force: bool = False) -> list[tuple[Path, int]]:
    """Write `{train,val,test2016,test2017}.{src,tgt}` under `out`; return (path, line count) pairs.

    Every .gz is checked against the sums kept in the project before anything is written, so a
    corrupted or tampered download never becomes training data. Czech has no test2017: skipped.
    """
    for lang in (src, tgt):
        if lang not in LANGS:
            raise NMTError(f"unknown language {lang!r}; Multi30k task 1 has {', '.join(LANGS)}")
    if src == tgt:
        raise NMTError("--src and --tgt must differ")
    sums = load_sums() if sums is None else sums
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    jobs = []
    for split, stem in SPLITS.items():
        names = [f"{split}.{lang}.gz" for lang in (src, tgt)]
        if all(name in sums for name in names):
            jobs.append((stem, names))
    targets = [out / f"{stem}.{lang}" for stem, _ in jobs for lang in (src, tgt)]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise NMTError(f"{existing[0]} already exists; pass --force to overwrite, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, names in jobs:
        for lang, name in zip((src, tgt), names, strict=True):
            blob = _read_source(name, mirror)
            digest = hashlib.sha256(blob).hexdigest()
            if digest != sums[name]:
                raise NMTError(
                    f"{name}: sha256 {digest} does not match the expected {sums[name]}; "
                    "the file is corrupted or not the official one, refusing it"
                )
            text = gzip.decompress(blob)
            path = out / f"{stem}.{lang}"
            atomic_write_bytes(path, text)
            written.append((path, text.count(b"\n") + (not text.endswith(b"\n") and len(text) > 0)))
    return written
