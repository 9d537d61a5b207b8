"""What the machine's processors can do that decides how nmt runs: used by training and decoding alike."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def native_bf16(device: torch.device) -> bool:
    """Whether bfloat16 matrix products run in hardware here: a GPU, or a CPU with AVX512-BF16 or AMX.
    Elsewhere bf16 is emulated and slower than fp32."""
    import torch  # here, not at the top: the command line reads resident_mb before it needs torch
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))


def resident_mb() -> float | None:
    """This process's resident memory now, in MB (Linux's /proc; None where there is none)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None
