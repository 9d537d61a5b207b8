"""Greedy search and the beam loop in NumPy, with search/beam.py's rules, for the decoder without PyTorch.

The same step interface as search/beam.py: step(tokens (rows,), state) -> (log_probs (rows, vocab), state),
and reorder(state, rows). Hypotheses are ranked by search/scoring.py, and every choice is made as the torch
loop makes it: with the plain strategy the best 2k (hypothesis, token) pairs of a step, EOS pairs among the
first k finishing, the best k others going on, OpenNMT-py's stop-early rule, equal scores ranked by the
lower index; with constraints, the very same strategy object (search/constraints.py's Constrained, reading
NumPy arrays through NumpyOps); the no-repeat block of search/repeats.py. So on the same log-probabilities
both return the same hypotheses (tests/test_lite.py runs both on test_search.py's and test_constraints.py's
hand-made tables). The loop is a deliberate twin rather than one loop over an array interface both libraries
satisfy: the torch loop is the one tuned for speed (on-device tensors, no copies), and a shared one would
slow it or hide its tensor work behind wrappers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nmt.search.attended import Attended
from nmt.search.constraints import Constrained
from nmt.search.repeats import NoRepeat
from nmt.search.scoring import DEFAULT, Choice, Hypothesis, normalise

NEG_INF = np.float32(-np.inf)


# k at most this, over rows this many times wider: k passes of argmax, not a partition. argpartition took
# 26 ms for the best 6 of 320 rows of 8,000 log-probabilities (beam 5, batch 64) and six argmax passes 1.5 ms:
# it was over half of nmt-lite's beam search (py-spy, test2016)
FEW = 16


def top(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k largest values and their columns, best first, equal values by the lower column."""
    k = min(k, x.shape[-1])
    if x.ndim == 2 and k <= FEW and x.shape[-1] > 8 * k:
        return _top_by_passes(x, k)
    return _top_exact(x, k)


def _top_by_passes(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """top() by k passes of argmax (the first of equal values is the lower column). A row with fewer than k
    finite values (where -inf ties would repeat a column) is ranked again by _top_exact."""
    y, rows = x.copy(), np.arange(len(x))
    cols = np.empty((len(x), k), dtype=np.int64)
    for j in range(k):
        cols[:, j] = y.argmax(-1)
        y[rows, cols[:, j]] = NEG_INF
    values = np.take_along_axis(x, cols, -1)
    short = ~np.isfinite(values).all(-1)
    if short.any():
        values[short], cols[short] = _top_exact(x[short], k)
    return values, cols


def _top_exact(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """top() by a partition and a sort: any k, any values. A partition takes any of the values equal to the
    k-th largest; a row where it could have taken a lower column is sorted whole."""
    columns = np.broadcast_to(np.arange(x.shape[-1]), x.shape)
    if k >= x.shape[-1]:
        cols = np.lexsort((columns, -x), axis=-1)
        return np.take_along_axis(x, cols, -1), cols
    part = np.argpartition(-x, k - 1, axis=-1)[..., :k]
    values = np.take_along_axis(x, part, -1)
    cols = np.take_along_axis(part, np.lexsort((part, -values), axis=-1), -1)
    kth = np.take_along_axis(x, cols[..., -1:], -1)                     # (rows, 1)
    ties = (x == kth).sum(-1) > (np.take_along_axis(x, cols, -1) == kth).sum(-1)
    if ties.any():
        cols[ties] = np.lexsort((columns[ties], -x[ties]), axis=-1)[..., :k]
    return np.take_along_axis(x, cols, -1), cols


class NumpyOps:
    """What the constrained strategy reads of NumPy log-probabilities (rows, vocab): search/beam.TorchOps'
    twin."""

    @staticmethod
    def width(x: np.ndarray) -> int:
        return x.shape[-1]

    @staticmethod
    def topk(x: np.ndarray, k: int) -> tuple[list[list[float]], list[list[int]]]:
        values, cols = top(x, k)
        return values.tolist(), cols.tolist()

    @staticmethod
    def take(x: np.ndarray, rows: list[int], cols: list[int]) -> list[float]:
        return x[np.asarray(rows), np.asarray(cols)].tolist()

    @staticmethod
    def mask_rows(x: np.ndarray, rows: list[int], mask: np.ndarray | list[bool]) -> np.ndarray:
        out = x.copy()
        out[np.ix_(np.asarray(rows), np.flatnonzero(mask))] = NEG_INF
        return out


def _force_eos(log_probs: np.ndarray, at_limit: np.ndarray, eos: int) -> np.ndarray:
    """Only EOS possible in rows at their length limit."""
    if not at_limit.any():
        return log_probs
    out = log_probs.copy()
    out[at_limit] = NEG_INF
    out[at_limit, eos] = log_probs[at_limit, eos]
    return out


def _blocked(block: NoRepeat | None, log_probs: np.ndarray, history: np.ndarray, at_limit: np.ndarray
             ) -> np.ndarray:
    """`block` applied to the rows not at their length limit."""
    if block is None or history.shape[1] == 0:
        return log_probs
    rows = [r for r in block.rows(history.tolist()) if not at_limit[r]]
    return NumpyOps.mask_rows(log_probs, rows, block.blocked) if rows else log_probs


def greedy_search(step: Callable, reorder: Callable, state: Any, *, max_lens: np.ndarray, bos: int, eos: int,
                  alpha: float = DEFAULT.length_penalty, norm: str = DEFAULT.length_norm,
                  block: NoRepeat | None = None, record_fn: Callable | None = None,
                  ranked_fn: Callable | None = None) -> list[list[Hypothesis]]:
    """search/beam.greedy_search in NumPy. ranked_fn(state): the step's own best pieces per row, (values,
    ids) (rows, >= 1) ranked as top() ranks, when it has them (the decoder graph's TopK): used where no
    rule changed the step's log-probabilities."""
    attended = Attended(record_fn, np.concatenate)
    batch = len(max_lens)
    alive = np.arange(batch)
    tokens = np.full(batch, bos, dtype=np.int64)
    history = np.zeros((batch, 0), dtype=np.int64)
    total = np.zeros(batch, dtype=np.float32)
    results: list[list[Hypothesis]] = [[] for _ in range(batch)]
    for t in range(int(max_lens.max()) + 1):
        raw, state = step(tokens, state)
        attended.step(state)
        at_limit = t >= max_lens[alive]
        log_probs = _force_eos(_blocked(block, raw, history, at_limit), at_limit, eos)
        ranked = ranked_fn(state) if ranked_fn and log_probs is raw else None
        best, cols = (ranked[0][:, :1], ranked[1][:, :1]) if ranked is not None else top(log_probs, 1)
        tokens = cols[:, 0].astype(np.int64)
        total = total + best[:, 0]
        ended = tokens == eos
        if ended.any():
            for i in np.flatnonzero(ended):
                lp = float(total[i])
                score = normalise(lp, t + 1, alpha, norm)
                results[int(alive[i])] = [Hypothesis(history[i].tolist(), lp, score, attended.of(i))]
            keep = np.flatnonzero(~ended)
            if len(keep) == 0:
                break
            alive, history, total, tokens = alive[keep], history[keep], total[keep], tokens[keep]
            state = reorder(state, keep)
            attended.follow(keep)
        else:
            attended.follow(None)
        history = np.concatenate([history, tokens[:, None]], axis=1)
    return results


class Plain:
    """search/beam.Plain in NumPy."""

    def __init__(self, batch: int, k: int, eos: int):
        self.k, self.eos = k, eos
        self.scores = np.full((batch, k), NEG_INF, dtype=np.float32)
        self.scores[:, 0] = 0

    def choose(self, log_probs: np.ndarray, at_limit: list[bool], ranked: tuple | None = None) -> Choice:
        """ranked: each row's best pieces when the step ranked them (greedy_search's ranked_fn)."""
        k, n = self.k, len(self.scores)
        best = min(k + 1, log_probs.shape[-1])
        if ranked is not None and ranked[1].shape[1] >= best:
            row_lp, row_tok = ranked[0][:, :best], ranked[1][:, :best]
        else:
            row_lp, row_tok = top(log_probs, best)                          # (n * k, best)
        cand = (self.scores[:, :, None] + row_lp.reshape(n, k, best)).reshape(n, k * best)
        top_scores, top_idx = top(cand, min(2 * k, k * best))               # (n, 2k)
        from_beam = top_idx // best
        top_tok = np.take_along_axis(row_tok.reshape(n, k * best), top_idx, 1)
        is_eos = top_tok == self.eos
        to_finish = is_eos & (np.arange(top_scores.shape[1]) < k) & np.isfinite(top_scores)
        finish = [(int(i), int(from_beam[i, j]), float(top_scores[i, j]))
                  for i, j in zip(*np.nonzero(to_finish), strict=True)]
        live_scores, pos = top(np.where(is_eos, NEG_INF, top_scores), k)  # (n, k)
        rows = (np.arange(n)[:, None] * k + np.take_along_axis(from_beam, pos, 1)).reshape(-1)
        self.scores = live_scores
        return Choice(finish, to_finish[:, 0], rows, np.take_along_axis(top_tok, pos, 1).reshape(-1))

    def keep(self, kept: list[int]) -> None:
        self.scores = self.scores[np.asarray(kept, dtype=np.int64)]


def beam_search(step: Callable, reorder: Callable, state: Any, *, max_lens: np.ndarray, bos: int, eos: int,
                beam: int = DEFAULT.beam, alpha: float = DEFAULT.length_penalty,
                norm: str = DEFAULT.length_norm, n_best: int = DEFAULT.n_best,
                stop_early: bool = DEFAULT.stop_early, block: NoRepeat | None = None,
                constraints: list[list[list[int]]] | None = None, joins: Any = None,
                record_fn: Callable | None = None, ranked_fn: Callable | None = None
                ) -> list[list[Hypothesis]]:
    """search/beam.beam_search in NumPy (see its docstring for the rules); ranked_fn as greedy_search's."""
    attended = Attended(record_fn, np.concatenate)
    batch, k = len(max_lens), beam
    strategy = Plain(batch, k, eos) if constraints is None else \
        Constrained(constraints, k, eos, NumpyOps, joins)
    copies = np.repeat(np.arange(batch), k)
    alive = np.arange(batch)
    tokens = np.full(batch, bos, dtype=np.int64)
    history = np.zeros((batch * k, 0), dtype=np.int64)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    n_finished = np.zeros(batch, dtype=np.int64)
    top_finished = np.zeros(batch, dtype=bool)
    for t in range(int(max_lens.max()) + 1):
        raw, state = step(tokens, state)
        attended.step(state, copies if t == 0 else None)
        ranked = ranked_fn(state) if ranked_fn and constraints is None else None
        if t == 0:
            raw, state = raw[copies], reorder(state, copies)
            ranked = None if ranked is None else (ranked[0][copies], ranked[1][copies])
        at_limit = t >= max_lens[alive]
        limit_rows = np.repeat(at_limit, k)
        log_probs = _force_eos(_blocked(block, raw, history, limit_rows), limit_rows, eos)
        if constraints is None:
            choice = strategy.choose(log_probs, at_limit.tolist(), ranked if log_probs is raw else None)
        else:
            choice = strategy.choose(log_probs, at_limit.tolist())
        for i, place, lp in choice.finish:
            sentence = int(alive[i])
            if n_finished[sentence] < k:
                hyp = Hypothesis(history[i * k + place].tolist(), lp, normalise(lp, t + 1, alpha, norm),
                                 attended.of(i * k + place))
                finished[sentence].append(hyp)
                n_finished[sentence] += 1
        rows = np.asarray(choice.rows, dtype=np.int64)
        tokens = np.asarray(choice.tokens, dtype=np.int64)
        history = np.concatenate([history[rows], tokens[:, None]], axis=1)
        state = reorder(state, rows)
        attended.follow(rows)
        done = at_limit | (n_finished[alive] >= k)
        if stop_early:
            top_finished[alive] |= np.asarray(choice.best_ended, dtype=bool)
            done |= top_finished[alive] & (n_finished[alive] >= n_best)
        if done.any():
            keep = np.flatnonzero(~done)
            if len(keep) == 0:
                break
            keep_rows = (keep[:, None] * k + np.arange(k)).reshape(-1)
            alive, tokens, history = alive[keep], tokens[keep_rows], history[keep_rows]
            strategy.keep(keep.tolist())
            state = reorder(state, keep_rows)
            attended.keep(keep_rows)
    nothing = Hypothesis([], float("-inf"), float("-inf"))
    return [sorted(hyps, key=lambda h: -h.score)[:n_best] or [nothing] for hyps in finished]
