"""Which target words translate which source words, learnt from the parallel corpus itself: Dice's
coefficient of two words' sentence counts, 2 * both / (source + target), the association measure of
dictionary extraction from aligned sentences (Smadja, McKeown and Hatzivassiloglou 1996). It needs no model
and no download, reads the corpus twice in seconds (200k pairs: about 15 s), and its links are what term
annotation (augment.py) needs: a source word and the word of the target sentence that translates it.

Words are lowercased runs of letters of at least MIN_LENGTH; words in more than MAX_SHARE of the sentences
(articles, "is", "Tom") link nothing. Each source word keeps its LINKS best target words whose Dice is at
least MIN_DICE and that share at least MIN_PAIRS sentences. Worked example (tests/test_lexicon.py):

    pairs = [("der Hund", "the dog"), ("ein Hund", "a dog"), ("die Katze", "the cat"),
             ("eine Katze", "a cat"), ("Hund und Katze", "dog and cat")]
    hund is in 3 sentences, dog in 3, both in 3: Dice 2 * 3 / (3 + 3) = 1.0; "and" (1 sentence, shared
    once): 2 * 1 / (3 + 1) = 0.5; "the" (2): 2 * 1 / (3 + 2) = 0.4; "cat" (3): 2 * 1 / (3 + 3) = 0.33
    Lexicon.build(pairs, min_pairs=1).links["hund"] -> ("dog", "and", "the")   (the best 3)
    .aligned("Der Hund schläft", "The dog sleeps") -> [(0, 3, 0, 3), (4, 8, 4, 7)]   (der-the, Hund-dog)

(A corpus of under 20 pairs keeps its frequent words: every word is frequent in 5 pairs.)
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

# a run of letters not inside a reserved piece (⦅n1⦆, ⦅/t⦆), with inner hyphens and apostrophes
WORD = re.compile(r"(?<![\w⦅/])[^\W\d_]+(?:[-'’][^\W\d_]+)*(?![\w⦆])")
MIN_LENGTH, MAX_SHARE, LINKS, MIN_DICE, MIN_PAIRS = 3, 0.05, 3, 0.1, 2
SAMPLE_PAIRS = 500_000  # pairs counted at most: a larger corpus adds rare words, not better links


@dataclass
class Lexicon:
    links: dict[str, tuple[str, ...]]  # lowercased source word -> its target words, best first

    @functools.cached_property
    def targets(self) -> list[str]:
        """The target words linked to any source word, in order (what swapped annotations draw from)."""
        return sorted({t for linked in self.links.values() for t in linked})

    @classmethod
    def build(cls, pairs: Iterable[tuple[str, str]], *, min_pairs: int = MIN_PAIRS,
              max_share: float = MAX_SHARE) -> Lexicon:
        sets = [(_words(s), _words(t)) for s, t in itertools.islice(pairs, SAMPLE_PAIRS)]
        src_df = Counter(w for s, _ in sets for w in s)
        tgt_df = Counter(w for _, t in sets for w in t)
        top = max_share * len(sets)
        content = lambda df: {w for w, n in df.items() if n >= min_pairs and (n <= top or len(sets) < 20)}
        src_ok, tgt_ok = content(src_df), content(tgt_df)
        both: Counter = Counter()
        for s, t in sets:
            both.update(itertools.product(s & src_ok, t & tgt_ok))
        ranked: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for (s, t), n in both.items():
            dice = 2 * n / (src_df[s] + tgt_df[t])
            if n >= min_pairs and dice >= MIN_DICE:
                ranked[s].append((dice, t))
        return cls({s: tuple(t for _, t in sorted(c, key=lambda x: (-x[0], x[1]))[:LINKS])
                    for s, c in ranked.items()})

    def aligned(self, src: str, tgt: str) -> list[tuple[int, int, int, int]]:
        """(source start, end, target start, end) of each source word linked to a word of the target
        sentence (its best link found there), one to one, in source order."""
        targets: dict[str, list[re.Match]] = defaultdict(list)
        for m in WORD.finditer(tgt):
            targets[m.group().lower()].append(m)
        out, taken = [], set()
        for m in WORD.finditer(src):
            for link in self.links.get(m.group().lower(), ()):
                free = [t for t in targets.get(link, []) if t.start() not in taken]
                if free:
                    taken.add(free[0].start())
                    out.append((m.start(), m.end(), free[0].start(), free[0].end()))
                    break
        return out


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text) if len(w) >= MIN_LENGTH}
