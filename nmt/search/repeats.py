"""No n-gram of words twice in a hypothesis: search's guard against degenerate, looping output.

Words are made of pieces: a piece with the word-start mark begins one. The word being written is complete
once a piece begins the next word or the hypothesis ends, so that is where a repeat is blocked: when the
last n words, the current one included, already occur earlier in the hypothesis, neither a word-starting
piece nor EOS may follow (the current word may still grow into another word). Search does not block a
row at its length limit, where only EOS is left. Worked example, n = 2, pieces "▁a ▁b ▁a ▁b": the words
are a, b, a, b; the bigram "a b" occurred before, so the next piece must continue "b". tests/test_search.py
checks it with beam and greedy search.

No array library here: `rows` says which rows to block, and each search loop masks `blocked` in them with
its own arrays (torch in search/beam.py, NumPy in lite/search.py).
"""

from __future__ import annotations

from collections.abc import Sequence


class NoRepeat:
    """What may not follow a row whose last n words repeat: pieces that start a word, and EOS."""

    def __init__(self, n: int, starts_word: Sequence[bool], eos: int):
        self.n = n
        self._starts = [bool(s) for s in starts_word]  # (vocab,) pieces with the word-start mark
        self.blocked = list(self._starts)             # what may not follow a repeat: those, and EOS
        self.blocked[eos] = True

    def rows(self, histories: list[list[int]]) -> list[int]:
        """The rows (each row's tokens so far) whose next piece must not start a word or end."""
        return [r for r, tokens in enumerate(histories) if self.repeats(tokens, self._starts)]

    def repeats(self, tokens: list[int], starts: list[bool]) -> bool:
        """Do the last n words, the current one included, occur earlier in `tokens`?"""
        words: list[tuple[int, ...]] = []
        for token in tokens:
            if starts[token] or not words:
                words.append((token,))
            else:
                words[-1] += (token,)
        n = self.n
        if len(words) <= n:
            return False
        last = tuple(words[-n:])
        return any(tuple(words[i : i + n]) == last for i in range(len(words) - n))
