"""The output layer arranged for decoding: its rows (all, or a shortlist's) packed for the CPU's kernels in
fp32 or bf16 (PackedOutput), or quantized to int8 once (Int8Output); `rows(ids)` gives the OutputRows a
search scores. With a ShortlistMask (shortlist.py) each search row is normalised over its own sentence's
list only.

Worked example: ids [0, 1, 2, 3, 9] (the specials and piece 9) score those five rows; a sentence whose list
lacks 9 gets mask row [0, 0, 0, 0, -inf], so its log-probabilities are normalised over the first four.
"""

from __future__ import annotations

import torch
from torch import nn

from nmt.fast.int8 import Int8Linear
from nmt.fast.packed import PackedLinear
from nmt.softmax import OutputLayer


class OutputRows:
    """Rows of an output layer ready to score: linear (x -> logits over these rows), after the tied layer's
    projection `proj` when it has one."""

    def __init__(self, linear, proj=None):
        self.linear, self.proj = linear, proj

    def log_probs(self, h: torch.Tensor, mask=None) -> torch.Tensor:
        """(rows, hidden) -> (rows, n) float32 log-probabilities over these rows; with a ShortlistMask, each
        row's over those its sentence lists."""
        x = h if self.proj is None else self.proj(h)
        logits = self.linear(x).float()
        if mask is None:
            return logits.log_softmax(-1)
        rows, n = logits.shape  # a broadcast add, not masked_fill: many times faster on CPUs
        logits = (logits.view(-1, mask.per, n) + mask.outside[:, None]).view(rows, n)
        # The normaliser sums over a row's own pieces wherever the batch's union put them, and an fp32
        # sum's rounding depends on those places: the same fp32 terms summed in fp64 round to the same
        # value whatever the union, so a sentence's scores do not depend on its batch. The clamp keeps
        # -inf from exp, whose vector code is slow on it; e^-87 is nothing beside the largest term, e^0.
        top = logits.amax(-1, keepdim=True)                                      # (rows, 1)
        total = (logits - top).clamp_min_(-87.0).exp_().sum(-1, keepdim=True, dtype=torch.float64)
        return logits - (total.log().float() + top)


class PackedOutput:
    """An output layer's rows in `dtype` (fp32 or bf16) on PackedLinear; all of them arranged once."""

    def __init__(self, layer: OutputLayer, dtype: torch.dtype):
        self.layer, self.dtype = layer, dtype
        self.all: OutputRows | None = None  # arranged at first use (a shortlist never needs it)

    def rows(self, ids: torch.Tensor | None) -> OutputRows:
        """All rows (None), or the sorted target ids `ids` (n,) alone."""
        if ids is not None:
            return self._arrange(ids)
        self.all = self.all or self._arrange(None)
        return self.all

    def _arrange(self, ids: torch.Tensor | None) -> OutputRows:
        layer = self.layer
        with torch.no_grad():
            weight, bias = layer.weight, layer.bias + layer.never
            if ids is not None:
                weight, bias = weight[ids], bias[ids]                              # (n, d), (n,)
            proj = layer.proj  # an nn.Linear or nothing
            linear = PackedLinear(weight, bias, self.dtype)
            proj = None if isinstance(proj, nn.Identity) else PackedLinear(proj.weight, proj.bias, self.dtype)
        return OutputRows(linear, proj)


class Int8Output:
    """An output layer in int8 (int8.py), the projection too if it has one; rows(ids) selects rows of the
    one int8 matrix, so a shortlist scores the same int8 values as the whole layer."""

    def __init__(self, layer: OutputLayer):
        projects = not isinstance(layer.proj, nn.Identity)
        with torch.no_grad():
            # The decoder's states, what the layer reads, lie in [-1, 1]; a projection's output does not.
            self.linear = Int8Linear.quantize(layer.weight, layer.bias + layer.never, bounded=not projects)
            self.proj = (Int8Linear.quantize(layer.proj.weight, layer.proj.bias, bounded=True)
                         if projects else None)
        self.all = OutputRows(self.linear, self.proj)

    def rows(self, ids: torch.Tensor | None) -> OutputRows:
        return self.all if ids is None else OutputRows(self.linear.rows(ids), self.proj)
