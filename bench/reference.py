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

from bench.common import sync

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
                dropout: float, lr: float, clip: float, warmup: int, attention: bool = False
                ) -> tuple[float, float]:
    """Train on `batches` (on their device); returns (target tokens/s after the first `warmup` batches,
    last loss)."""
    torch.manual_seed(0)
    kind = BareAttentionSeq2Seq if attention else BareSeq2Seq
    device = batches[0].src.device
    model = kind(src_vocab, tgt_vocab, emb, hidden, layers, dropout).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    tokens, start, loss = 0, 0.0, torch.zeros(())
    for k, batch in enumerate(batches):
        if k == warmup:
            sync(device)
            start = time.perf_counter()
        logits = model(batch.src, batch.tgt_in)                             # (batch, tgt_len, vocab)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if k >= warmup:
            tokens += batch.ntokens
    sync(device)
    return tokens / (time.perf_counter() - start), float(loss)


class BareAttentionSeq2Seq(nn.Module):
    """The same loop with what the attention config adds, as the PyTorch docs and tutorials write it: a
    bidirectional nn.LSTM encoder (hidden/2 per direction) whose final states, side by side, start the
    decoder, and Luong's general attention over the encoder's outputs with the padding masked."""

    def __init__(self, src_vocab: int, tgt_vocab: int, emb: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab, emb, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, emb, padding_idx=PAD)
        self.encoder = nn.LSTM(emb, hidden // 2, layers, batch_first=True, dropout=dropout,
                               bidirectional=True)
        self.decoder = nn.LSTM(emb, hidden, layers, batch_first=True, dropout=dropout)
        self.key = nn.Linear(hidden, hidden, bias=False)
        self.combine = nn.Linear(2 * hidden, hidden, bias=False)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, tgt_vocab)

    @staticmethod
    def _join(state: torch.Tensor) -> torch.Tensor:
        layers2, batch, half = state.shape  # (layers * 2, batch, hidden / 2) -> (layers, batch, hidden)
        joined = state.view(layers2 // 2, 2, batch, half).transpose(1, 2)
        return joined.reshape(layers2 // 2, batch, 2 * half)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, (h, c) = self.encoder(self.drop(self.src_embed(src)))            # (batch, src_len, hidden)
        out, _ = self.decoder(self.drop(self.tgt_embed(tgt_in)), (self._join(h), self._join(c)))
        scores = out @ self.key(memory).transpose(1, 2)                         # (batch, tgt_len, src_len)
        weights = scores.masked_fill((src == PAD)[:, None, :], float("-inf")).softmax(-1)
        attended = torch.tanh(self.combine(torch.cat([weights @ memory, out], -1)))
        return self.out(self.drop(attended))                                    # (batch, tgt_len, vocab)
