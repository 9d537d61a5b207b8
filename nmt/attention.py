"""Attention over the encoder's outputs (Luong et al. 2015; Bahdanau et al. 2015 for `additive`).

At each target position the decoder's state h scores every source position, padding masked out; the
softmax of the scores weighs the encoder outputs into a context vector c, and the attentional state
tanh(W_c [c; h]) goes on to the output layer (and, with input feeding, into the next step's input):

    dot       score(h, m) = h . m
    general   score(h, m) = h . (W_a m)
    additive  score(h, m) = v . tanh(W_q h + W_k m)

The source-side part of each score (m, W_a m or W_k m: the "keys") is computed once per sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nmt.config import CHOICES

KINDS = CHOICES[("model", "attention")]  # "none" first: no Attention module at all


class Attention(nn.Module):
    def __init__(self, kind: str, hidden: int):
        super().__init__()
        if kind not in KINDS[1:]:
            raise ValueError(f"unknown attention {kind!r}")
        self.kind = kind
        if kind in ("general", "additive"):
            self.key = nn.Linear(hidden, hidden, bias=False)
        if kind == "additive":
            self.query = nn.Linear(hidden, hidden)
            self.v = nn.Linear(hidden, 1, bias=False)
        self.combine = nn.Linear(2 * hidden, hidden, bias=False)

    def keys(self, memory: torch.Tensor, key=None) -> torch.Tensor:
        """memory (batch, src_len, hidden) -> what the scores read of it, same shape. key: a stand-in for
        self.key (decoding's packed copy of it)."""
        return memory if self.kind == "dot" else (key or self.key)(memory)

    def forward(self, h: torch.Tensor, memory: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor,
                linears: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """h (batch, tgt_len, hidden) decoder states; memory and keys (batch, src_len, hidden); mask
        (batch, src_len) True at real source tokens. Returns the attentional states (batch, tgt_len,
        hidden) and the attention weights (batch, tgt_len, src_len), zero at padding.
        linears: stand-ins for self.combine and self.query by name (decoding's packed copies)."""
        linears = linears or {}
        if self.kind == "additive":
            # (batch, tgt_len, 1, hidden) + (batch, 1, src_len, hidden) -> (batch, tgt_len, src_len)
            query = linears.get("query", self.query)
            scores = self.v(torch.tanh(query(h)[:, :, None] + keys[:, None])).squeeze(-1)
        else:
            scores = h @ keys.transpose(1, 2)                                     # (batch, tgt_len, src_len)
        scores = scores.float().masked_fill(~mask[:, None, :], float("-inf"))
        # fp32 even under autocast. Decoding sums in fp64: an fp32 sum's rounding depends on how much
        # padding the batch gave the row, an fp64 one rounds back to the same fp32 weights regardless.
        weights = scores.softmax(-1) if self.training else scores.double().softmax(-1).float()
        context = weights.to(memory.dtype) @ memory                                # (batch, tgt_len, hidden)
        combine = linears.get("combine", self.combine)
        return torch.tanh(combine(torch.cat([context, h.to(context.dtype)], -1))), weights


@dataclass
class AttentionState:
    """The decoder's state when it attends: its recurrent state and what it attends to. Rows are
    sentences (or beam hypotheses); `reorder` follows them as beam search does."""
    rnn: torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # (layers, rows, hidden) h, and c for an LSTM
    memory: torch.Tensor                                    # (rows, src_len, hidden) encoder outputs
    keys: torch.Tensor                                      # (rows, src_len, hidden)
    mask: torch.Tensor                                      # (rows, src_len) True at real tokens
    feed: torch.Tensor | None = None                        # (rows, hidden) last attentional state

    def advance(self, rnn: torch.Tensor | tuple[torch.Tensor, torch.Tensor], att: torch.Tensor
                ) -> AttentionState:
        """The state after one decoder step: its new recurrent state, attending to the same source."""
        return AttentionState(rnn, self.memory, self.keys, self.mask, att)

    def float(self) -> AttentionState:
        """The same state in fp32 (from a bf16 encoder)."""
        rnn = tuple(s.float() for s in self.rnn) if isinstance(self.rnn, tuple) else self.rnn.float()
        return AttentionState(rnn, self.memory.float(), self.keys.float(), self.mask,
                              None if self.feed is None else self.feed.float())

    def reorder(self, index: torch.Tensor) -> AttentionState:
        rnn = (tuple(s.index_select(1, index) for s in self.rnn) if isinstance(self.rnn, tuple)
               else self.rnn.index_select(1, index))
        return AttentionState(rnn, self.memory.index_select(0, index), self.keys.index_select(0, index),
                              self.mask.index_select(0, index),
                              None if self.feed is None else self.feed.index_select(0, index))
