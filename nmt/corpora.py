"""The corpora a run names: its training corpora (data.corpora, or train_src/train_tgt) and validation sets
(data.valid, or valid_src/valid_tgt), as config.py reads them, and the language pair their files say."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nmt import NMTError

if TYPE_CHECKING:  # config.py reads data.corpora and data.valid with corpus_entries
    from nmt.config import Config, DataConfig


@dataclass(frozen=True)
class CorpusFiles:
    """One parallel corpus of a run: training data (with its mixture weight) or a validation set."""
    name: str
    src: str
    tgt: str
    weight: float = 1.0


def train_corpora(data: DataConfig) -> list[CorpusFiles]:
    """data.corpora, or the one corpus of train_src/train_tgt (named "train")."""
    if not data.corpora:
        return [CorpusFiles("train", data.train_src, data.train_tgt)]
    return [CorpusFiles(**entry) for entry in data.corpora]


def valid_sets(data: DataConfig) -> list[CorpusFiles]:
    """data.valid, or the one set of valid_src/valid_tgt (named "valid")."""
    if not data.valid:
        return [CorpusFiles("valid", data.valid_src, data.valid_tgt)]
    return [CorpusFiles(**entry) for entry in data.valid]


def languages_of(config: Config) -> tuple[str, str] | None:
    """(source, target) language codes from the names of the files a model was trained on (train.de,
    train.en; with several corpora, the codes all of them agree on), or None when they do not say."""
    found = set()
    for corpus in train_corpora(config.data):
        codes = []
        for name in (corpus.src, corpus.tgt):
            suffixes = [s.lstrip(".") for s in Path(name).suffixes if s != ".gz"]
            if not suffixes or not re.fullmatch(r"[a-z]{2,3}", suffixes[-1]):
                return None
            codes.append(suffixes[-1])
        found.add(tuple(codes))
    return found.pop() if len(found) == 1 else None


def corpus_entries(key: str, value: Any) -> list[dict]:
    """data.corpora / data.valid checked: a list of mappings with src and tgt (text), an optional name
    (default: the src file's folder) and, for corpora, an optional weight > 0; names distinct."""
    allowed = ("name", "src", "tgt", "weight") if key == "corpora" else ("name", "src", "tgt")
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        raise NMTError(f"data.{key} must be a list of {{{', '.join(allowed)}}} mappings, got {value!r}")
    entries = []
    for i, item in enumerate(value):
        where = f"data.{key}[{i}]"
        if not isinstance(item, dict) or not {"src", "tgt"} <= item.keys() or not item.keys() <= set(allowed):
            raise NMTError(f"{where} must be a mapping with src and tgt (and optionally "
                           f"{', '.join(k for k in allowed if k not in ('src', 'tgt'))}), got {item!r}")
        entry = {k: item[k] for k in allowed if k in item}
        entry.setdefault("name", Path(str(item["src"])).parent.name or f"corpus{i + 1}")
        for text in ("name", "src", "tgt"):
            if not isinstance(entry[text], str) or not entry[text]:
                raise NMTError(f"{where}.{text} must be a non-empty text, got {entry[text]!r}")
        if not re.fullmatch(r"[\w.-]+", entry["name"]) or entry["name"].startswith("."):
            raise NMTError(f"{where}.name must be letters, digits, _ . or - (it names a folder), "
                           f"got {entry['name']!r}")
        if "weight" in item:
            weight = item["weight"]
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
                raise NMTError(f"{where}.weight must be a number > 0, got {weight!r}")
            entry["weight"] = float(weight)
        entries.append(entry)
    names = [e["name"] for e in entries]
    if len(set(names)) < len(names):
        raise NMTError(f"data.{key} names must differ (got {', '.join(names)}); give each a name")
    return entries
