"""Greedy and beam search in NumPy, with search.py's rules, for the decoder without PyTorch.

The same step interface as search.py: step(tokens (rows,), state) -> (log_probs (rows, vocab), state),
and reorder(state, rows). Hypotheses are ranked by nmt.scoring, the module search.py ranks by too, and
every choice is made as search.py makes it: the best 2k (hypothesis, token) pairs of a step, EOS pairs
among the first k finishing, the best k others going on, OpenNMT-py's stop-early rule, equal scores
ranked by the lower index. So on the same log-probabilities both return the same hypotheses
(tests/test_lite.py runs both on test_search.py's hand-made tables). Kept as a second loop rather than
one loop over an array interface both libraries satisfy: the torch loop is the one tuned for speed
(on-device tensors, no copies), and a shared one would slow it or hide its tensor work behind wrappers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nmt.scoring import DEFAULT, Hypothesis, normalise

NEG_INF = np.float32(-np.inf)


def _force_eos(log_probs: np.ndarray, at_limit: np.ndarray, eos: int) -> np.ndarray:
    """Only EOS possible in rows at their length limit."""
    if not at_limit.any():
        return log_probs
    out = log_probs.copy()
    out[at_limit] = NEG_INF
    out[at_limit, eos] = log_probs[at_limit, eos]
    return out


def top(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k largest values and their columns, best first, equal values by the lower column."""
    k = min(k, x.shape[-1])
    if k < x.shape[-1]:
        part = np.argpartition(-x, k - 1, axis=-1)[..., :k]
    else:
        part = np.broadcast_to(np.arange(x.shape[-1]), x.shape)
    values = np.take_along_axis(x, part, -1)
    order = np.lexsort((part, -values), axis=-1)
    cols = np.take_along_axis(part, order, -1)
    return np.take_along_axis(x, cols, -1), cols


def greedy_search(step: Callable, reorder: Callable, state: Any, *, max_lens: np.ndarray, bos: int, eos: int,
                  alpha: float = DEFAULT.length_penalty, norm: str = DEFAULT.length_norm
                  ) -> list[list[Hypothesis]]:
    batch = len(max_lens)
    alive = np.arange(batch)
    tokens = np.full(batch, bos, dtype=np.int64)
    history = np.zeros((batch, 0), dtype=np.int64)
    total = np.zeros(batch, dtype=np.float32)
    results: list[list[Hypothesis]] = [[] for _ in range(batch)]
    for t in range(int(max_lens.max()) + 1):
        log_probs, state = step(tokens, state)
        log_probs = _force_eos(log_probs, t >= max_lens[alive], eos)
        best, cols = top(log_probs, 1)
        tokens = cols[:, 0].astype(np.int64)
        total = total + best[:, 0]
        ended = tokens == eos
        if ended.any():
            for i in np.flatnonzero(ended):
                lp = float(total[i])
                score = normalise(lp, t + 1, alpha, norm)
                results[int(alive[i])] = [Hypothesis(history[i].tolist(), lp, score)]
            keep = np.flatnonzero(~ended)
            if len(keep) == 0:
                break
            alive, history, total, tokens = alive[keep], history[keep], total[keep], tokens[keep]
            state = reorder(state, keep)
        history = np.concatenate([history, tokens[:, None]], axis=1)
    return results


def beam_search(step: Callable, reorder: Callable, state: Any, *, max_lens: np.ndarray, bos: int, eos: int,
                beam: int = DEFAULT.beam, alpha: float = DEFAULT.length_penalty,
                norm: str = DEFAULT.length_norm, n_best: int = DEFAULT.n_best,
                stop_early: bool = DEFAULT.stop_early) -> list[list[Hypothesis]]:
    """search.beam_search in NumPy (see its docstring for the rules)."""
    batch, k = len(max_lens), beam
    copies = np.repeat(np.arange(batch), k)
    alive = np.arange(batch)
    tokens = np.full(batch, bos, dtype=np.int64)
    history = np.zeros((batch * k, 0), dtype=np.int64)
    scores = np.full((batch, k), NEG_INF, dtype=np.float32)
    scores[:, 0] = 0
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    n_finished = np.zeros(batch, dtype=np.int64)
    top_finished = np.zeros(batch, dtype=bool)
    for t in range(int(max_lens.max()) + 1):
        n = len(alive)
        log_probs, state = step(tokens, state)
        if t == 0:
            log_probs, state = log_probs[copies], reorder(state, copies)
        at_limit = t >= max_lens[alive]
        log_probs = _force_eos(log_probs, np.repeat(at_limit, k), eos)
        best = min(k + 1, log_probs.shape[-1])
        row_lp, row_tok = top(log_probs, best)                              # (n * k, best)
        cand = (scores[:, :, None] + row_lp.reshape(n, k, best)).reshape(n, k * best)
        top_scores, top_idx = top(cand, min(2 * k, k * best))               # (n, 2k)
        from_beam = top_idx // best
        top_tok = np.take_along_axis(row_tok.reshape(n, k * best), top_idx, 1)
        is_eos = top_tok == eos
        to_finish = is_eos & (np.arange(top_scores.shape[1]) < k) & np.isfinite(top_scores)
        for i, j in zip(*np.nonzero(to_finish), strict=True):
            sentence = int(alive[i])
            if n_finished[sentence] < k:
                lp = float(top_scores[i, j])
                row = i * k + int(from_beam[i, j])
                score = normalise(lp, t + 1, alpha, norm)
                finished[sentence].append(Hypothesis(history[row].tolist(), lp, score))
                n_finished[sentence] += 1
        live_scores, pos = top(np.where(is_eos, NEG_INF, top_scores), k)  # (n, k)
        rows = (np.arange(n)[:, None] * k + np.take_along_axis(from_beam, pos, 1)).reshape(-1)
        tokens = np.take_along_axis(top_tok, pos, 1).reshape(-1).astype(np.int64)
        history = np.concatenate([history[rows], tokens[:, None]], axis=1)
        scores = live_scores
        state = reorder(state, rows)
        done = at_limit | (n_finished[alive] >= k)
        if stop_early:
            top_finished[alive] |= to_finish[:, 0]
            done |= top_finished[alive] & (n_finished[alive] >= n_best)
        if done.any():
            keep = np.flatnonzero(~done)
            if len(keep) == 0:
                break
            keep_rows = (keep[:, None] * k + np.arange(k)).reshape(-1)
            alive, scores = alive[keep], scores[keep]
            tokens, history = tokens[keep_rows], history[keep_rows]
            state = reorder(state, keep_rows)
    return [sorted(hyps, key=lambda h: -h.score)[:n_best] for hyps in finished]
