"""Greedy and beam search over any model that offers a step function.

Search knows nothing of LSTMs. It calls
    step_fn(prev_tokens (rows,), state) -> (log_probs (rows, vocab), state)
and follows surviving rows with reorder_fn(state, row_index). In beam search rows are
sentence-major: row b * beam + k is hypothesis k of sentence b. Sentences that are done leave the
tensors, so the batch shrinks as it decodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import torch

from nmt.scoring import DEFAULT, Hypothesis, normalise  # torch-free: the lite decoder ranks by them too

StepFn = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]
ReorderFn = Callable[[Any, torch.Tensor], Any]
# (log_probs (rows, vocab), each row's tokens so far) -> log_probs with some tokens made impossible
BlockFn = Callable[[torch.Tensor, list[list[int]]], torch.Tensor]


def _force_eos(log_probs: torch.Tensor, at_limit: torch.Tensor, eos: int) -> torch.Tensor:
    """Leave only EOS possible in rows that reached their length limit. log_probs: (rows, vocab)."""
    if not bool(at_limit.any()):
        return log_probs
    only_eos = torch.full_like(log_probs[0], float("-inf"))
    only_eos[eos] = 0
    return torch.where(at_limit[:, None], log_probs + only_eos, log_probs)


def _blocked(block: BlockFn, log_probs: torch.Tensor, histories: list[list[int]], at_limit: torch.Tensor
             ) -> torch.Tensor:
    """`block` applied to the rows not at their length limit (those may only end, and must)."""
    return torch.where(at_limit[:, None], log_probs, block(log_probs, histories))


def row_topk(x: torch.Tensor, k: int, block: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """x.topk(k, dim=1) for wide rows x (rows, vocab), faster, and with ties going to the lowest column.

    A row's best k lie in the k blocks of `block` columns with the largest maxima: each of those holds
    a value at least as large as the k-th largest maximum, so no value outside them can rank in the top
    k. The maxima are one fast reduction over the row; then only k * block values are ranked. (A full
    topk keeps a heap while it reads all 8,000 values, and takes about twice as long.) Example, k 1,
    block 2: row [0, 5, 3, 1, 4, 2] has maxima [5, 3, 4]; block 0 wins and ranking [0, 5] gives 5 at
    column 1.

    Ties, common among bf16 products, go to the lower column, and among blocks to the lower block (which
    keeps the lowest columns): topk's own order among equal values is not defined. A shortlist keeps its
    pieces in id order whatever else a batch lists, so its choices do not depend on the batch either.
    """
    rows, vocab = x.shape
    full = vocab // block
    if full < 2 * k:  # narrow rows: no blocks
        at = _ranked(x, torch.arange(vocab, device=x.device).expand(rows, vocab)).topk(k, dim=1).indices
        return x.gather(1, at), at
    maxima = x[:, : full * block].view(rows, full, block).amax(-1)       # (rows, full)
    if full * block < vocab:  # the last, shorter block
        maxima = torch.cat([maxima, x[:, full * block :].amax(-1, keepdim=True)], 1)
    blocks = _ranked(maxima, torch.arange(maxima.size(1), device=x.device)).topk(k, dim=1).indices
    cols = (blocks[:, :, None] * block + torch.arange(block, device=x.device)).view(rows, k * block)
    beyond = cols >= vocab  # past the end of the shorter block: read the last column, ranked last
    cols = cols.clamp_max(vocab - 1)
    values = x.gather(1, cols).masked_fill(beyond, float("-inf"))         # (rows, k * block)
    at = _ranked(values, cols).topk(k, dim=1).indices                      # (rows, k)
    return values.gather(1, at), cols.gather(1, at)


def _ranked(values: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """int64 keys, all different, in the order of (value, then the lower column first): the float's bits
    made order-preserving as an integer (negative floats count down), the column below them."""
    bits = values.float().contiguous().view(torch.int32)
    ordered = (bits ^ ((bits >> 31) & 0x7FFFFFFF)).long()
    return (ordered << 32) | (0x7FFFFFFF - cols)


def greedy_search(step_fn: StepFn, reorder_fn: ReorderFn, state: Any, *, max_lens: torch.Tensor, bos: int,
                  eos: int, alpha: float = DEFAULT.length_penalty, norm: str = DEFAULT.length_norm,
                  block: BlockFn | None = None) -> list[list[Hypothesis]]:
    """Take the most likely token at every step. max_lens: (batch,) most tokens before EOS is forced.
    block: what a row may not take next, given its tokens so far (e.g. repeats.NoRepeat)."""
    device = _device_of(state)
    batch = len(max_lens)
    alive = torch.arange(batch)                                       # sentence id of each row
    tokens = torch.full((batch,), bos, dtype=torch.long, device=device)
    history = torch.empty((batch, 0), dtype=torch.long, device=device)  # (rows, t)
    total = torch.zeros(batch, device=device)                         # (rows,) summed log-probs
    results: list[list[Hypothesis]] = [[] for _ in range(batch)]
    for t in range(int(max_lens.max()) + 1):
        log_probs, state = step_fn(tokens, state)                     # (rows, vocab)
        at_limit = (t >= max_lens[alive]).to(device)
        if block is not None and t > 0:
            log_probs = _blocked(block, log_probs, history.tolist(), at_limit)
        log_probs = _force_eos(log_probs, at_limit, eos)
        best, tokens = (column[:, 0] for column in row_topk(log_probs, 1))  # (rows,), (rows,)
        total = total + best
        ended = tokens == eos
        if bool(ended.any()):
            for i in ended.nonzero().flatten().tolist():
                lp = float(total[i])
                score = normalise(lp, t + 1, alpha, norm)
                results[int(alive[i])] = [Hypothesis(history[i].tolist(), lp, score)]
            keep = (~ended).nonzero().flatten()
            alive, history, total, tokens = alive[keep.cpu()], history[keep], total[keep], tokens[keep]
            if len(alive) == 0:
                break
            state = reorder_fn(state, keep)
        history = torch.cat([history, tokens[:, None]], dim=1)
    return results


def beam_search(step_fn: StepFn, reorder_fn: ReorderFn, state: Any, *, max_lens: torch.Tensor, bos: int,
                eos: int, beam: int = DEFAULT.beam, alpha: float = DEFAULT.length_penalty,
                norm: str = DEFAULT.length_norm, n_best: int = DEFAULT.n_best,
                stop_early: bool = DEFAULT.stop_early, block: BlockFn | None = None
                ) -> list[list[Hypothesis]]:
    """Batched beam search; returns, per sentence, its `n_best` finished hypotheses, best first. block: as
    in greedy_search.

    `state` has one row per sentence; it is repeated `beam` times after the first step (whose `beam`
    rows per sentence would all be the same). Worked example, beam 2,
    one sentence, vocabulary {EOS, a, b}: step 0 has one live hypothesis (the others start at -inf so
    the beam does not fill with copies). Each step scores every (hypothesis, token) pair, keeps the
    best 2 * beam: EOS pairs ranked within the first `beam` become finished hypotheses, and the best
    `beam` non-EOS pairs become the next live hypotheses. If "a" scores -0.1, "b" -0.5 and EOS -3,
    the live beam is [a], [b]. A sentence is done once it has `beam` finished hypotheses or reaches its
    length limit, where only EOS is allowed so every live hypothesis finishes. With `stop_early` it is
    also done once its best-ranked candidate has been EOS at some step and `n_best` have finished.
    """
    device = _device_of(state)
    batch, k = len(max_lens), beam
    copies = torch.arange(batch, device=device).repeat_interleave(k)   # row b * k + j -> sentence b
    alive = torch.arange(batch)                                          # sentence id of each group of k rows
    tokens = torch.full((batch,), bos, dtype=torch.long, device=device)  # step 0: one row per sentence
    history = torch.empty((batch * k, 0), dtype=torch.long, device=device)  # (rows, t)
    scores = torch.full((batch, k), float("-inf"), device=device)          # (sentences, k) summed log-probs
    scores[:, 0] = 0
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    n_finished = torch.zeros(batch, dtype=torch.long)  # per sentence, to test "done" without a Python loop
    top_finished = torch.zeros(batch, dtype=torch.bool)  # per sentence: has its best candidate ended?
    for t in range(int(max_lens.max()) + 1):
        n = len(alive)
        log_probs, state = step_fn(tokens, state)                        # (n * k, vocab)
        if t == 0:  # a sentence's k rows would all be BOS on its encoder state: computed once, copied here
            log_probs, state = log_probs[copies], reorder_fn(state, copies)
        at_limit = t >= max_lens[alive]                                   # (n,)
        if block is not None and t > 0:
            log_probs = _blocked(block, log_probs, history.tolist(), at_limit.repeat_interleave(k).to(device))
        log_probs = _force_eos(log_probs, at_limit.repeat_interleave(k).to(device), eos)
        top_scores, from_beam, top_tok = _best_pairs(scores, log_probs, k)  # each (n, 2k), best first
        is_eos = top_tok == eos
        ranked_first = torch.arange(top_scores.size(1), device=device) < k
        to_finish = is_eos & ranked_first & torch.isfinite(top_scores)
        if bool(to_finish.any()):
            _finish(to_finish, finished, n_finished, alive=alive, scores=top_scores, rows=from_beam,
                    history=history, length=t + 1, k=k, alpha=alpha, norm=norm)

        live_scores, pos = top_scores.masked_fill(is_eos, float("-inf")).topk(k, dim=1)  # (n, k)
        rows = (torch.arange(n, device=device)[:, None] * k + from_beam.gather(1, pos)).view(-1)
        tokens = top_tok.gather(1, pos).view(-1)
        history = torch.cat([history[rows], tokens[:, None]], dim=1)
        scores = live_scores
        state = reorder_fn(state, rows)

        done = at_limit | (n_finished[alive] >= k)
        if stop_early:  # OpenNMT-py's rule: stop once the best candidate has ended and n_best have finished
            top_finished[alive] |= to_finish[:, 0].cpu()  # column 0: the best-ranked candidate
            done |= top_finished[alive] & (n_finished[alive] >= n_best)
        if bool(done.any()):
            keep = (~done).nonzero().flatten()
            if len(keep) == 0:
                break
            keep_rows = (keep[:, None] * k + torch.arange(k)).view(-1).to(device)
            alive, scores = alive[keep], scores[keep.to(device)]
            tokens, history = tokens[keep_rows], history[keep_rows]
            state = reorder_fn(state, keep_rows)
    return [sorted(hyps, key=lambda h: -h.score)[:n_best] for hyps in finished]


def _best_pairs(scores: torch.Tensor, log_probs: torch.Tensor, k: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each sentence's best 2k (hypothesis, token) pairs, best first: their summed scores, the hypothesis
    (0..k-1) and the token of each, all (n, 2k). scores: (n, k) the live hypotheses'; log_probs: (n * k,
    vocab) their next tokens'.

    What a step uses of the pairs: EOS pairs among the best k overall, and the best k pairs that are not
    EOS. Each lies among its hypothesis's own best k + 1 tokens (the first are preceded by fewer than k
    pairs, the second by fewer than k others and at most one EOS), so rank those k * (k + 1) pairs rather
    than all k * vocab."""
    n, best = scores.size(0), min(k + 1, log_probs.size(-1))
    row_lp, row_tok = row_topk(log_probs, best)                          # (n * k, best)
    cand = (scores[:, :, None] + row_lp.view(n, k, best)).view(n, k * best)
    top_scores, top_idx = cand.topk(min(2 * k, k * best), dim=1)         # (n, 2k), best first
    return top_scores, top_idx // best, row_tok.view(n, k * best).gather(1, top_idx)


def _finish(to_finish: torch.Tensor, finished: list[list[Hypothesis]], n_finished: torch.Tensor, *,
            alive: torch.Tensor, scores: torch.Tensor, rows: torch.Tensor, history: torch.Tensor, length: int,
            k: int, alpha: float, norm: str) -> None:
    """Add the pairs marked in to_finish (n, 2k) as finished hypotheses of their sentences, up to k each:
    pair (i, j) ends hypothesis rows[i, j] of live sentence i with EOS at `length` tokens (EOS counted)."""
    for i, j in to_finish.nonzero().tolist():
        sentence = int(alive[i])
        if n_finished[sentence] < k:
            lp = float(scores[i, j])
            row = i * k + int(rows[i, j])
            score = normalise(lp, length, alpha, norm)
            finished[sentence].append(Hypothesis(history[row].tolist(), lp, score))
            n_finished[sentence] += 1


def _device_of(state: Any) -> torch.device:
    """The device of the first tensor in a state made of tensors, tuples, lists and dataclasses."""
    if isinstance(state, torch.Tensor):
        return state.device
    parts = state if isinstance(state, (tuple, list)) else [getattr(state, f.name) for f in fields(state)]
    return next(_device_of(part) for part in parts if part is not None)
