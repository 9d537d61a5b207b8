"""From prepared id arrays to padded training batches: source reversal, teacher forcing, token buckets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from nmt.text.tokenizer import BOS, EOS, PAD


@dataclass
class Batch:
    src: torch.Tensor       # (batch, src_len) source ids, each row's real tokens reversed if asked, then PAD
    src_lens: torch.Tensor  # (batch,) real source lengths (int64, on CPU: packing wants them there)
    tgt_in: torch.Tensor    # (batch, tgt_len + 1) BOS y1 .. yn PAD..: the decoder's input (teacher forcing)
    tgt_out: torch.Tensor   # (batch, tgt_len + 1) y1 .. yn EOS PAD..: what it must predict, one step ahead
    ntokens: int            # real target tokens, EOS included: the loss is averaged over these

    def to(self, device: torch.device) -> Batch:
        return Batch(src=self.src.to(device), src_lens=self.src_lens, tgt_in=self.tgt_in.to(device),
                     tgt_out=self.tgt_out.to(device), ntokens=self.ntokens)


def pad_sources(seqs: Sequence[Sequence[int]], reverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad source sentences, reversing each one's real tokens first: [a b c] -> [c b a PAD].

    Reversing before padding keeps PAD at the end of every row, so packed sequences skip it and the
    encoder's final state is the one after reading the sentence's first word.
    """
    lens = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    src = torch.full((len(seqs), max([1, *map(len, seqs)])), PAD, dtype=torch.int64)  # (batch, src_len)
    for i, s in enumerate(seqs):
        if len(s):
            row = torch.as_tensor(np.asarray(s, dtype=np.int64))
            src[i, : len(s)] = row.flip(0) if reverse else row
    return src, lens


def make_batch(src_seqs: Sequence[Sequence[int]], tgt_seqs: Sequence[Sequence[int]], reverse: bool) -> Batch:
    src, src_lens = pad_sources(src_seqs, reverse)
    width = max(len(t) for t in tgt_seqs) + 1
    tgt_in = torch.full((len(tgt_seqs), width), PAD, dtype=torch.int64)   # (batch, tgt_len + 1)
    tgt_out = torch.full((len(tgt_seqs), width), PAD, dtype=torch.int64)  # (batch, tgt_len + 1)
    for i, t in enumerate(tgt_seqs):
        row = torch.as_tensor(np.asarray(t, dtype=np.int64))
        tgt_in[i, 0] = BOS
        tgt_in[i, 1 : len(t) + 1] = row
        tgt_out[i, : len(t)] = row
        tgt_out[i, len(t)] = EOS
    ntokens = sum(len(t) for t in tgt_seqs) + len(tgt_seqs)
    return Batch(src, src_lens, tgt_in, tgt_out, ntokens)


def token_batches(src_lens: np.ndarray, tgt_lens: np.ndarray, max_tokens: int, seed: int, epoch: int
                  ) -> list[np.ndarray]:
    """Split sentence indices into batches of at most `max_tokens` padded tokens, in a seeded order.

    Sentences are sorted by source length, then target length (ties broken randomly), so a batch
    holds similar lengths and little padding, and most batches share one source length: the encoder
    then runs without packing, on its fastest kernel. The batches' order is then shuffled. The result
    depends only on (seed, epoch), which is what lets a resumed run skip to the same place.
    """
    rng = np.random.default_rng([seed, epoch])
    order = np.lexsort((rng.random(len(src_lens)), tgt_lens, src_lens))  # last key sorts first
    cost = np.maximum(src_lens, tgt_lens + 1)[order]  # the padded width a sentence needs
    batches, start, width = [], 0, 0
    for i, c in enumerate(cost.tolist()):
        new_width = max(width, c)
        if i > start and new_width * (i - start + 1) > max_tokens:
            batches.append(order[start:i])
            start, new_width = i, c
        width = new_width
    if start < len(order):
        batches.append(order[start:])
    rng.shuffle(batches)
    return batches
