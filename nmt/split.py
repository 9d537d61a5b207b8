"""Leak-free train / valid / test splits of a parallel corpus.

Corpora such as Tatoeba hold many translations of one sentence, each as its own pair. A random split
then puts "Ich bin müde. / I'm tired." in test and "Ich bin müde. / I am tired." in train, and the test
measures memory. Here pairs that share a sentence on either side form one *group* (a connected
component: pairs linked through any chain of shared sentences), and a group goes whole into train,
valid or test. Sentences are compared after `normalize` (case, spacing and punctuation), or exactly
(`match="exact"`, the plain split). `match="near"` also removes from train every pair with a sentence
one word away from a valid or test sentence ("Tom is tired." / "Tom was tired."), the near-paraphrases
Tatoeba is full of.

Worked example (tests/test_split.py replays it), sources of at least 3 words held out:

    0  Ich bin müde.       / I'm tired.       ┐ group A: pairs 0 and 1 share "Ich bin müde." (after
    1  Ich bin müde!       / I am tired.      │ normalising), 1 and 2 share "I am tired."
    2  Ich bin so müde.    / I am tired.      ┘
    3  Er ist müde.        / He is tired.       group B
    4  Er war müde.        / He was tired.      group C: one word from group B on both sides
    5  Ja.                 / Yes.               group D: its source is too short to test on

With a test of 3 pairs and a draw that starts at pair 0, test takes pairs 0-2 (all three translations
of one sentence together) and is full; train keeps 3, 4 and 5. With a test of 1 pair and a draw that
starts at pair 3, test takes pair 3 (group A does not fit); with `match="near"` train then loses pair 4
("Er war müde." is one word from "Er ist müde.") and keeps 0-2 and 5.

Only hashes of sentences are held in memory, and the input is read three times (keys; valid and test;
train), so corpora far larger than memory split too.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from itertools import zip_longest
from pathlib import Path

import numpy as np

from nmt import NMTError
from nmt.config import SplitConfig
from nmt.fileio import atomic_path, atomic_write_text, read_lines

SPLITS = ("train", "valid", "test")
TRAIN, VALID, TEST, DROPPED = 0, 1, 2, -1

def normalize(text: str) -> str:
    """The form sentences are compared in: Unicode NFKC, case folded, punctuation as spaces, single spaces.
    "Tom's  tired!" -> "tom s tired"."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text)
    return " ".join(text.split())


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def sentence_key(text: str, match: str) -> int:
    """64-bit hash of a sentence as `match` compares it (collisions: about 1 in 10^10 at 10^5 sentences)."""
    return _hash(text if match == "exact" else normalize(text))


def near_keys(text: str) -> tuple[set[int], set[int]]:
    """What a sentence leaves behind to be found one word away: (its forms, its one-word-less forms).

    Two sentences are near when their normalized words are equal, or differ by one substituted word
    (they share a form with the same word blanked), or by one word inserted (the shorter one's whole
    equals the longer one with a word deleted). `is_near` compares the two sets of two sentences."""
    words = normalize(text).split()
    whole = {_hash(" ".join(words))}
    blanked = {_hash(" ".join([*words[:i], "\0", *words[i + 1:]])) for i in range(len(words))}
    deleted = {_hash(" ".join(words[:i] + words[i + 1:])) for i in range(len(words))}
    return whole | blanked, whole | deleted


def is_near(a: str, b: str) -> bool:
    """Whether two sentences are at most one word apart (substituted, inserted or deleted), as
    `match="near"` decides: "Tom is tired." / "Tom was tired." yes; "Tom is tired." / "Tom was very
    tired." no."""
    a_forms, a_less = near_keys(a)
    b_forms, b_less = near_keys(b)
    return bool(a_forms & b_forms) or _hash(normalize(a)) in b_less or _hash(normalize(b)) in a_less


# -- reading a parallel corpus, refusing what would misalign it ------------------------------------------

@dataclass(frozen=True)
class PairFile:
    """Where pairs come from: two aligned files (`src`, `tgt`), or one TSV (`tsv`) whose columns
    `src_column` and `tgt_column` (0-based) are the two sides. `.gz` is read directly."""
    src: Path | None = None
    tgt: Path | None = None
    tsv: Path | None = None
    src_column: int = 0
    tgt_column: int = 1

    def pairs(self) -> Iterator[tuple[str, str]]:
        """Every pair, checked: a bad line is an NMTError naming FILE:LINE and what to do."""
        if self.tsv is not None:
            yield from self._tsv_pairs()
            return
        yield from self._file_pairs()

    def _tsv_pairs(self) -> Iterator[tuple[str, str]]:
        need = max(self.src_column, self.tgt_column) + 1
        for number, line in enumerate(read_lines(self.tsv), start=1):
            where = f"{self.tsv}:{number}"
            fields = line.split("\t")
            if len(fields) < need:
                raise NMTError(f"{where}: {len(fields)} tab-separated field(s), {need} needed; "
                               "each line must hold the pair's sentences separated by a tab")
            yield _checked(where, fields[self.src_column], fields[self.tgt_column])

    def _file_pairs(self) -> Iterator[tuple[str, str]]:
        end = object()
        lines = zip_longest(read_lines(self.src), read_lines(self.tgt), fillvalue=end)
        for number, (s, t) in enumerate(lines, start=1):
            if s is end or t is end:
                longer, shorter = (self.tgt, self.src) if s is end else (self.src, self.tgt)
                raise NMTError(f"{longer}:{number}: {shorter} ends after {number - 1} lines; the files are "
                               "not aligned (each source line needs exactly one target line)")
            yield _checked(f"{self.src}:{number} / {self.tgt}:{number}", s, t)


def _checked(where: str, src: str, tgt: str) -> tuple[str, str]:
    for side, text in (("source", src), ("target", tgt)):
        if not text.strip():
            raise NMTError(f"{where}: empty {side} sentence; remove the pair or fill it in")
        bad = next((c for c in text if unicodedata.category(c) == "Cc" and c not in "\t"), None)
        if bad is not None:
            raise NMTError(f"{where}: control character U+{ord(bad):04X} in the {side} (binary data?); "
                           "the corpus must be plain UTF-8 text")
    return src.strip(), tgt.strip()


# -- the plan: which pair goes where ----------------------------------------------------------------------

def groups(src_keys: np.ndarray, tgt_keys: np.ndarray) -> np.ndarray:
    """(n,) a group id per pair: pairs linked by any chain of shared source or target keys share one.

    Sentences are the nodes and pairs the edges of a graph; each node's label falls to the smallest label
    among its neighbours until nothing changes, in a number of rounds that grows with a group's diameter."""
    _, src_node = np.unique(src_keys, return_inverse=True)
    _, tgt_node = np.unique(tgt_keys, return_inverse=True)
    a, b = src_node.ravel(), tgt_node.ravel() + (src_node.max(initial=-1) + 1)
    labels = np.arange(b.max(initial=-1) + 1)
    while True:
        low = np.minimum(labels[a], labels[b])
        new = labels.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]  # jump to the label's own label
        if np.array_equal(new, labels):
            return labels[a]
        labels = new


def draw_order(eligible: np.ndarray, seed: int) -> np.ndarray:
    """The seeded order in which pairs (those `eligible` to be held out) draw their groups: a permutation
    of all pairs, filtered, so that splits by other rules draw the same pairs in the same order."""
    order = np.random.default_rng(seed).permutation(len(eligible))
    return order[eligible[order]]


def plan(group: np.ndarray, eligible: np.ndarray, sizes: dict[str, int], order: Iterable[int],
         max_group: int) -> np.ndarray:
    """(n,) TRAIN, VALID, TEST or DROPPED per pair. Pairs draw their groups in `order`; a drawn group goes
    whole into the first of valid, test that it fits (`sizes` counts eligible pairs), its ineligible
    pairs dropped; groups of more than `max_group` pairs and the undrawn ones stay in train."""
    where = np.full(len(group), TRAIN, dtype=np.int8)
    by_group = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, group[by_group][1:] != group[by_group][:-1]])
    members = dict(zip(group[by_group][starts].tolist(), np.split(by_group, starts[1:]), strict=True))
    room = {VALID: sizes.get("valid", 0), TEST: sizes.get("test", 0)}
    taken = set()
    for i in order:
        if not any(room.values()):
            break
        g = int(group[i])
        pairs = members[g]
        if g in taken or len(pairs) > max_group:
            continue
        size = int(eligible[pairs].sum())
        split = next((s for s, left in room.items() if size <= left), None)
        if split is not None:
            taken.add(g)
            room[split] -= size
            where[pairs] = np.where(eligible[pairs], split, DROPPED)
    if any(room.values()):
        short = ", ".join(f"{SPLITS[s]} {left}" for s, left in room.items() if left)
        raise NMTError(f"not enough groups of eligible pairs to fill valid and test ({short} pairs short); "
                       "ask for fewer with --valid/--test or lower --min-words")
    return where


# -- the whole split ----------------------------------------------------------------------------------------

@dataclass
class SplitReport:
    settings: dict                                        # the SplitConfig used
    read: int = 0
    pairs: dict = field(default_factory=dict)           # split -> pairs written
    groups_held_out: int = 0                              # groups that went to valid or test
    dropped_short_in_held_out_group: int = 0              # their pairs whose source is too short to test on
    dropped_duplicates: int = 0                           # pairs equal (as compared) to an earlier pair
    dropped_near_held_out: int = 0                        # train pairs one word from a valid/test sentence


def split(source: PairFile, out: Path, langs: tuple[str, str], cfg: SplitConfig | None = None,
          progress: Callable[[str], None] = lambda message: None) -> SplitReport:
    """Write OUT/{train,valid,test}.{src,tgt} (language codes `langs`) and OUT/split.json; return the
    report (`cfg`: SplitConfig's defaults when None). Nothing is written when the input is refused."""
    cfg = cfg or SplitConfig()
    report = SplitReport(settings=asdict(cfg))
    key_match = "exact" if cfg.match == "exact" else "normalized"
    src_keys, tgt_keys, eligible = [], [], []
    for src, tgt in source.pairs():
        src_keys.append(sentence_key(src, key_match))
        tgt_keys.append(sentence_key(tgt, key_match))
        eligible.append(len(src.split()) >= cfg.min_words)
    report.read = len(src_keys)
    progress(f"read {report.read} pairs")
    src_a, tgt_a = np.array(src_keys, dtype=np.uint64), np.array(tgt_keys, dtype=np.uint64)
    repeated = _repeated(src_a, tgt_a)  # never held out, never trained on
    held_out = np.array(eligible, dtype=bool) & ~repeated
    group = groups(src_a, tgt_a)
    where = plan(group, held_out, {"valid": cfg.valid, "test": cfg.test}, draw_order(held_out, cfg.seed),
                 cfg.max_group)
    where[repeated] = DROPPED
    report.groups_held_out = len(np.unique(group[where > 0]))
    report.dropped_duplicates = int(repeated.sum())
    report.dropped_short_in_held_out_group = int((where == DROPPED).sum()) - report.dropped_duplicates
    near = _NearIndex() if cfg.match == "near" else None
    _write(source, out, langs, where, (VALID, TEST), near, report)
    _write(source, out, langs, where, (TRAIN,), near, report)
    atomic_write_text(out / "split.json", json.dumps(asdict(report), indent=2) + "\n")
    return report


def _repeated(src_keys: np.ndarray, tgt_keys: np.ndarray) -> np.ndarray:
    """(n,) True where a pair equals an earlier pair (as the keys compare them)."""
    _, first = np.unique(np.stack([src_keys, tgt_keys], axis=1), axis=0, return_index=True)
    repeated = np.ones(len(src_keys), dtype=bool)
    repeated[first] = False
    return repeated


class _NearIndex:
    """The forms of every valid and test sentence, to find train sentences one word away."""

    def __init__(self):
        self.forms: set[int] = set()
        self.less: set[int] = set()
        self.whole: set[int] = set()

    def add(self, text: str) -> None:
        forms, less = near_keys(text)
        self.forms |= forms
        self.less |= less
        self.whole.add(_hash(normalize(text)))

    def near(self, text: str) -> bool:
        forms, less = near_keys(text)
        return bool(forms & self.forms) or _hash(normalize(text)) in self.less or bool(less & self.whole)


def _write(source: PairFile, out: Path, langs: tuple[str, str], where: np.ndarray, splits: Iterable[int],
           near: _NearIndex | None, report: SplitReport) -> None:
    """One pass over the input writing the pairs of `splits` (atomically: all files or none)."""
    names = {s: SPLITS[s] for s in splits}
    with ExitStack() as stack:
        files = {(s, k): stack.enter_context(open(stack.enter_context(atomic_path(out / f"{name}.{lang}")),
                                                  "w", encoding="utf-8"))
                 for s, name in names.items() for k, lang in enumerate(langs)}
        counts = dict.fromkeys(names, 0)
        for i, (src, tgt) in enumerate(source.pairs()):
            split = int(where[i])
            if split not in names:
                continue
            if split == TRAIN and near is not None and (near.near(src) or near.near(tgt)):
                report.dropped_near_held_out += 1
                continue
            if split != TRAIN and near is not None:
                near.add(src)
                near.add(tgt)
            files[split, 0].write(src + "\n")
            files[split, 1].write(tgt + "\n")
            counts[split] += 1
    for split, name in names.items():
        report.pairs[name] = counts[split]
