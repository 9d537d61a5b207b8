"""The reserved pieces: words no text holds, which every tokenizer nmt trains keeps whole (sentencepiece's
user-defined symbols) and which a model learns as it learns words.

    placeholders  ⦅n1⦆ … ⦅n9⦆ numbers (times and dates in digits too), ⦅u1⦆ … ⦅u9⦆ URLs, ⦅e1⦆ … ⦅e9⦆
                  e-mail addresses: a kept span stands in the sentence as its kind and its place among the
                  spans of that kind (placeholders.py)
    term markers  ⦅t⦆ TERM ⦅/t⦆ after a source word: its translation should be TERM (annotate.py)

⦅ and ⦆ (U+2985, U+2986) are left alone by sentencepiece's NFKC normalisation, so the pieces survive it.
"""

from __future__ import annotations

KINDS = ("n", "u", "e")  # number, URL, e-mail address
SLOTS = 9                # placeholders of one kind in a sentence; further spans of that kind stay as text
TERM_OPEN, TERM_CLOSE = "⦅t⦆", "⦅/t⦆"


def placeholder(kind: str, index: int) -> str:
    """The placeholder of the index-th (from 1) span of `kind` in a sentence."""
    return f"⦅{kind}{index}⦆"


PLACEHOLDERS = [placeholder(kind, i) for kind in KINDS for i in range(1, SLOTS + 1)]
RESERVED = [*PLACEHOLDERS, TERM_OPEN, TERM_CLOSE]
