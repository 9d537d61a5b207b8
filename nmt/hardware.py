"""What the machine's processors can do that decides how nmt runs: used by training and decoding alike."""

from __future__ import annotations

import torch


def native_bf16(device: torch.device) -> bool:
    """Whether bfloat16 matrix products run in hardware here: a GPU, or a CPU with AVX512-BF16 or AMX.
    Elsewhere bf16 is emulated and slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))
