"""Greedy search and the beam loop, over any model that offers a step function (torch).

Search knows nothing of LSTMs. It calls
    step_fn(prev_tokens (rows,), state) -> (log_probs (rows, vocab), state)
and follows surviving rows with reorder_fn(state, row_index). Given record_fn(state) -> (rows, src_len), how
each row attended at the step just taken, each finished hypothesis also carries its rows, one per token and
EOS (Hypothesis.attention): the alignment of what was decoded, with no second pass of the model. In beam
search rows are sentence-major: row b * beam + k is hypothesis k of sentence b. Sentences that are done
leave the tensors, so the batch shrinks as it decodes.

One loop serves every kind of beam search; what differs is its strategy, which chooses at each step the
pairs (hypothesis, token) that end and those that go on: `Plain` (below), or constraints.Constrained
(lexically constrained, dynamic beam allocation). A `block` (repeats.NoRepeat) masks what some rows may not
take next. lite/search.py runs a NumPy twin of this loop with the same strategies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import torch

from nmt.search.attended import Attended
from nmt.search.constraints import Constrained
from nmt.search.repeats import NoRepeat
from nmt.search.scoring import DEFAULT, Choice, Hypothesis, normalise
from nmt.search.topk import row_topk

StepFn = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]
ReorderFn = Callable[[Any, torch.Tensor], Any]
RecordFn = Callable[[Any], torch.Tensor]

class TorchOps:
    """What the constrained strategy reads of torch log-probabilities (rows, vocab)."""

    @staticmethod
    def width(x: torch.Tensor) -> int:
        return x.size(-1)

    @staticmethod
    def topk(x: torch.Tensor, k: int) -> tuple[list[list[float]], list[list[int]]]:
        values, cols = row_topk(x, k)
        return values.tolist(), cols.tolist()

    @staticmethod
    def take(x: torch.Tensor, rows: list[int], cols: list[int]) -> list[float]:
        return x[torch.tensor(rows, device=x.device), torch.tensor(cols, device=x.device)].tolist()

    @staticmethod
    def mask_rows(x: torch.Tensor, rows: list[int], mask: torch.Tensor | list[bool]) -> torch.Tensor:
        """x with -inf where `mask` (vocab,) holds, in `rows`. A tensor mask is used as it is (converting
        a list of 8,000 bools at every step took a fifth of the constrained searches' time in a py-spy
        profile of test2016, greedy)."""
        index = torch.tensor(rows, device=x.device)
        mask = torch.as_tensor(mask, dtype=torch.bool, device=x.device)
        blocked = x[index].masked_fill(mask, float("-inf"))
        return x.index_put((index,), blocked)


def _force_eos(log_probs: torch.Tensor, at_limit: torch.Tensor, eos: int) -> torch.Tensor:
    """Leave only EOS possible in rows that reached their length limit. log_probs: (rows, vocab)."""
    if not bool(at_limit.any()):
        return log_probs
    only_eos = torch.full_like(log_probs[0], float("-inf"))
    only_eos[eos] = 0
    return torch.where(at_limit[:, None], log_probs + only_eos, log_probs)


def _blocked(block: NoRepeat | None, log_probs: torch.Tensor, history: torch.Tensor, at_limit: torch.Tensor
             ) -> torch.Tensor:
    """`block` applied to the rows not at their length limit (those may only end, and must)."""
    if block is None or history.size(1) == 0:
        return log_probs
    limited = at_limit.tolist()
    rows = [r for r in block.rows(history.tolist()) if not limited[r]]
    return TorchOps.mask_rows(log_probs, rows, block.blocked) if rows else log_probs


def greedy_search(step_fn: StepFn, reorder_fn: ReorderFn, state: Any, *, max_lens: torch.Tensor, bos: int,
                  eos: int, alpha: float = DEFAULT.length_penalty, norm: str = DEFAULT.length_norm,
                  block: NoRepeat | None = None, record_fn: RecordFn | None = None,
                  host: Callable | None = None) -> list[list[Hypothesis]]:
    """Take the most likely token at every step. max_lens: (batch,) most tokens before EOS is forced.
    block: what a row may not take next, given its tokens so far (repeats.NoRepeat). record_fn: see the
    module's docstring; host: what takes a finished hypothesis's rows off the device. The same as beam
    search with a beam of 1 (tested), without its bookkeeping."""
    attended = Attended(record_fn, torch.cat, host)
    device = _device_of(state)
    batch = len(max_lens)
    alive = torch.arange(batch)                                       # sentence id of each row
    tokens = torch.full((batch,), bos, dtype=torch.long, device=device)
    history = torch.empty((batch, 0), dtype=torch.long, device=device)  # (rows, t)
    total = torch.zeros(batch, device=device)                         # (rows,) summed log-probs
    results: list[list[Hypothesis]] = [[] for _ in range(batch)]
    for t in range(int(max_lens.max()) + 1):
        log_probs, state = step_fn(tokens, state)                     # (rows, vocab)
        attended.step(state)
        at_limit = (t >= max_lens[alive]).to(device)
        log_probs = _force_eos(_blocked(block, log_probs, history, at_limit), at_limit, eos)
        best, tokens = (column[:, 0] for column in row_topk(log_probs, 1))  # (rows,), (rows,)
        total = total + best
        ended = tokens == eos
        if bool(ended.any()):
            for i in ended.nonzero().flatten().tolist():
                lp = float(total[i])
                score = normalise(lp, t + 1, alpha, norm)
                results[int(alive[i])] = [Hypothesis(history[i].tolist(), lp, score, attended.of(i))]
            keep = (~ended).nonzero().flatten()
            alive, history, total, tokens = alive[keep.cpu()], history[keep], total[keep], tokens[keep]
            if len(alive) == 0:
                break
            state = reorder_fn(state, keep)
            attended.follow(keep)
        else:
            attended.follow(None)
        history = torch.cat([history, tokens[:, None]], dim=1)
    return results


class Plain:
    """Beam search's own choice: of each sentence's best 2k (hypothesis, token) pairs, the EOS pairs among
    the first k end, and the best k that are not EOS go on."""

    def __init__(self, batch: int, k: int, eos: int, device: torch.device):
        self.k, self.eos = k, eos
        self.scores = torch.full((batch, k), float("-inf"), device=device)  # (sentences, k) summed lp
        self.scores[:, 0] = 0  # step 0 has one live hypothesis: the beam does not fill with copies

    def choose(self, log_probs: torch.Tensor, at_limit: list[bool]) -> Choice:
        k, device = self.k, log_probs.device
        top_scores, from_beam, top_tok = _best_pairs(self.scores, log_probs, k)  # each (n, 2k), best first
        is_eos = top_tok == self.eos
        ranked_first = torch.arange(top_scores.size(1), device=device) < k
        to_finish = is_eos & ranked_first & torch.isfinite(top_scores)
        finish = []
        if bool(to_finish.any()):
            finish = [(i, int(from_beam[i, j]), float(top_scores[i, j]))
                      for i, j in to_finish.nonzero().tolist()]
        live_scores, pos = top_scores.masked_fill(is_eos, float("-inf")).topk(k, dim=1)  # (n, k)
        first_row = torch.arange(len(live_scores), device=device)[:, None] * k
        rows = (first_row + from_beam.gather(1, pos)).view(-1)
        self.scores = live_scores
        return Choice(finish, to_finish[:, 0].cpu(), rows, top_tok.gather(1, pos).view(-1))

    def keep(self, kept: list[int]) -> None:
        self.scores = self.scores[torch.tensor(kept, device=self.scores.device)]


def beam_search(step_fn: StepFn, reorder_fn: ReorderFn, state: Any, *, max_lens: torch.Tensor, bos: int,
                eos: int, beam: int = DEFAULT.beam, alpha: float = DEFAULT.length_penalty,
                norm: str = DEFAULT.length_norm, n_best: int = DEFAULT.n_best,
                stop_early: bool = DEFAULT.stop_early, block: NoRepeat | None = None,
                constraints: list[list[list[int]]] | None = None, joins: Any = None,
                record_fn: RecordFn | None = None, host: Callable | None = None) -> list[list[Hypothesis]]:
    """Batched beam search; returns, per sentence, its `n_best` finished hypotheses, best first. block and
    record_fn: as in greedy_search. constraints: per sentence, phrases of token ids its translation must hold
    (the Constrained strategy; `beam` at least constraints.beam_for of each; joins as Constrained takes it).

    `state` has one row per sentence; it is repeated `beam` times after the first step (whose `beam`
    rows per sentence would all be the same). Worked example (the plain strategy), beam 2, one sentence,
    vocabulary {EOS, a, b}: step 0 has one live hypothesis (the others start at -inf so the beam does not
    fill with copies). If "a" scores -0.1, "b" -0.5 and EOS -3, the live beam is [a], [b]. A sentence is
    done once it has `beam` finished hypotheses or reaches its length limit, where only EOS is allowed so
    every live hypothesis finishes; with `stop_early` also once its best-ranked candidate has been EOS at
    some step and `n_best` have finished (OpenNMT-py's rule).
    """
    device = _device_of(state)
    batch, k = len(max_lens), beam
    strategy = Plain(batch, k, eos, device) if constraints is None else \
        Constrained(constraints, k, eos, TorchOps, joins)
    copies = torch.arange(batch, device=device).repeat_interleave(k)   # row b * k + j -> sentence b
    alive = torch.arange(batch)                                          # sentence id of each group of k rows
    tokens = torch.full((batch,), bos, dtype=torch.long, device=device)  # step 0: one row per sentence
    history = torch.empty((batch * k, 0), dtype=torch.long, device=device)  # (rows, t)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    n_finished = torch.zeros(batch, dtype=torch.long)  # per sentence, to test "done" without a Python loop
    top_finished = torch.zeros(batch, dtype=torch.bool)  # per sentence: has its best candidate ended?
    attended = Attended(record_fn, torch.cat, host)
    for t in range(int(max_lens.max()) + 1):
        log_probs, state = step_fn(tokens, state)                        # (n * k, vocab)
        attended.step(state, copies if t == 0 else None)
        if t == 0:  # a sentence's k rows would all be BOS on its encoder state: computed once, copied here
            log_probs, state = log_probs[copies], reorder_fn(state, copies)
        at_limit = t >= max_lens[alive]                                   # (n,)
        limit_rows = at_limit.repeat_interleave(k).to(device)
        log_probs = _force_eos(_blocked(block, log_probs, history, limit_rows), limit_rows, eos)
        choice = strategy.choose(log_probs, at_limit.tolist())
        for i, place, lp in choice.finish:  # up to k per sentence
            if n_finished[int(alive[i])] < k:
                finished[int(alive[i])].append(
                    Hypothesis(history[i * k + place].tolist(), lp, normalise(lp, t + 1, alpha, norm),
                               attended.of(i * k + place)))
                n_finished[int(alive[i])] += 1
        rows = torch.as_tensor(choice.rows, device=device)
        tokens = torch.as_tensor(choice.tokens, dtype=torch.long, device=device)
        history = torch.cat([history[rows], tokens[:, None]], dim=1)
        state = reorder_fn(state, rows)
        attended.follow(rows)
        done = at_limit | (n_finished[alive] >= k)
        if stop_early:
            top_finished[alive] |= torch.as_tensor(choice.best_ended, dtype=torch.bool)
            done |= top_finished[alive] & (n_finished[alive] >= n_best)
        if bool(done.any()):
            keep = (~done).nonzero().flatten()
            if len(keep) == 0:
                break
            keep_rows = (keep[:, None] * k + torch.arange(k)).view(-1).to(device)
            alive, tokens, history = alive[keep], tokens[keep_rows], history[keep_rows]
            strategy.keep(keep.tolist())
            state = reorder_fn(state, keep_rows)
            attended.keep(keep_rows)
    nothing = Hypothesis([], float("-inf"), float("-inf"))  # no finite path at all (never with a softmax)
    return [sorted(hyps, key=lambda h: -h.score)[:n_best] or [nothing] for hyps in finished]


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


def _device_of(state: Any) -> torch.device:
    """The device of the first tensor in a state made of tensors, tuples, lists and dataclasses."""
    if isinstance(state, torch.Tensor):
        return state.device
    parts = state if isinstance(state, (tuple, list)) else [getattr(state, f.name) for f in fields(state)]
    return next(_device_of(part) for part in parts if part is not None)
