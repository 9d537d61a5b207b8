"""A vocabulary shortlist for the output layer (as Marian's --shortlist): fewer rows to score per step.

Built once from the prepared training corpus: for each source piece, the `k` target pieces it
co-occurs with most, ranked by the Dice coefficient 2 * n(s, t) / (n(s) + n(t)) over sentence pairs
(raw counts would list "a" and "." for every piece), plus the `frequent` most frequent target pieces.
At decode time a sentence may produce only the four special ids, the frequent pieces and the lists of
its own source pieces, and its softmax is normalised over that list. So a hypothesis holds only listed
pieces, and its score is a log-probability under the model restricted to its sentence's list: exact
over the list, not over the vocabulary. A batch multiplies only the union of its sentences' lists, and
each sentence's list is its own, so a translation does not depend on the batch it was decoded in.
Worked example, k = 1, frequent = 1: if "Hund" lists "dog" and "Katze" lists "cat", and "a" is the
most frequent piece, then "Ein Hund" decodes over {PAD, UNK, BOS, EOS, a, dog}; batched with
"Eine Katze", the batch multiplies {PAD, UNK, BOS, EOS, a, dog, cat}, "cat" masked for "Ein Hund".

The ids 0..3 (PAD, UNK, BOS, EOS) are always listed and lists are sorted, so they keep their positions:
search over a shortlist uses the same BOS and EOS ids as over the whole vocabulary.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nmt import NMTError, checkpoint
from nmt.config import ShortlistConfig
from nmt.corpora import train_corpora
from nmt.corpus import PreparedCorpus, prepare
from nmt.fileio import atomic_path
from nmt.regroup import reorder_shared
from nmt.text.tokenizer import EOS, Tokenizer

FILE = "shortlist.bin"  # in the run folder, beside the checkpoints
FORMAT = 1
SPECIALS = torch.arange(EOS + 1)  # PAD, UNK, BOS, EOS


def tokenizers_id(src_tok: Tokenizer, tgt_tok: Tokenizer) -> str:
    """Which tokenizers a shortlist speaks: a list is only valid for the ids it was built with."""
    return hashlib.sha256(src_tok.proto + b"\0" + tgt_tok.proto).hexdigest()


@dataclass
class Shortlist:
    lists: torch.Tensor     # (src_vocab, k) target ids per source piece, best first (EOS fills short lists)
    frequent: torch.Tensor  # (frequent,) the most frequent target ids
    tokenizers: str         # tokenizers_id of the tokenizers it was built with

    def select(self, src_ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """For a batch of source id sequences: the (n,) sorted target ids any of them may produce, and
        (batch, n) True where the sentence's own list holds the id."""
        listed = [self.lists[torch.as_tensor(ids, dtype=torch.long)].flatten() for ids in src_ids]
        always = torch.cat([SPECIALS, self.frequent])
        cols = torch.cat(listed)
        own = torch.zeros(len(src_ids), int(torch.cat([always, cols]).max()) + 1, dtype=torch.bool)
        rows = torch.repeat_interleave(torch.arange(len(listed)), torch.tensor([len(c) for c in listed]))
        own[rows, cols] = True
        own[:, always] = True                                                     # (batch, largest id + 1)
        union = own.any(0).nonzero().flatten()
        return union, own[:, union]

    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp:
            torch.save({"format": FORMAT, "lists": self.lists, "frequent": self.frequent,
                        "tokenizers": self.tokenizers}, tmp)

    @classmethod
    def load(cls, path: str | Path, src_tok: Tokenizer, tgt_tok: Tokenizer) -> Shortlist:
        path = Path(path)
        if not path.is_file():
            raise NMTError(f"{path}: no shortlist here; build one with `nmt shortlist --model {path.parent}`")
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # damaged, or holding more than tensors
            raise NMTError(f"{path}: not a readable shortlist; build it again with `nmt shortlist`") from e
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            raise NMTError(f"{path}: not a shortlist written by `nmt shortlist`")
        if saved["tokenizers"] != tokenizers_id(src_tok, tgt_tok):
            raise NMTError(f"{path}: built for other tokenizers than this model's; "
                           f"build it again with `nmt shortlist --model {path.parent}`")
        return cls(saved["lists"], saved["frequent"], saved["tokenizers"])


@dataclass
class ShortlistMask:
    """A batch's shortlist as search sees it: per sentence, 0 where its own list holds a piece of the
    batch's union and -inf elsewhere, added to the logits before the softmax (fast/output.py). Search
    row r belongs to sentence r // per; `reorder` follows the beam (regroup.py)."""
    outside: torch.Tensor  # (sentences, n)
    per: int = 1

    @classmethod
    def of(cls, own: torch.Tensor) -> ShortlistMask:
        """own: (sentences, n) bool, True where the sentence lists the piece (Shortlist.select)."""
        return cls(torch.zeros(own.shape, device=own.device).masked_fill_(~own, float("-inf")))

    def reorder(self, index: torch.Tensor) -> ShortlistMask:
        (outside,), per = reorder_shared((self.outside,), index, self.per)
        return ShortlistMask(outside, per)


def build(corpora: Sequence[PreparedCorpus], src_tok: Tokenizer, tgt_tok: Tokenizer,
          cfg: ShortlistConfig | None = None) -> Shortlist:
    """Count, over the corpora's sentence pairs (each corpus once, whatever its share in training), in how
    many pairs each (source, target) piece pair appears together, and keep each source piece's `k` best
    by Dice coefficient."""
    cfg = cfg or ShortlistConfig()
    src_vocab, tgt_vocab = len(src_tok), len(tgt_tok)
    src_df, tgt_df = np.zeros(src_vocab, np.int64), np.zeros(tgt_vocab, np.int64)  # sentences holding each
    tgt_count = np.zeros(tgt_vocab, np.int64)                                      # occurrences
    keys = []  # per pair: source id * tgt_vocab + target id, each distinct pair once
    for corpus, i in ((c, i) for c in corpora for i in range(len(c))):
        src, tgt = corpus.pair(i)
        s, t = np.unique(src).astype(np.int64), np.unique(tgt).astype(np.int64)
        src_df[s] += 1
        tgt_df[t] += 1
        np.add.at(tgt_count, tgt.astype(np.int64), 1)
        keys.append((s[:, None] * tgt_vocab + t[None, :]).ravel())
    pair, together = np.unique(np.concatenate(keys) if keys else np.zeros(0, np.int64), return_counts=True)
    s, t = pair // tgt_vocab, pair % tgt_vocab
    dice = 2 * together / (src_df[s] + tgt_df[t])
    order = np.lexsort((-dice, s))                    # by source piece, then best first
    s, t = s[order], t[order]
    rank = np.arange(len(s)) - np.searchsorted(s, s)  # position within its source piece's group
    keep = rank < cfg.k
    lists = np.full((src_vocab, cfg.k), EOS, np.int64)
    lists[s[keep], rank[keep]] = t[keep]
    frequent = np.argsort(-tgt_count, kind="stable")[: cfg.frequent]
    return Shortlist(torch.from_numpy(lists), torch.from_numpy(frequent.copy()),
                     tokenizers_id(src_tok, tgt_tok))


def ensure(path: Path, corpora: Sequence[PreparedCorpus], src_tok: Tokenizer, tgt_tok: Tokenizer) -> bool:
    """Build the shortlist at `path` (default settings) unless one for these tokenizers is there;
    True when it was built. `nmt train` calls this, so every run folder has one."""
    if path.is_file():
        try:
            Shortlist.load(path, src_tok, tgt_tok)
            return False
        except NMTError:
            pass  # damaged or stale: build it again
    build(corpora, src_tok, tgt_tok).save(path)
    return True


def build_for_run(model: Path, cfg: ShortlistConfig, *, src: Path | None = None, tgt: Path | None = None
                  ) -> tuple[Path, int]:
    """Build the shortlist of the run folder `model` (or the folder of a checkpoint) and save it there;
    counted over its prepared training corpus, or over the parallel texts src and tgt. Returns its path
    and the size of the target vocabulary it lists from."""
    folder = model if model.is_dir() else model.parent
    if (src is None) != (tgt is None):
        raise NMTError("give both --src and --tgt, or neither (the run's prepared corpus)")
    ckpt = checkpoint.load(model)  # the tokenizers and length limit the model was trained with
    src_tok, tgt_tok = Tokenizer(ckpt["src_tokenizer"]), Tokenizer(ckpt["tgt_tokenizer"])
    config = checkpoint.config_of(ckpt)
    prepared = [folder / "prepared" / corpus.name for corpus in train_corpora(config.data)]
    with tempfile.TemporaryDirectory() as tmp:
        if src is not None:
            prepare(src, tgt, src_tok, tgt_tok, Path(tmp), config.model.max_len)
            corpora = [PreparedCorpus(tmp)]
        elif all((p / "meta.json").is_file() for p in prepared):
            corpora = [PreparedCorpus(p) for p in prepared]
        else:
            raise NMTError(f"{folder}: no prepared training corpus here; give --src and --tgt "
                           "(the training texts)")
        build(corpora, src_tok, tgt_tok, cfg).save(folder / FILE)
    return folder / FILE, len(tgt_tok)
