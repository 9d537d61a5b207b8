"""What a search records of how its hypotheses attended, for the torch loop (search/beam.py) and the NumPy one
(lite/search.py) alike: array-agnostic, given the library's concatenation (torch.cat or np.concatenate).

record_fn(state) -> (rows, src_len), how each live row attended at the step just taken. A finished
hypothesis takes its row's history and this step's row: (tokens + 1, src_len), a row per token and EOS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Attended:
    """The attention rows of every live row so far, (rows, t, src_len), when search records them."""

    def __init__(self, record_fn: Callable[[Any], Any] | None, cat: Callable, host: Callable | None = None):
        self.record_fn, self.cat, self.rows, self.last = record_fn, cat, None, None
        self.host = host or (lambda rows: rows)  # a finished hypothesis's rows to the CPU (torch: .cpu())

    def step(self, state: Any, copies: Any = None) -> None:
        """Take the step's rows from `state` (at beam search's first step, one per sentence: `copies`)."""
        if self.record_fn is not None:
            last = self.record_fn(state)
            self.last = last if copies is None else last[copies]

    def of(self, row: int) -> Any:
        """A row's attention so far and at this step: (t + 1, src_len); None when not recording."""
        if self.record_fn is None:
            return None
        now = self.last[row][None]
        return self.host(now if self.rows is None else self.cat([self.rows[row], now], 0))

    def follow(self, rows: Any) -> None:
        """The step's rows appended, then the rows that go on kept (in their new order; None: all)."""
        if self.record_fn is not None:
            both = self.last[:, None] if self.rows is None else self.cat([self.rows, self.last[:, None]], 1)
            self.rows = both if rows is None else both[rows]

    def keep(self, rows: Any) -> None:
        if self.rows is not None:
            self.rows = self.rows[rows]
