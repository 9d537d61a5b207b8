"""No n-gram of words twice in a hypothesis: search's guard against degenerate, looping output.

Words are made of pieces: a piece with the word-start mark begins one. The word being written is complete
once a piece begins the next word or the hypothesis ends, so that is where a repeat is blocked: when the
last n words, the current one included, already occur earlier in the hypothesis, neither a word-starting
piece nor EOS may follow (the current word may still grow into another word). Search does not block a
row at its length limit, where only EOS is left. Worked example, n = 2, pieces "▁a ▁b ▁a ▁b": the words
are a, b, a, b; the bigram "a b" occurred before, so the next piece must continue "b". tests/test_search.py
checks it with beam and greedy search.
"""

from __future__ import annotations

import torch


class NoRepeat:
    """A block for search: (log_probs (rows, vocab), each row's tokens so far) -> log_probs."""

    def __init__(self, n: int, starts_word: torch.Tensor, eos: int):
        self.n = n
        self._starts = starts_word.tolist()  # (vocab,) bool: pieces with the word-start mark
        self.blocked = starts_word.clone()    # what may not follow a repeat: those, and EOS
        self.blocked[eos] = True

    def __call__(self, log_probs: torch.Tensor, histories: list[list[int]]) -> torch.Tensor:
        rows = [r for r, tokens in enumerate(histories) if self.repeats(tokens, self._starts)]
        if rows:
            index = torch.tensor(rows, device=log_probs.device)
            blocked = log_probs[index].masked_fill(self.blocked.to(log_probs.device), float("-inf"))
            log_probs = log_probs.index_put((index,), blocked)
        return log_probs

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
