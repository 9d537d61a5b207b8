"""Lexically constrained beam search by dynamic beam allocation (Post & Vilar 2018), model-free.

A sentence's constraints are phrases of target ids that must each appear in its translation. Every
hypothesis carries its Progress: which constraints it has met, and the one it is part-way through, if
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

Sentences without constraints never come here (translate.py sends them to search.beam_search), so they
decode exactly as before. A sentence's result depends only on its own rows: candidates are ranked by
(score, hypothesis, token), never by anything of other sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from nmt.search import (
    DEFAULT,
    BlockFn,
    Hypothesis,
    ReorderFn,
    StepFn,
    _blocked,
    _device_of,
    _force_eos,
    normalise,
    row_topk,
)


@dataclass(frozen=True)
class Progress:
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


def advance(progress: Progress, token: int, constraints: list[list[int]]) -> Progress:
    """The Progress after `token` (see the module's docstring)."""
    met = progress.met
    if progress.current >= 0:
        c, j = progress.current, progress.matched
        so_far = [*constraints[c][:j], token]
        # the matched tokens and this one, as the start of an unmet constraint (the same one first)
        for other in [c, *range(len(constraints))]:
            if not met[other] and constraints[other][: j + 1] == so_far:
                return _moved(met, other, j + 1, constraints)
    for other, phrase in enumerate(constraints):  # nothing in progress (or abandoned): start one
        if not met[other] and phrase[0] == token:
            return _moved(met, other, 1, constraints)
    return Progress(met)


def _moved(met: tuple[bool, ...], c: int, matched: int, constraints: list[list[int]]) -> Progress:
    if matched == len(constraints[c]):
        return Progress(tuple(done or i == c for i, done in enumerate(met)), just_met=True)
    return Progress(met, c, matched)


def start(constraints: list[list[int]]) -> Progress:
    return Progress((False,) * len(constraints))


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


def constrained_beam_search(step_fn: StepFn, reorder_fn: ReorderFn, state: Any, *,
                            constraints: list[list[list[int]]], max_lens: torch.Tensor, bos: int, eos: int,
                            beam: int, alpha: float = DEFAULT.length_penalty,
                            norm: str = DEFAULT.length_norm, n_best: int = DEFAULT.n_best,
                            stop_early: bool = DEFAULT.stop_early, joins: torch.Tensor | None = None,
                            block: BlockFn | None = None) -> list[list[Hypothesis]]:
    """Beam search (search.beam_search's rules) in which every sentence's translation holds each of its
    `constraints` (a list of phrases of token ids per sentence); `beam` places per sentence, which must
    be at least beam_for of every sentence's constraints. joins: (vocab,) bool, the tokens that would
    continue the word before them (a piece without a word-start mark): never right after a constraint is
    completed, so "3" does not become "30". block: as in search.greedy_search. Returns `n_best`
    hypotheses per sentence, best first; one that hit the length limit may lack constraints (the search
    was not allowed to finish)."""
    device = _device_of(state)
    batch, k = len(max_lens), beam
    assert all(k >= beam_for(c, 1) for c in constraints), "a beam too narrow for its constraints"
    copies = torch.arange(batch, device=device).repeat_interleave(k)
    alive = list(range(batch))                                          # sentence of each group of k rows
    tokens = torch.full((batch,), bos, dtype=torch.long, device=device)
    history: list[list[int]] = [[] for _ in range(batch * k)]
    scores = [[0.0] + [float("-inf")] * (k - 1) for _ in range(batch)]  # per live sentence, per place
    progress = [[start(constraints[b])] * k for b in range(batch)]
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    top_ended = [False] * batch
    for t in range(int(max_lens.max()) + 1):
        log_probs, state = step_fn(tokens, state)                          # (n * k, vocab)
        if t == 0:
            log_probs, state = log_probs[copies], reorder_fn(state, copies)
        at_limit = [t >= int(max_lens[b]) for b in alive]
        limit_rows = torch.tensor(at_limit).repeat_interleave(k).to(device)
        if block is not None and t > 0:
            log_probs = _blocked(block, log_probs, history, limit_rows)
        log_probs = _force_eos(log_probs, limit_rows, eos)
        if joins is not None:
            ended = [r for r, p in enumerate(p for ps in progress for p in ps) if p.just_met]
            if ended:
                rows_ended = torch.tensor(ended, device=device)
                log_probs[rows_ended] = log_probs[rows_ended].masked_fill(joins.to(device), float("-inf"))
        candidates = _candidates(log_probs, scores, progress, alive, constraints, k)
        rows, next_tokens, scores, next_progress, keep = [], [], [], [], []
        for i, b in enumerate(alive):
            top = sum(len(c) for c in constraints[b])
            ranked = sorted(candidates[i], key=_rank)
            banks: dict[int, list] = {}
            for candidate in ranked:
                banks.setdefault(candidate[3].count(constraints[b]), []).append(candidate)
            full = banks.get(top, [])  # only these may end: EOS among its best k finishes
            enders = ranked if at_limit[i] else full  # at the length limit every hypothesis ends
            for score, row, token, _ in enders[:k]:
                if token == eos and len(finished[b]) < k:
                    finished[b].append(Hypothesis(list(history[i * k + row]), score,
                                                  normalise(score, t + 1, alpha, norm)))
            top_ended[b] |= bool(full) and full[0][2] == eos
            done = at_limit[i] or len(finished[b]) >= k or (
                stop_early and top_ended[b] and len(finished[b]) >= n_best)
            if done:
                continue
            banks = {bank: [c for c in cands if c[2] != eos] for bank, cands in banks.items()}
            chosen = allocate(banks, k, top)
            chosen += [(float("-inf"), 0, eos, start(constraints[b]))] * (k - len(chosen))  # never used
            keep.append(b)
            scores.append([c[0] for c in chosen])
            next_progress.append([c[3] for c in chosen])
            rows += [i * k + c[1] for c in chosen]
            next_tokens += [c[2] for c in chosen]
        if not keep:
            break
        alive, progress = keep, next_progress
        history = [[*history[r], tok] for r, tok in zip(rows, next_tokens, strict=True)]
        tokens = torch.tensor(next_tokens, dtype=torch.long, device=device)
        state = reorder_fn(state, torch.tensor(rows, device=device))
    nothing = Hypothesis([], float("-inf"), float("-inf"))  # no finite path at all (never with a softmax)
    return [sorted(hyps, key=lambda h: -h.score)[:n_best] or [nothing] for hyps in finished]


def _candidates(log_probs: torch.Tensor, scores: list[list[float]], progress: list[list[Progress]],
                alive: list[int], constraints: list[list[list[int]]], k: int) -> list[list[tuple]]:
    """For each live sentence: (score, place, token, Progress after it) for its best 2k pairs and every
    pair that advances a constraint, each once, with a finite score."""
    n = len(alive)
    best = min(2 * k, log_probs.size(-1))
    row_lp, row_tok = row_topk(log_probs, best)                       # (n * k, best)
    flat_lp, flat_tokens = row_lp.view(n, k * best).tolist(), row_tok.view(n, k * best).tolist()
    wanted = [(i, j, tok) for i in range(n) for j in range(k) if scores[i][j] > float("-inf")
              for tok in sorted(progress[i][j].wanted(constraints[alive[i]]))]
    extra = []
    if wanted:
        rows = torch.tensor([i * k + j for i, j, _ in wanted], device=log_probs.device)
        cols = torch.tensor([tok for _, _, tok in wanted], device=log_probs.device)
        extra = log_probs[rows, cols].tolist()
    out: list[dict[tuple[int, int], tuple]] = [{} for _ in range(n)]
    for i in range(n):
        for position, (lp, tok) in enumerate(zip(flat_lp[i], flat_tokens[i], strict=True)):
            place = position // best
            score = scores[i][place] + lp
            if score > float("-inf"):
                out[i][place, tok] = score
    for (i, j, tok), lp in zip(wanted, extra, strict=True):
        if lp > float("-inf"):
            out[i][j, tok] = scores[i][j] + lp
    cands = []
    for i in range(n):
        phrases = constraints[alive[i]]
        cands.append([(score, j, tok, advance(progress[i][j], tok, phrases))
                      for (j, tok), score in out[i].items()])
    return cands
