"""Binarized parallel corpora: encode once with sentencepiece, then memory-map for training.

On disk (one folder):
    src.bin, tgt.bin   all token ids of one side, concatenated (uint16, or int32 for vocabularies > 65535)
    src.idx, tgt.idx   int64 offsets, n + 1 of them: sentence i is bin[idx[i]:idx[i + 1]]
    meta.json          pair count, dtype, what was dropped, and a fingerprint of the inputs

Input is streamed in chunks and output appended, so peak memory does not grow with the corpus.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sentencepiece as spm

from nmt import NMTError
from nmt.fileio import check_parallel, read_lines
from nmt.text.tokenizer import Tokenizer

CHUNK = 20_000  # lines encoded per sentencepiece call


@dataclass
class PrepareStats:
    pairs: int
    kept: int
    dropped_empty: int
    dropped_long: int


@dataclass(frozen=True)
class Sampling:
    """Subword regularisation (Kudo 2018): segmentations drawn from the sentencepiece model instead of
    its single best one. `alpha` smooths the unigram model's distribution (lower: more varied; for BPE
    it is the BPE-dropout rate), `seed` fixes the draw, so the same inputs always give the same corpus.
    On Multi30k's German with 8k pieces, alpha 0.5 changes 44% of the sentences and adds 2.5% pieces."""
    alpha: float
    seed: int


def fingerprint(src: Path, tgt: Path, src_tok: Tokenizer, tgt_tok: Tokenizer, max_len: int,
                sampling: Sampling | None = None) -> str:
    """Changes whenever the prepared data would: input files, tokenizers, length limit or sampling."""
    h = hashlib.sha256()
    for path in (src, tgt):
        st = Path(path).stat()
        h.update(f"{Path(path).resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    h.update(src_tok.proto)
    h.update(tgt_tok.proto)
    h.update(str(max_len).encode())
    if sampling is not None:
        h.update(f"|sampling {sampling.alpha!r} {sampling.seed}".encode())
    return h.hexdigest()


def _dtype_for(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 65536 else np.dtype(np.int32)


def prepare(src: Path, tgt: Path, src_tok: Tokenizer, tgt_tok: Tokenizer, out: Path,
            max_len: int = 100, num_threads: int = -1, sampling: Sampling | None = None) -> PrepareStats:
    """Encode a parallel corpus into `out`, dropping empty pairs and pairs longer than `max_len` tokens;
    with `sampling`, every sentence gets a sampled segmentation."""
    check_parallel(src, tgt)
    if sampling is None:
        def encode(tok: Tokenizer, lines: list[str]) -> list[list[int]]:
            return tok.sp.encode(lines, num_threads=num_threads)
    else:  # one thread: a fixed order of draws
        spm.set_random_generator_seed(sampling.seed)

        def encode(tok: Tokenizer, lines: list[str]) -> list[list[int]]:
            return tok.sp.encode(lines, enable_sampling=True, alpha=sampling.alpha, nbest_size=-1,
                                 num_threads=1)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    stats = PrepareStats(0, 0, 0, 0)
    try:
        dtypes = {"src": _dtype_for(len(src_tok)), "tgt": _dtype_for(len(tgt_tok))}
        with contextlib.ExitStack() as files:  # closed on the way out, error or not
            bins = {side: files.enter_context(open(tmp / f"{side}.bin", "wb")) for side in dtypes}
            idxs = {side: files.enter_context(open(tmp / f"{side}.idx", "wb")) for side in dtypes}
            offsets = {side: 0 for side in dtypes}
            for f in idxs.values():  # the first sentence starts at 0
                f.write(np.zeros(1, np.int64).tobytes())
            pairs = zip(read_lines(src), read_lines(tgt), strict=True)
            while chunk := list(itertools.islice(pairs, CHUNK)):
                src_lines, tgt_lines = (list(side) for side in zip(*chunk, strict=True))
                keep = _kept(encode(src_tok, src_lines), encode(tgt_tok, tgt_lines), max_len, stats)
                for k, side in enumerate(("src", "tgt")):
                    seqs = [pair[k] for pair in keep]
                    lengths = np.fromiter((len(x) for x in seqs), np.int64, len(seqs))
                    ids = np.fromiter(itertools.chain.from_iterable(seqs), dtypes[side], int(lengths.sum()))
                    bins[side].write(ids.tobytes())
                    ends = offsets[side] + np.cumsum(lengths)
                    idxs[side].write(ends.astype(np.int64).tobytes())
                    if len(ends):
                        offsets[side] = int(ends[-1])
        if stats.kept == 0:
            raise NMTError(f"no sentence pairs left in {src} / {tgt} after dropping empty lines and pairs "
                           f"longer than {max_len} tokens; check the files or raise --max-len")
        meta = {"pairs": stats.kept, "read": stats.pairs, "dropped_empty": stats.dropped_empty,
                "dropped_long": stats.dropped_long, "max_len": max_len,
                "dtype": {side: dt.name for side, dt in dtypes.items()},
                "src_file": str(src), "tgt_file": str(tgt),
                "fingerprint": fingerprint(src, tgt, src_tok, tgt_tok, max_len, sampling)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        # Swap the finished folder in; a crash before this leaves the old one (or none), never half.
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return stats


def _kept(src: list[list[int]], tgt: list[list[int]], max_len: int, stats: PrepareStats
          ) -> list[tuple[list[int], list[int]]]:
    """The encoded pairs to keep: empty ones and ones longer than max_len are dropped and counted."""
    keep = []
    for s, t in zip(src, tgt, strict=True):
        if not s or not t:
            stats.dropped_empty += 1
        elif len(s) > max_len or len(t) > max_len:
            stats.dropped_long += 1
        else:
            keep.append((s, t))
    stats.pairs += len(src)
    stats.kept += len(keep)
    return keep


class PreparedCorpus:
    """Memory-mapped view of a prepared folder; `pair(i)` gives numpy id arrays."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        meta_path = self.dir / "meta.json"
        if not meta_path.is_file():
            raise NMTError(f"{self.dir}: not a prepared corpus (no meta.json); run `nmt prepare` first")
        self.meta = json.loads(meta_path.read_text())
        self.bins, self.idx = {}, {}
        for side in ("src", "tgt"):
            self.bins[side] = np.memmap(self.dir / f"{side}.bin", dtype=self.meta["dtype"][side], mode="r")
            self.idx[side] = np.memmap(self.dir / f"{side}.idx", dtype=np.int64, mode="r")
        if len(self.idx["src"]) != len(self.idx["tgt"]) or len(self.idx["src"]) != self.meta["pairs"] + 1:
            raise NMTError(f"{self.dir}: prepared files are inconsistent; "
                           "delete the folder and prepare again")

    def __len__(self) -> int:
        return self.meta["pairs"]

    def lengths(self, side: str) -> np.ndarray:
        return np.diff(self.idx[side])  # (n,) int64

    def sentence(self, side: str, i: int) -> np.ndarray:
        return self.bins[side][self.idx[side][i]:self.idx[side][i + 1]]

    def pair(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.sentence("src", i), self.sentence("tgt", i)


def prepared_or_cached(src: Path, tgt: Path, src_tok: Tokenizer, tgt_tok: Tokenizer, out: Path,
                       max_len: int, sampling: Sampling | None = None
                       ) -> tuple[PreparedCorpus, PrepareStats | None]:
    """Reuse `out` when its fingerprint matches the inputs, else prepare again. Stats are None on reuse."""
    meta = out / "meta.json"
    if meta.is_file():
        try:
            expected = fingerprint(src, tgt, src_tok, tgt_tok, max_len, sampling)
            if json.loads(meta.read_text()).get("fingerprint") == expected:
                return PreparedCorpus(out), None
        except (json.JSONDecodeError, OSError):
            pass
    stats = prepare(src, tgt, src_tok, tgt_tok, out, max_len, sampling=sampling)
    return PreparedCorpus(out), stats
