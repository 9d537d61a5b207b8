"""int8 decoding on CPUs: weights in int8 with a scale per output row, activations in 8 bits per input row.

A product's input is quantized row by row, never with a scale shared by the batch, and int8 products
sum exactly in int32: so each row's result is what it would be alone, and an int8 translation does not
depend on what it was batched with (torch's dynamic quantization takes one scale for the whole input,
which does). Two ways to pick a row's scale:

- bounded inputs, known to lie in [-1, 1] (LSTM states, tanh outputs, attention contexts): one fixed
  scale 1/127 for every row, the bias added inside the kernel;
- any other input (embeddings, a projection's output): the row's own largest magnitude / 127, the
  result rescaled per row after the product.

Worked example, one bounded row x = [0.5, -1.0] times the weight row w = [0.2, 0.1]: w's scale is
0.2 / 127, so w -> [127, 64] (64 = round(0.1 / (0.2 / 127)) = round(63.5), ties to even); x -> [64, -127]
(round(0.5 * 127) = round(63.5) = 64); the int32 sum 127 * 64 - 64 * 127 = 0, so x . w ~ 0 (exact: 0).

The products run on oneDNN's int8 kernels (torch.ops.onednn, the path torch.compile takes for
quantized models on x86 CPUs), whose activations are unsigned: a row's int8 values are stored + 128
(bit 7 flipped), zero point 128.
"""

from __future__ import annotations

import torch

from nmt import NMTError

ZERO = 128  # the activations' zero point: int8 q is stored as the uint8 q + 128


def available() -> bool:
    """Whether this torch build has oneDNN's int8 linear kernels (CPU builds from PyPI do)."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.onednn, "qlinear_pointwise")


def _quantize_rows(x: torch.Tensor, inverse: torch.Tensor | float) -> torch.Tensor:
    """x (rows, in) fp32 times inverse (rows, 1) or a number -> (rows, in) uint8: round(x * inverse) + 128."""
    q = torch.mul(x, inverse).round_().clamp_(-127, 127).to(torch.int8)  # to int8 is fast, to uint8 not
    return q.view(torch.uint8).bitwise_xor_(ZERO)                      # q + 128: flipping the sign bit


class Int8Linear:
    """x (..., in) fp32 -> x W^T + b (..., out) fp32, W in int8 (symmetric, a scale per output row).
    bounded: the caller promises every input lies in [-1, 1] (see the module's docstring)."""

    def __init__(self, qweight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None, *,
                 bounded: bool):
        self.qweight, self.scale, self.bounded = qweight, scale, bounded  # (out, in) int8, (out,) fp32
        self.bias = None if bias is None else bias.detach().float().contiguous()
        self.zeros = torch.zeros(len(scale), dtype=torch.int32)
        self.packed = torch.ops.onednn.qlinear_prepack(qweight, None)

    @classmethod
    def quantize(cls, weight: torch.Tensor, bias: torch.Tensor | None, *, bounded: bool) -> Int8Linear:
        """weight (out, in), bias (out,) or None, in float."""
        if not available():
            raise NMTError("--quantize int8 needs a torch build with oneDNN (PyPI's CPU builds have it)")
        weight = weight.detach().float()
        scale = weight.abs().amax(1).clamp_min(1e-30) / 127                        # (out,)
        qweight = (weight / scale[:, None]).round_().clamp_(-127, 127).to(torch.int8)
        return cls(qweight.contiguous(), scale.contiguous(), bias, bounded=bounded)

    def rows(self, ids: torch.Tensor) -> Int8Linear:
        """The output rows `ids` alone, with the same int8 values and scales (a shortlist)."""
        return Int8Linear(self.qweight[ids].contiguous(), self.scale[ids].contiguous(),
                          None if self.bias is None else self.bias[ids], bounded=self.bounded)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, x.size(-1)).float()                                     # (rows, in)
        if self.bounded:
            out = self._product(_quantize_rows(rows, 127.0), 1 / 127, self.bias)
        else:
            top = rows.abs().amax(1, keepdim=True).clamp_min_(1e-30)                 # (rows, 1)
            out = self._product(_quantize_rows(rows, 127 / top), 1.0, None)       # (rows, out), * 127 / top
            scale = top / 127
            out = out.mul_(scale) if self.bias is None else torch.addcmul(self.bias, out, scale)
        return out.view(*x.shape[:-1], out.size(-1))

    def _product(self, q: torch.Tensor, x_scale: float, bias: torch.Tensor | None) -> torch.Tensor:
        return torch.ops.onednn.qlinear_pointwise(q, x_scale, ZERO, self.packed, self.scale, self.zeros, bias,
                                                  1.0, 0, torch.float32, "none", [], "")
