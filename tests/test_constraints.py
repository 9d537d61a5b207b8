"""Constrained beam search (dynamic beam allocation) on hand-made probability tables, model-free; the
arithmetic is in the comments. Vocabulary {EOS, a=1, b=2, c=3} as in test_search.py."""

import math

import torch

from nmt.search.beam import beam_search
from nmt.search.constraints import Coverage, advance, allocate, beam_for, start

from .test_search import BOS, EOS, reorder, table_step

L = math.log
D = [0.4, 0.3, 0.2, 0.1]  # every prefix a table leaves out: EOS .4, a .3, b .2, c .1


class Smoothed(dict):
    def get(self, key, default=None):
        return super().get(key, D)


def step_of(table):
    """table_step, with D for the prefixes the table does not list."""
    return table_step(Smoothed(table))


def search(table, constraints, *, beam=1, max_len=10, n_best=1, sentences=1, joins=None):
    k = max(beam_for(c, beam) for c in constraints)
    limit = torch.tensor([max_len] * sentences)
    return beam_search(step_of(table), reorder, torch.zeros(1, sentences, 1), constraints=constraints,
                       max_lens=limit, bos=BOS, eos=EOS, beam=k, norm="none", n_best=n_best, joins=joins)


def test_a_one_token_constraint_met_in_one_step():
    table = {(): [0.0, 0.6, 0.3, 0.1]}
    # unconstrained beam 2: "a" then EOS (D): .6 * .4 = .24, the best
    [best] = beam_search(step_of(table), reorder, torch.zeros(1, 1, 1), max_lens=torch.tensor([10]),
                         bos=BOS, eos=EOS, beam=2, norm="none")[0]
    assert best.tokens == [1]
    # constraint [c]: beam 2, banks 0 and 1 a place each. Step 0: bank 1 "c" (.1), bank 0 "a" (.6).
    # Step 1: bank 1 holds "a c" .06, "c EOS" .1 * .4 = .04, "c a" .03...: "c EOS" is among its best 2,
    # so "c" finishes (.04). Step 2: "a c EOS" = .024 heads bank 1: it finishes, and the search stops.
    [[hyp]] = search(table, [[[3]]])
    assert hyp.tokens == [3] and math.isclose(hyp.log_prob, L(0.1) + L(0.4), rel_tol=1e-6)


def test_a_constraint_over_several_steps_and_an_abandoned_partial_match():
    table = {(): [0.0, 0.5, 0.4, 0.1], (2,): [0.1, 0.6, 0.1, 0.2]}
    # constraint [b c]: beam 3, banks 0..2. Step 0: bank 1 "b" (.4); bank 2 is empty and passes its place
    # down: bank 1 has no more, so bank 0 takes two: "a" .5 and "c" .1.
    # Step 1: "b c" = .4 * .2 = .08 fills bank 2; "b a" = .24 abandons [b c] and is unwound to bank 0,
    # where it is the best; bank 1: "a b" .5 * .2 = .1 beats "b b" .04.
    # Step 2: bank 2's best is "b c EOS" = .08 * .4 = .032: finished, and done.
    [[hyp]] = search(table, [[[2, 3]]])
    assert hyp.tokens == [2, 3] and math.isclose(hyp.log_prob, L(0.4) + L(0.2) + L(0.4), rel_tol=1e-6)
    constraint = [[2, 3]]
    after_b = advance(start(constraint), 2, constraint)
    assert after_b == Coverage((False,), 0, 1) and after_b.count(constraint) == 1
    assert advance(after_b, 1, constraint) == Coverage((False,))               # abandoned: unwound
    assert advance(after_b, 2, constraint) == Coverage((False,), 0, 1)          # ... and begun again
    assert advance(after_b, 3, constraint) == Coverage((True,), just_met=True)


def test_two_constraints_in_either_order():
    both = [[1], [3]]
    assert advance(advance(start(both), 3, both), 1, both) == Coverage((True, True), just_met=True)
    assert advance(advance(start(both), 1, both), 3, both) == Coverage((True, True), just_met=True)
    # the model prefers c first: () c .5, (c,) a .6; "c a EOS" = .5 * .6 * .4 = .12
    table = {(): [0.0, 0.2, 0.3, 0.5], (3,): [0.1, 0.6, 0.2, 0.1]}
    [[hyp]] = search(table, [both])
    assert hyp.tokens == [3, 1]
    # and a first where it prefers a: () a .5, (a,) c .6
    table = {(): [0.0, 0.5, 0.3, 0.2], (1,): [0.1, 0.1, 0.2, 0.6]}
    [[hyp]] = search(table, [both])
    assert hyp.tokens == [1, 3]


def test_shared_prefixes_switch_constraints():
    phrases = [[1, 2], [1, 3]]  # "a b" and "a c": after "a", "c" carries on the second
    after_a = advance(start(phrases), 1, phrases)
    assert after_a == Coverage((False, False), 0, 1)
    assert advance(after_a, 3, phrases) == Coverage((False, True), just_met=True)


def test_a_hypothesis_may_not_end_before_its_constraints():
    table = {(): [0.9, 0.05, 0.03, 0.02]}  # the model would stop at once: "" = .9
    [[hyp]] = search(table, [[[2]]])
    # EOS is refused until b is written: "b EOS" = .03 * .4 beats "a b EOS" = .05 * .2 * .4
    assert hyp.tokens == [2]
    # at the length limit every hypothesis must end, met or not
    [[cut]] = search(table, [[[2, 3, 2, 3]]], max_len=1)
    assert len(cut.tokens) <= 1


def test_banks_with_no_candidates_pass_their_places_down():
    # 4 places, banks 0..3: one each. Bank 3 is empty: its place goes to bank 2, which takes two; bank 1
    # is empty too: its place goes to bank 0, which takes two (not the best scores overall: bank 0's -3
    # loses to bank 2's -6)
    cands = {0: [(-1.0, 0, 1), (-2.0, 0, 2), (-3.0, 1, 1)], 2: [(-5.0, 2, 3), (-6.0, 1, 3), (-7.0, 0, 3)]}
    chosen = allocate(cands, 4, 3)
    assert [c[0] for c in chosen] == [-5.0, -6.0, -1.0, -2.0]
    # with fewer candidates than places, the leftovers go to the best left whatever their bank
    assert [c[0] for c in allocate({0: [(-1.0, 0, 1)], 3: [(-4.0, 0, 3)]}, 4, 3)] == [-4.0, -1.0]
    # 5 places over banks 0..1: 2 each and the spare one to the bank that met most
    two = {0: [(-1.0, 0, i) for i in range(5)], 1: [(-9.0, 1, i) for i in range(5)]}
    assert [c[0] for c in allocate(two, 5, 1)] == [-9.0, -9.0, -9.0, -1.0, -1.0]


def test_n_best_with_constraints_all_hold_them_best_first():
    table = {(): [0.0, 0.5, 0.4, 0.1]}
    hyps = search(table, [[[3]]], beam=4, n_best=3)[0]
    assert len(hyps) == 3 and all(3 in h.tokens for h in hyps)
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)


def test_a_sentence_decodes_alike_alone_and_in_a_batch():
    table = {(): [0.0, 0.5, 0.4, 0.1], (2,): [0.1, 0.6, 0.1, 0.2]}
    constraints = [[[2, 3]], [[3]], [[1], [3]]]
    together = search(table, constraints, sentences=3)
    # the beam is the widest any sentence needs (3) in the batch: alone, each gets that beam too
    alone = [beam_search(step_of(table), reorder, torch.zeros(1, 1, 1), constraints=[c],
                         max_lens=torch.tensor([10]), bos=BOS, eos=EOS, beam=3, norm="none")[0]
             for c in constraints]
    assert [[h.tokens for h in hyps] for hyps in together] == [[h.tokens for h in hyps] for hyps in alone]


def test_a_completed_constraint_is_not_extended_into_a_longer_word():
    # say b (2) continues the word before it, as a piece without a word-start mark does: "3" + "0" = "30"
    joins = torch.tensor([False, False, True, False])
    table = {(): [0.0, 0.9, 0.05, 0.05], (1,): [0.1, 0.0, 0.8, 0.1]}  # after "a" the model wants b
    [[free]] = search(table, [[[1]]])
    assert free.tokens[:2] == [1, 2]  # "a b": the constraint's word extended
    # blocked: after "a", EOS (.1) or "a c" (.1 then EOS .4); "a EOS" = .9 * .1 = .09 is best
    [[kept]] = search(table, [[[1]]], joins=joins)
    assert kept.tokens == [1] and math.isclose(kept.log_prob, L(0.9) + L(0.1), rel_tol=1e-6)
