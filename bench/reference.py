"""A bare PyTorch encoder-decoder training loop: the yardstick `nmt`'s training speed is held to.

What anyone would write from the PyTorch docs for the same model: embeddings, a multi-layer nn.LSTM
encoder over the padded (reversed) source, an nn.LSTM decoder started from the encoder's final
state, an nn.Linear over the whole vocabulary and F.cross_entropy ignoring padding; Adam and
gradient clipping. No packing, no sampled softmax, no masking tricks. It trains on the very Batch
objects the `nmt` benchmark uses, so both see the same tokens.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

PAD = 0


class BareSeq2Seq(nn.Module):
    def __init__(self, src_vocab: int, tgt_vocab: int, emb: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab, emb, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, emb, padding_idx=PAD)
        self.encoder = nn.LSTM(emb, hidden, layers, batch_first=True, dropout=dropout)
        self.decoder = nn.LSTM(emb, hidden, layers, batch_first=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, tgt_vocab)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """(batch, src_len), (batch, tgt_len) -> logits (batch, tgt_len, vocab)."""
        _, state = self.encoder(self.drop(self.src_embed(src)))
        h, _ = self.decoder(self.drop(self.tgt_embed(tgt_in)), state)
        return self.out(self.drop(h))


def train_speed(batches: list, src_vocab: int, tgt_vocab: int, emb: int, hidden: int, layers: int,
                dropout: float, lr: float, clip: float, warmup: int) -> tuple[float, float]:
    """Train on `batches`; returns (target tokens/s after the first `warmup` batches, last loss)."""
    torch.manual_seed(0)
    model = BareSeq2Seq(src_vocab, tgt_vocab, emb, hidden, layers, dropout)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    tokens, start, loss = 0, 0.0, torch.zeros(())
    for k, batch in enumerate(batches):
        if k == warmup:
            start = time.perf_counter()
        logits = model(batch.src, batch.tgt_in)                             # (batch, tgt_len, vocab)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if k >= warmup:
            tokens += batch.ntokens
    return tokens / (time.perf_counter() - start), float(loss)
