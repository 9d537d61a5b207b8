"""Keeping freed memory for reuse: decoding makes and drops the same large tensors at every step."""

from __future__ import annotations

import ctypes


def keep_freed_memory() -> None:
    """Have the C allocator keep large freed blocks for reuse (glibc; elsewhere nothing changes).

    Each search step makes and drops a few (rows, vocab) tensors, 40 MB at 320 rows and 32,000 pieces.
    glibc hands blocks over its mmap threshold (which adapts up to 32 MB) back to the kernel on free and
    maps fresh pages on the next request, so every step pays for page faults and zeroing: measured on a
    2-core EPYC, x + 1 on (1280, 7931) took 12.9 ms that way and 1.9 ms with the memory kept, and beam
    search with 32,000 pieces 16.2 s against 13.1 s. The cost: the process keeps its largest size."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, TypeError):  # not glibc (TypeError: Windows takes no None)
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 1 << 30)
    mallopt(m_trim_threshold, 1 << 30)
