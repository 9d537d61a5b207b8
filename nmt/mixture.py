"""Several prepared corpora in one training, each drawn by its share.

An epoch draws as many pairs as the corpora hold together (N). Corpus i's count is its share of N,
rounded so the counts add up to N; it is read in whole passes, and what is left over is a seeded
sample without replacement. So a small corpus with a large share is repeated, a large one with a small
share is read a different part each epoch, and shares proportional to the sizes (temperature 1) read
every corpus exactly once: plain concatenation. What an epoch holds depends only on the seed, the epoch
and the corpora, which is what lets a resumed run go on with the same batches.

Worked example (tests/test_mixture.py replays it): corpora of 6 and 2 pairs, weights 1 and 1, so
shares 1/2 and 1/2 of N = 8: the first contributes 4 of its 6 pairs (a sample), the second its 2 pairs
twice. With temperature 1 the shares are 6/8 and 2/8: each corpus once. With temperature 2,
shares are proportional to sqrt(6) = 2.45 and sqrt(2) = 1.41, i.e. 0.634 and 0.366, counts 5.07 and
2.93, rounded to 5 and 3: 5 of the 6 and the 2 pairs plus 1 of them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nmt.corpus import PreparedCorpus
from nmt.text.tokenizer import EOS


def shares(sizes: Sequence[int], weights: Sequence[float], temperature: float = 0.0) -> np.ndarray:
    """Each corpus's share of the draws: proportional to weight, or with temperature T > 0 to
    weight * size ** (1 / T)."""
    w = np.asarray(weights, dtype=np.float64)
    if temperature > 0:
        w = w * np.asarray(sizes, dtype=np.float64) ** (1.0 / temperature)
    return w / w.sum()


def counts(total: int, share: np.ndarray) -> np.ndarray:
    """`total` draws split by `share` into whole numbers that add up to `total` (largest remainder)."""
    exact = total * share
    whole = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - whole), kind="stable")
    whole[order[: total - int(whole.sum())]] += 1
    return whole


def draw(size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` indices into a corpus of `size`: whole passes, then a sample without replacement."""
    passes, rest = divmod(count, size)
    return np.concatenate([np.tile(np.arange(size), passes), np.sort(rng.choice(size, rest, replace=False))])


@dataclass
class Epoch:
    """The pairs one epoch trains on: pair k is pair `local[k]` of corpus `source[k]`."""
    corpora: Sequence[PreparedCorpus]
    source: np.ndarray  # (pairs,) which corpus
    local: np.ndarray   # (pairs,) which pair of it

    def lengths(self, side: str) -> np.ndarray:
        """(pairs,) token counts of one side, in the epoch's order."""
        out = np.empty(len(self.local), dtype=np.int64)
        for i, corpus in enumerate(self.corpora):
            mine = self.source == i
            out[mine] = corpus.lengths(side)[self.local[mine]]
        return out

    def sentence(self, side: str, k: int) -> np.ndarray:
        return self.corpora[self.source[k]].sentence(side, int(self.local[k]))


class Mixture:
    """Prepared corpora and their shares; `epoch(seed, e)` says which pairs epoch e trains on."""

    def __init__(self, corpora: Sequence[PreparedCorpus], share: Sequence[float]):
        self.corpora, self.share = list(corpora), np.asarray(share, dtype=np.float64)
        self.sizes = [len(c) for c in self.corpora]
        self.counts = counts(sum(self.sizes), self.share)

    def epoch(self, seed: int, epoch: int) -> Epoch:
        parts = [draw(size, int(count), np.random.default_rng([seed, epoch, i]))
                 for i, (size, count) in enumerate(zip(self.sizes, self.counts, strict=True))]
        source = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
        return Epoch(self.corpora, source, np.concatenate(parts))

    def target_counts(self, vocab: int) -> np.ndarray:
        """(vocab,) how often each target piece is drawn in an epoch: each corpus's counts times the passes
        its share makes over it. The sampled softmax's proposal comes from these."""
        return sum(target_counts(corpus, vocab) * (count / len(corpus))
                   for corpus, count in zip(self.corpora, self.counts, strict=True))


def target_counts(corpus: PreparedCorpus, vocab: int) -> np.ndarray:
    """(vocab,) how often each target piece occurs in a corpus, EOS counted once per sentence."""
    found = np.bincount(np.asarray(corpus.bins["tgt"]), minlength=vocab).astype(np.float64)
    found[EOS] += len(corpus)
    return found
