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


def follow(index: torch.Tensor, per: int, sources: int) -> tuple[torch.Tensor | None, int]:
    """Where per-source tensors go when search keeps rows `index` of a source-major layout: `per` rows
    for each of `sources` sources, row r reading source r // per (a sentence's beam hypotheses share its
    encoder outputs, so these are kept once per sentence, not copied for every row at every step).

    Returns the sources to keep, in their new order (None: all, unchanged), and the rows per source
    after. Beam search keeps rows in groups of equally many per sentence: index 0..5 of 2 sources
    with per 3 kept as [3, 5, 4] -> (tensor([1]), 3). Anything else falls back to a copy per row:
    ([2, 0]) -> (tensor([0, 0]), 1)."""
    if index.numel() == 0:
        return index, 1
    owner = index // per                                                    # (rows',) each row's source
    kept, counts = torch.unique_consecutive(owner, return_counts=True)
    if not bool((counts == counts[0]).all()):
        return owner, 1
    if len(kept) == sources and bool((kept[1:] > kept[:-1]).all()):  # then kept is 0..sources-1
        return None, int(counts[0])
    return kept, int(counts[0])


@dataclass
class AttentionState:
    """The decoder's state when it attends: its recurrent state and what it attends to. Rows are
    sentences (or beam hypotheses); `reorder` follows them as beam search does. What is attended to
    is held once per source: row r reads source r // per."""
    rnn: torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # (layers, rows, hidden) h, and c for an LSTM
    memory: torch.Tensor                                    # (sources, src_len, hidden) encoder outputs
    keys: torch.Tensor                                      # (sources, src_len, hidden)
    mask: torch.Tensor                                      # (sources, src_len) True at real tokens
    feed: torch.Tensor | None = None                        # (rows, hidden) last attentional state
    per: int = 1                                            # rows per source; rows = sources * per

    def attend(self, attention: Attention, h: torch.Tensor, linears: dict | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: h (rows, 1, hidden) -> attentional states (rows, 1, hidden) and weights (rows, 1,
        src_len), each row attending to its own source (the rows of a source as its target positions)."""
        sources, rows = self.memory.size(0), h.size(0)
        att, weights = attention(h.reshape(sources, self.per, h.size(-1)), self.memory, self.keys,
                                 self.mask, linears)                        # (sources, per, ...)
        return att.reshape(rows, 1, -1), weights.reshape(rows, 1, -1)

    def advance(self, rnn: torch.Tensor | tuple[torch.Tensor, torch.Tensor], att: torch.Tensor
                ) -> AttentionState:
        """The state after one decoder step: its new recurrent state, attending to the same source."""
        return AttentionState(rnn, self.memory, self.keys, self.mask, att, self.per)

    def float(self) -> AttentionState:
        """The same state in fp32 (from a bf16 encoder)."""
        rnn = tuple(s.float() for s in self.rnn) if isinstance(self.rnn, tuple) else self.rnn.float()
        return AttentionState(rnn, self.memory.float(), self.keys.float(), self.mask,
                              None if self.feed is None else self.feed.float(), self.per)

    def reorder(self, index: torch.Tensor) -> AttentionState:
        rnn = (tuple(s.index_select(1, index) for s in self.rnn) if isinstance(self.rnn, tuple)
               else self.rnn.index_select(1, index))
        kept, per = follow(index, self.per, self.memory.size(0))
        memory, keys, mask = self.memory, self.keys, self.mask
        if kept is not None:
            memory, keys, mask = (t.index_select(0, kept) for t in (memory, keys, mask))
        return AttentionState(rnn, memory, keys, mask,
                              None if self.feed is None else self.feed.index_select(0, index), per)
