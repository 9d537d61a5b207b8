"""What search ranks by, without PyTorch: a hypothesis and its length-normalised score. search.py (torch)
and lite/search.py (NumPy) both rank by these, so their rules are one.

Worked example: a hypothesis of 3 tokens and EOS with log-probability -2.0 scores, with GNMT's alpha 1,
-2.0 / ((5 + 4) / 6) = -1.333; averaged, -2.0 / 4 = -0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

from nmt.config import DecodeConfig

DEFAULT = DecodeConfig()  # the defaults of search's keyword arguments: one home, in config.py


@dataclass
class Hypothesis:
    tokens: list[int]   # without BOS and EOS
    log_prob: float     # sum of the token log-probabilities, EOS included
    score: float        # length-normalised log_prob: what hypotheses are ranked by


def normalise(log_prob: float, length: int, alpha: float, mode: str = DEFAULT.length_norm) -> float:
    """Length-normalised score; `length` counts EOS. gnmt: Wu et al. (2016) ((5 + len) / 6) ** alpha."""
    if mode == "average":
        return log_prob / length
    if mode == "none" or alpha == 0:
        return log_prob
    return log_prob / ((5 + length) / 6) ** alpha
