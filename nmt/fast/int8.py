"""int8 decoding on CPUs: weights in int8 with a scale per output row, activations in 8 bits per input row.

A product's input is quantized row by row, never with a scale shared by the batch, and int8 products
sum exactly in int32: so each row's result is what it would be alone, and an int8 translation does not
depend on what it was batched with (torch's dynamic quantization takes one scale for the whole input,
which does). Two ways to pick a row's scale:

- bounded inputs, known to lie in [-1, 1] (LSTM states, tanh outputs, attention contexts): one fixed
  scale 1/127 (1/63 without VNNI, below) for every row, the bias added inside the kernel;
- any other input (embeddings, a projection's output): the row's own largest magnitude / 127, the
  result rescaled per row after the product.

Worked example, one bounded row x = [0.5, -1.0] times the weight row w = [0.2, 0.1]: w's scale is
0.2 / 127, so w -> [127, 64] (64 = round(0.1 / (0.2 / 127)) = round(63.5), ties to even); x -> [64, -127]
(round(0.5 * 127) = round(63.5) = 64); the int32 sum 127 * 64 - 64 * 127 = 0, so x . w ~ 0 (exact: 0).

The products run on oneDNN's int8 kernels (torch.ops.onednn, the path torch.compile takes for
quantized models on x86 CPUs), whose activations are unsigned: a row's values q are stored as q + 128.
On a CPU without VNNI those kernels add two u8 x s8 products in int16 with saturation (oneDNN's
"Nuances of int8 computations"), so there activations take 7 bits: |q| <= 63, stored as q + 64, and
no pair exceeds 127 * 127 * 2 = 32,258 < 2^15. The example above is for a CPU with VNNI.
"""

from __future__ import annotations

import functools
import platform

import torch

from nmt import NMTError


def available() -> bool:
    """Whether this machine and torch build have oneDNN's int8 linear kernels (PyPI's x86 builds do)."""
    return (platform.machine().lower() in ("x86_64", "amd64") and torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.onednn, "qlinear_pointwise"))


@functools.cache
def activation_levels() -> int:
    """The largest |q| of a quantized activation: 127 on CPUs with VNNI, else 63 (see the docstring)."""
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    return 127 if caps.get("avx512_vnni") or caps.get("avx_vnni") else 63


def _quantize_rows(x: torch.Tensor, inverse: torch.Tensor | float, levels: int) -> torch.Tensor:
    """x (rows, in) fp32 times inverse (rows, 1) or a number, |x * inverse| <= levels -> (rows, in)
    uint8: round(x * inverse) + levels + 1."""
    q = torch.mul(x, inverse).round_().clamp_(-levels, levels).to(torch.int8)  # to int8 is fast, to uint8 not
    if levels == 127:
        return q.view(torch.uint8).bitwise_xor_(128)  # q + 128: flipping the sign bit
    return q.add_(levels + 1).view(torch.uint8)        # q + 64, still within int8


class Int8Linear:
    """x (..., in) fp32 -> x W^T + b (..., out) fp32, W in int8 (symmetric, a scale per output row).
    bounded: the caller promises every input lies in [-1, 1] (see the module's docstring). levels: the
    activations' largest |q| (default: activation_levels())."""

    def __init__(self, qweight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None, *,
                 bounded: bool, levels: int | None = None):
        self.qweight, self.scale, self.bounded = qweight, scale, bounded  # (out, in) int8, (out,) fp32
        self.levels = levels or activation_levels()
        self.bias = None if bias is None else bias.detach().float().contiguous()
        self.zeros = torch.zeros(len(scale), dtype=torch.int32)
        self.packed = torch.ops.onednn.qlinear_prepack(qweight, None)

    @classmethod
    def quantize(cls, weight: torch.Tensor, bias: torch.Tensor | None, *, bounded: bool,
                 levels: int | None = None) -> Int8Linear:
        """weight (out, in), bias (out,) or None, in float."""
        if not available():
            raise NMTError("--quantize int8 needs an x86 CPU and a torch build with oneDNN (PyPI's have it)")
        weight = weight.detach().float()
        scale = weight.abs().amax(1).clamp_min(1e-30) / 127                        # (out,)
        qweight = (weight / scale[:, None]).round_().clamp_(-127, 127).to(torch.int8)
        return cls(qweight.contiguous(), scale.contiguous(), bias, bounded=bounded, levels=levels)

    def rows(self, ids: torch.Tensor) -> Int8Linear:
        """The output rows `ids` alone, with the same int8 values and scales (a shortlist)."""
        return Int8Linear(self.qweight[ids].contiguous(), self.scale[ids].contiguous(),
                          None if self.bias is None else self.bias[ids], bounded=self.bounded,
                          levels=self.levels)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        rows, levels = x.reshape(-1, x.size(-1)).float(), self.levels                # (rows, in)
        if self.bounded:
            out = self._product(_quantize_rows(rows, float(levels), levels), 1 / levels, self.bias)
        else:
            top = rows.abs().amax(1, keepdim=True).clamp_min_(1e-30)                 # (rows, 1)
            out = self._product(_quantize_rows(rows, levels / top, levels), 1.0, None)  # * levels / top
            scale = top / levels
            out = out.mul_(scale) if self.bias is None else torch.addcmul(self.bias, out, scale)
        return out.view(*x.shape[:-1], out.size(-1))

    def _product(self, q: torch.Tensor, x_scale: float, bias: torch.Tensor | None) -> torch.Tensor:
        return torch.ops.onednn.qlinear_pointwise(q, x_scale, self.levels + 1, self.packed, self.scale,
                                                  self.zeros, bias, 1.0, 0, torch.float32, "none", [], "")
