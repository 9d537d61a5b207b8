"""Getting public corpora, every file checked against the sha256 sums kept in the package before use.

- Multi30k task 1 (image captions): downloaded, or read from a local mirror; written as plain text.
- Tatoeba's sentence pairs (everyday sentences, the Anki export): from a local mirror, then split into
  train / valid / test without leaks (split.py).
- WMT newstest2014 (news, de-en and fr-en): from a local mirror; a test set far from both domains.

A mirror is a folder holding the files under their published names. Its default is the corpus's
environment variable (NMT_<CORPUS>_MIRROR), else ../shared/data/<corpus> where that folder exists.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from nmt import NMTError
from nmt.config import SplitConfig
from nmt.fileio import atomic_write_bytes, refuse_existing
from nmt.split import SPLITS, PairFile, SplitReport, split

OFFICIAL_URL = "https://github.com/multi30k/dataset/raw/master/data/task1/raw"
MIRROR_ENV = "NMT_MULTI30K_MIRROR"
LANGS = ("de", "en", "fr", "cs")
# upstream split name -> our file stem
MULTI30K_SPLITS = {"train": "train", "val": "val", "test_2016_flickr": "test2016",
                   "test_2017_flickr": "test2017"}
SUMS = Path(__file__).parent / "checksums"
SUMS_FILE = SUMS / "multi30k.sha256"
# Tatoeba: one TSV per language paired with English, English in the first column
TATOEBA = {"de": "deu-eng.tsv.gz", "fr": "fra-eng.tsv.gz"}
# newstest2014, by the language paired with English: (its file, English's file)
NEWS = {lang: (f"newstest2014.{code}-eng.{code}.gz", f"newstest2014.{code}-eng.eng.gz")
        for lang, code in (("de", "deu"), ("fr", "fra"))}


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


def _verified(name: str, blob: bytes, sums: dict[str, str]) -> bytes:
    """`blob` if its sha256 is the one kept for `name`; refused otherwise, before anything is written."""
    digest = hashlib.sha256(blob).hexdigest()
    if digest != sums[name]:
        raise NMTError(f"{name}: sha256 {digest} does not match the expected {sums[name]}; "
                       "the file is corrupted or not the one nmt knows, refusing it")
    return blob


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
    for split_name, stem in MULTI30K_SPLITS.items():
        names = [f"{split_name}.{lang}.gz" for lang in (src, tgt)]
        if all(name in sums for name in names):
            jobs.append((stem, names))
    refuse_existing([out / f"{stem}.{lang}" for stem, _ in jobs for lang in (src, tgt)], force)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, names in jobs:
        for lang, name in zip((src, tgt), names, strict=True):
            text = gzip.decompress(_verified(name, _read_source(name, mirror), sums))
            path = out / f"{stem}.{lang}"
            atomic_write_bytes(path, text)
            written.append((path, _lines(text)))
    return written


def _lines(text: bytes) -> int:
    return text.count(b"\n") + (not text.endswith(b"\n") and len(text) > 0)


def parse_pair(pair: str, languages: Iterable[str]) -> tuple[str, str]:
    """"de-en" -> ("de", "en"), for a pair of English and one of `languages`, either way round."""
    src, sep, tgt = pair.partition("-")
    wanted = sorted(f"{a}-{b}" for lang in languages for a, b in ((lang, "en"), ("en", lang)))
    if not sep or f"{src}-{tgt}" not in wanted:
        raise NMTError(f"--pair takes one of {', '.join(wanted)}, got {pair!r}")
    return src, tgt


def default_mirror(corpus: str) -> str | None:
    """NMT_<CORPUS>_MIRROR, else ../shared/data/<corpus> where that folder exists."""
    env = os.environ.get(f"NMT_{corpus.upper()}_MIRROR")
    shared = Path("..") / "shared" / "data" / corpus
    return env or (str(shared) if shared.is_dir() else None)


# Tatoeba's export is remade from time to time, and only the one whose sums nmt keeps is accepted here
NEWER_TATOEBA = ("; an export of another date fails the checksum: split its .txt (English first) with "
                 "`nmt data split --tsv deu-eng.txt --columns 2,1 --pair de-en --out DIR`")


def _from_mirror(corpus: str, mirror: str | None, name: str, sums: dict[str, str]) -> Path:
    """The checked file `name` of a corpus read from a mirror folder only (`mirror`, else default_mirror)."""
    folder = mirror or default_mirror(corpus)
    env = f"NMT_{corpus.upper()}_MIRROR"
    if folder is None:
        raise NMTError(f"no {corpus} mirror: pass --mirror DIR (or set {env}) to a folder holding {name}"
                       + (NEWER_TATOEBA if corpus == "tatoeba" else ""))
    path = Path(folder) / name
    if not path.is_file():
        raise NMTError(f"{path}: not found in the mirror folder {folder}; it must hold {name}")
    _verified(name, path.read_bytes(), sums)
    return path


def fetch_tatoeba(out: Path, pair: str = "de-en", mirror: str | None = None, cfg: SplitConfig | None = None,
                  *, sums: dict[str, str] | None = None, force: bool = False,
                  progress: Callable[[str], None] = lambda message: None) -> SplitReport:
    """Tatoeba's pairs of `pair` ("de-en", "en-de", "fr-en" or "en-fr") from the mirror's TSV, checked, and
    split by `cfg` into OUT/{train,valid,test}.{src,tgt} without leaks (split.py)."""
    src, tgt = parse_pair(pair, TATOEBA)
    other = src if tgt == "en" else tgt
    sums = load_sums(SUMS / "tatoeba.sha256") if sums is None else sums
    refuse_existing([out / f"{part}.{lang}" for part in SPLITS for lang in (src, tgt)], force)
    tsv = _from_mirror("tatoeba", mirror, TATOEBA[other], sums)
    column = {"en": 0, other: 1}  # the export's columns: English, then the other language
    return split(PairFile(tsv=tsv, src_column=column[src], tgt_column=column[tgt]), out, (src, tgt), cfg,
                 progress)


def fetch_news(out: Path, pair: str = "de-en", mirror: str | None = None, *,
               sums: dict[str, str] | None = None, force: bool = False) -> list[tuple[Path, int]]:
    """WMT newstest2014 of `pair` as OUT/newstest2014.{src,tgt}, checked; (path, line count) pairs."""
    src, tgt = parse_pair(pair, NEWS)
    other = src if tgt == "en" else tgt
    sums = load_sums(SUMS / "news.sha256") if sums is None else sums
    names = dict(zip((other, "en"), NEWS[other], strict=True))
    refuse_existing([out / f"newstest2014.{lang}" for lang in (src, tgt)], force)
    texts = {lang: gzip.decompress(_from_mirror("news", mirror, names[lang], sums).read_bytes())
             for lang in (src, tgt)}
    if _lines(texts[src]) != _lines(texts[tgt]):
        raise NMTError(f"{names[src]} and {names[tgt]} differ in length; the mirror's files are not aligned")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in (src, tgt):
        path = out / f"newstest2014.{lang}"
        atomic_write_bytes(path, texts[lang])
        written.append((path, _lines(texts[lang])))
    return written
