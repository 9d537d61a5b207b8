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
from nmt.regroup import reorder_shared

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

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """memory (batch, src_len, hidden) -> what the scores read of it, same shape."""
        return source_keys(self, memory)

    def forward(self, h: torch.Tensor, memory: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """h (batch, tgt_len, hidden) decoder states; memory and keys (batch, src_len, hidden); mask
        (batch, src_len) True at real source tokens. Returns the attentional states (batch, tgt_len,
        hidden) and the attention weights (batch, tgt_len, src_len), zero at padding."""
        return attend(self, h, memory, keys, mask, exact=not self.training)


def source_keys(layers, memory: torch.Tensor) -> torch.Tensor:
    """Attention.keys for `layers`: an Attention, or anything with its `kind` and `key` (the fast
    floor's packed copy, fast/step.py)."""
    return memory if layers.kind == "dot" else layers.key(memory)


def attend(layers, h: torch.Tensor, memory: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor, *,
           exact: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention.forward's arithmetic with the layers of `layers` (an Attention, or anything with its
    kind, query, v and combine). exact: the softmax's sum in fp64 (decoding; see below)."""
    if layers.kind == "additive":
        # (batch, tgt_len, 1, hidden) + (batch, 1, src_len, hidden) -> (batch, tgt_len, src_len)
        scores = layers.v(torch.tanh(layers.query(h)[:, :, None] + keys[:, None])).squeeze(-1)
    else:
        scores = h @ keys.transpose(1, 2)                                         # (batch, tgt_len, src_len)
    scores = scores.float().masked_fill(~mask[:, None, :], float("-inf"))
    # fp32 even under autocast. Decoding sums in fp64: an fp32 sum's rounding depends on how much
    # padding the batch gave the row, an fp64 one rounds back to the same fp32 weights regardless.
    weights = scores.double().softmax(-1).float() if exact else scores.softmax(-1)
    context = weights.to(memory.dtype) @ memory                                    # (batch, tgt_len, hidden)
    return torch.tanh(layers.combine(torch.cat([context, h.to(context.dtype)], -1))), weights


@dataclass
class AttentionState:
    """The decoder's state when it attends: its recurrent state and what it attends to. Rows are
    sentences (or beam hypotheses); `reorder` follows them as beam search does. What is attended to
    is held once per source: row r reads source r // per (regroup.py)."""
    rnn: torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # (layers, rows, hidden) h, and c for an LSTM
    memory: torch.Tensor                                    # (sources, src_len, hidden) encoder outputs
    keys: torch.Tensor                                      # (sources, src_len, hidden)
    mask: torch.Tensor                                      # (sources, src_len) True at real tokens
    feed: torch.Tensor | None = None                        # (rows, hidden) last attentional state
    per: int = 1                                            # rows per source; rows = sources * per
    weights: torch.Tensor | None = None                     # (rows, src_len) the last step's attention

    def attend(self, attention, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: h (rows, 1, hidden) -> attentional states (rows, 1, hidden) and weights (rows, 1,
        src_len), each row attending to its own source (the rows of a source as its target positions).
        attention: the model's Attention, or anything called like it (fast/step.py's packed copy)."""
        sources, rows = self.memory.size(0), h.size(0)
        # -1 for per: the same, and an exported graph (export.py) reads it from the shapes
        att, weights = attention(h.reshape(sources, -1, h.size(-1)), self.memory, self.keys,
                                 self.mask)                                 # (sources, per, ...)
        return att.reshape(rows, 1, -1), weights.reshape(rows, 1, -1)

    def advance(self, rnn: torch.Tensor | tuple[torch.Tensor, torch.Tensor], att: torch.Tensor,
                weights: torch.Tensor | None = None) -> AttentionState:
        """The state after one decoder step: its new recurrent state, attending to the same source; weights
        (rows, src_len): how the step attended (what search records for alignments)."""
        return AttentionState(rnn, self.memory, self.keys, self.mask, att, self.per, weights)

    def float(self) -> AttentionState:
        """The same state in fp32 (from a bf16 encoder)."""
        rnn = tuple(s.float() for s in self.rnn) if isinstance(self.rnn, tuple) else self.rnn.float()
        return AttentionState(rnn, self.memory.float(), self.keys.float(), self.mask,
                              None if self.feed is None else self.feed.float(), self.per)

    def reorder(self, index: torch.Tensor) -> AttentionState:
        rnn = (tuple(s.index_select(1, index) for s in self.rnn) if isinstance(self.rnn, tuple)
               else self.rnn.index_select(1, index))
        (memory, keys, mask), per = reorder_shared((self.memory, self.keys, self.mask), index, self.per)
        # the weights are the last step's, read by search before it reorders: not carried along
        return AttentionState(rnn, memory, keys, mask,
                              None if self.feed is None else self.feed.index_select(0, index), per)
