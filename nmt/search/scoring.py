"""What search ranks by, without PyTorch: a hypothesis and its length-normalised score, and what a
strategy chooses at a step. search/beam.py (torch) and lite/search.py (NumPy) both rank by these, so their
rules are one.

Worked example: a hypothesis of 3 tokens and EOS with log-probability -2.0 scores, with GNMT's alpha 1,
-2.0 / ((5 + 4) / 6) = -1.333; averaged, -2.0 / 4 = -0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nmt.config import DecodeConfig

DEFAULT = DecodeConfig()  # the defaults of search's keyword arguments: one home, in config.py


@dataclass
class Hypothesis:
    tokens: list[int]   # without BOS and EOS
    log_prob: float     # sum of the token log-probabilities, EOS included
    score: float        # length-normalised log_prob: what hypotheses are ranked by
    # how each step attended, one row per token and EOS over the (padded) source, when the search was asked
    # to record it (a tensor of the engine's; the engine trims and orders it)
    attention: Any = None
    # placeholder -> the span it stands for, where the sentence was read with placeholders (set by the text
    # pipeline, text/placeholders.py: what the tokens' placeholder pieces are written as)
    spans: dict | None = None


def normalise(log_prob: float, length: int, alpha: float, mode: str = DEFAULT.length_norm) -> float:
    """Length-normalised score; `length` counts EOS. gnmt: Wu et al. (2016) ((5 + len) / 6) ** alpha."""
    if mode == "average":
        return log_prob / length
    if mode == "none" or alpha == 0:
        return log_prob
    return log_prob / ((5 + length) / 6) ** alpha


@dataclass
class Choice:
    """What a strategy chose at a step, for the live sentences in order (n of them, k places each)."""
    finish: list[tuple[int, int, float]]  # (sentence position, place, summed log-prob): EOS pairs that end
    best_ended: list[bool]                # (n,) the sentence's best candidate was an EOS
    rows: Any                             # (n * k,) the place each new hypothesis extends (i * k + place)
    tokens: Any                           # (n * k,) the token it adds
