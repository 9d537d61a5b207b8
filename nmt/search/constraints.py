"""Lexically constrained beam search by dynamic beam allocation (Post & Vilar 2018), model-free.

A sentence's constraints are phrases of target ids that must each appear in its translation. Every
hypothesis carries its Coverage: which constraints it has met, and the one it is part-way through, if
any. A step extends each hypothesis as beam search does (the best 2k pairs overall), and also with the
tokens that advance a constraint: the next token of the one in progress and the first token of every
constraint not met yet. Candidates go into banks by how many constraint tokens they have met (a
constraint in progress counts the tokens matched so far); the beam's k places are shared among the
banks, k // banks each, the rest to the banks that met most; a bank with too few candidates passes its
places down to the next. Within a bank, candidates rank by score. Only the top bank, where every
constraint is met, ends hypotheses (except at the length limit, where every hypothesis must end): an EOS
among its best k candidates finishes one, and with stop_early a sentence is done once that bank's best
candidate has been an EOS and n_best have finished. A constraint in progress
whose next token does not follow is abandoned and unwound: its matched tokens stop counting, unless
they and the new token begin another unmet constraint.

Worked example: constraints [[7, 8], [9]] (3 tokens, banks 0..3), beam 4, so one place per bank.
Hypotheses after a step: "5" (met 0), "7" (1: [7, 8] in progress), "9" (1: [9] met), "7 8" (2). Say
the next step's candidates include "7 8 9" (3), "7 8 5" (2), "9 7" (2) and "7 5" (0: [7, 8] abandoned,
unwound). Bank 3 takes "7 8 9", bank 2 the better of "7 8 5" and "9 7", bank 1 is empty and passes its
place to bank 0, which takes its best two. Only "7 8 9" may end next. tests/test_constraints.py works
these steps on hand-made probability tables.

Sentences without constraints never come here (engines decode them apart, with the plain strategy), so
they decode exactly as without any constraints. A sentence's result depends only on its own rows:
candidates are ranked by (score, hypothesis, token), never by anything of other sentences.

`Constrained` is this as a strategy of the beam loop (search/beam.py, and its NumPy twin in lite/search.py):
it works on Python lists and reads the log-probabilities through the loop's array operations (`ops`), so
both loops share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nmt.search.scoring import Choice

NEG_INF = float("-inf")


@dataclass(frozen=True)
class Coverage:
    """What a hypothesis has met of its sentence's constraints."""
    met: tuple[bool, ...]
    current: int = -1  # the constraint part-way through, -1: none
    matched: int = 0   # how many of its tokens have been matched
    just_met: bool = False  # the last token completed a constraint (the next may not extend its word)

    def count(self, constraints: list[list[int]]) -> int:
        """Constraint tokens met: its bank."""
        return sum(len(c) for c, done in zip(constraints, self.met, strict=True) if done) + self.matched

    def complete(self) -> bool:
        return all(self.met)

    def wanted(self, constraints: list[list[int]]) -> set[int]:
        """The tokens that would advance a constraint."""
        tokens = {c[0] for c, done in zip(constraints, self.met, strict=True) if not done}
        if self.current >= 0:
            tokens.add(constraints[self.current][self.matched])
        return tokens


def advance(coverage: Coverage, token: int, constraints: list[list[int]]) -> Coverage:
    """The Coverage after `token` (see the module's docstring)."""
    met = coverage.met
    if coverage.current >= 0:
        c, j = coverage.current, coverage.matched
        so_far = [*constraints[c][:j], token]
        # the matched tokens and this one, as the start of an unmet constraint (the same one first)
        for other in [c, *range(len(constraints))]:
            if not met[other] and constraints[other][: j + 1] == so_far:
                return _moved(met, other, j + 1, constraints)
    for other, phrase in enumerate(constraints):  # nothing in progress (or abandoned): start one
        if not met[other] and phrase[0] == token:
            return _moved(met, other, 1, constraints)
    return Coverage(met)


def _moved(met: tuple[bool, ...], c: int, matched: int, constraints: list[list[int]]) -> Coverage:
    if matched == len(constraints[c]):
        return Coverage(tuple(done or i == c for i, done in enumerate(met)), just_met=True)
    return Coverage(met, c, matched)


def start(constraints: list[list[int]]) -> Coverage:
    return Coverage((False,) * len(constraints))


def beam_for(constraints: list[list[int]], beam: int) -> int:
    """The beam a sentence decodes with: at least one place for each bank (constraint tokens + 1)."""
    return max(beam, sum(len(c) for c in constraints) + 1) if constraints else beam


def allocate(banks: dict[int, list], k: int, top: int) -> list:
    """k places shared among banks 0..top (see the module's docstring); each bank's candidates are
    best first. Returns the chosen candidates, best bank first."""
    share, rest = divmod(k, top + 1)
    quota = {b: share + (1 if top - b < rest else 0) for b in range(top + 1)}
    chosen, carry = [], 0
    for b in range(top, -1, -1):
        take = banks.get(b, [])[: quota[b] + carry]
        carry = quota[b] + carry - len(take)
        chosen += take
    if len(chosen) < k:  # places no bank could fill: the best candidates left, whatever their bank
        left = sorted((c for b in banks.values() for c in b if c not in chosen), key=_rank)
        chosen += left[: k - len(chosen)]
    return chosen


def _rank(candidate: tuple) -> tuple:
    score, row, token = candidate[:3]
    return -score, row, token


class Constrained:
    """The beam loop's strategy for sentences with constraints (the module's docstring). `ops`: the loop's
    array operations (topk, take, mask_rows, index); `joins`: (vocab,) bool array of the ops' kind (a
    tensor for TorchOps, an ndarray for NumpyOps, kept as it is: every step masks with it), the pieces
    that would continue the word before them, never right after a completed constraint."""

    def __init__(self, constraints: list[list[list[int]]], k: int, eos: int, ops: Any,
                 joins: Any = None):
        assert all(k >= beam_for(c, 1) for c in constraints), "a beam too narrow for its constraints"
        self.constraints, self.k, self.eos, self.ops = constraints, k, eos, ops
        self.joins = joins
        self.alive = list(range(len(constraints)))                   # sentence of each live group
        self.scores = [[0.0] + [NEG_INF] * (k - 1) for _ in constraints]
        self.coverage = [[start(c)] * k for c in constraints]

    def choose(self, log_probs: Any, at_limit: list[bool]) -> Choice:
        if self.joins is not None:
            ended = [r for r, p in enumerate(p for ps in self.coverage for p in ps) if p.just_met]
            if ended:
                log_probs = self.ops.mask_rows(log_probs, ended, self.joins)
        candidates = self._candidates(log_probs)
        finish, best_ended, rows, tokens, scores, coverage = [], [], [], [], [], []
        k, eos = self.k, self.eos
        for i, b in enumerate(self.alive):
            phrases = self.constraints[b]
            top = sum(len(c) for c in phrases)
            ranked = sorted(candidates[i], key=_rank)
            banks: dict[int, list] = {}
            for candidate in ranked:
                banks.setdefault(candidate[3].count(phrases), []).append(candidate)
            full = banks.get(top, [])  # only these may end: EOS among its best k finishes
            enders = ranked if at_limit[i] else full  # at the length limit every hypothesis ends
            finish += [(i, place, score) for score, place, token, _ in enders[:k] if token == eos]
            best_ended.append(bool(full) and full[0][2] == eos)
            going_on = {bank: [c for c in cands if c[2] != eos] for bank, cands in banks.items()}
            chosen = allocate(going_on, k, top)
            chosen += [(NEG_INF, 0, eos, start(phrases))] * (k - len(chosen))  # never used
            scores.append([c[0] for c in chosen])
            coverage.append([c[3] for c in chosen])
            rows += [i * k + c[1] for c in chosen]
            tokens += [c[2] for c in chosen]
        self.scores, self.coverage = scores, coverage
        return Choice(finish, best_ended, rows, tokens)

    def keep(self, kept: list[int]) -> None:
        """Only the live sentences at positions `kept` go on."""
        self.alive = [self.alive[i] for i in kept]
        self.scores = [self.scores[i] for i in kept]
        self.coverage = [self.coverage[i] for i in kept]

    def _candidates(self, log_probs: Any) -> list[list[tuple]]:
        """For each live sentence: (score, place, token, Coverage after it) for its best 2k pairs and every
        pair that advances a constraint, each once, with a finite score."""
        n, k, scores = len(self.alive), self.k, self.scores
        best = min(2 * k, self.ops.width(log_probs))
        row_lp, row_tok = self.ops.topk(log_probs, best)  # (n * k) lists of `best`
        wanted = [(i, j, tok) for i in range(n) for j in range(k) if scores[i][j] > NEG_INF
                  for tok in sorted(self.coverage[i][j].wanted(self.constraints[self.alive[i]]))]
        extra = self.ops.take(log_probs, [i * k + j for i, j, _ in wanted], [tok for _, _, tok in wanted]) \
            if wanted else []
        out: list[dict[tuple[int, int], float]] = [{} for _ in range(n)]
        for i in range(n):
            for j in range(k):
                for lp, tok in zip(row_lp[i * k + j], row_tok[i * k + j], strict=True):
                    score = scores[i][j] + lp
                    if score > NEG_INF:
                        out[i][j, tok] = score
        for (i, j, tok), lp in zip(wanted, extra, strict=True):
            if lp > NEG_INF:
                out[i][j, tok] = scores[i][j] + lp
        return [[(score, j, tok, advance(self.coverage[i][j], tok, self.constraints[self.alive[i]]))
                 for (j, tok), score in out[i].items()] for i in range(n)]
