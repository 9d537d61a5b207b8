"""Search driven by hand-written probability tables; expected answers worked out by hand."""

import itertools
import math

import pytest
import torch

from nmt.search.beam import beam_search, greedy_search
from nmt.search.scoring import normalise
from nmt.search.topk import row_topk

EOS, BOS = 0, 9  # a 4-token toy vocabulary {EOS, a=1, b=2, c=3}; BOS only ever fed in
L = math.log


def table_step(table):
    """A fake model whose next-token distribution depends only on the prefix so far.

    State is a (1, rows, 1) tensor holding an id for each row's prefix; `table` maps a prefix tuple to
    a probability list over {EOS, a, b, c}. Missing prefixes end with certainty.
    """
    prefixes = {(): 0}
    names = [()]

    def step(tokens, state):
        rows = []
        new_ids = []
        for r in range(tokens.size(0)):
            prefix = names[int(state[0, r, 0])]
            if int(tokens[r]) != BOS:
                prefix = prefix + (int(tokens[r]),)
            if prefix not in prefixes:
                prefixes[prefix] = len(names)
                names.append(prefix)
            new_ids.append(prefixes[prefix])
            probs = table.get(prefix, [1.0, 0.0, 0.0, 0.0])
            rows.append([L(p) if p > 0 else float("-inf") for p in probs])
        return torch.tensor(rows), torch.tensor(new_ids, dtype=torch.float).view(1, -1, 1)

    return step


def reorder(state, index):
    return state.index_select(1, index)


def start(n=1):
    return torch.zeros(1, n, 1)


def beam(step, max_len=10, **options):
    """Beam search of one sentence with a length limit of `max_len`; returns its hypotheses."""
    limit = torch.tensor([max_len])
    [hyps] = beam_search(step, reorder, start(), max_lens=limit, bos=BOS, eos=EOS, **options)
    return hyps


def greedy(step, max_len=10, **options):
    limit = torch.tensor([max_len])
    [[hyp]] = greedy_search(step, reorder, start(), max_lens=limit, bos=BOS, eos=EOS, **options)
    return hyp


# Greedy takes a (0.6) then EOS (0.55): "a", log-prob log .6 + log .55.
# Beam 2 keeps a (0.6) and b (0.4); after "b" comes c with certainty then EOS with certainty:
# "b c" = 0.4 > "a" = 0.33, a path greedy cannot see.
TABLE = {
    (): [0.0, 0.6, 0.4, 0.0],
    (1,): [0.55, 0.0, 0.0, 0.45],
    (1, 3): [0.5, 0.5, 0.0, 0.0],
    (2,): [0.0, 0.0, 0.0, 1.0],
    (2, 3): [1.0, 0.0, 0.0, 0.0],
}


def test_greedy_follows_the_best_token():
    hyp = greedy(table_step(TABLE))
    assert hyp.tokens == [1]
    assert math.isclose(hyp.log_prob, L(0.6) + L(0.55), rel_tol=1e-6)


def test_beam_finds_the_better_path_and_ranks_n_best():
    hyps = beam(table_step(TABLE), beam=2, alpha=0.0, n_best=2)
    assert [h.tokens for h in hyps] == [[2, 3], [1]]
    assert math.isclose(hyps[0].log_prob, L(0.4), rel_tol=1e-6)
    assert math.isclose(hyps[1].log_prob, L(0.6) + L(0.55), rel_tol=1e-6)
    assert hyps[0].score >= hyps[1].score


def test_length_penalty_can_prefer_longer_hypotheses():
    # "a" = .33 (length 2 with EOS); "b c" = .30 (length 3). Raw: "a" wins. With alpha 2:
    # log .33 / (7/6)^2 = -0.8146, log .30 / (8/6)^2 = -0.6772, so "b c" wins.
    table = dict(TABLE)
    table[(2, 3)] = [0.75, 0.25, 0.0, 0.0]
    raw = beam(table_step(table), beam=2, alpha=0.0)
    pen = beam(table_step(table), beam=2, alpha=2.0)
    assert raw[0].tokens == [1] and pen[0].tokens == [2, 3]
    assert math.isclose(pen[0].score, L(0.3) / (8 / 6) ** 2, rel_tol=1e-6)
    assert math.isclose(normalise(-1.0, 3, 1.0, "average"), -1 / 3)


def test_max_length_forces_eos():
    loop = {prefix: [0.1, 0.9, 0, 0] for prefix in [(), (1,), (1, 1), (1, 1, 1)]}
    g = greedy(table_step(loop), max_len=2)
    assert g.tokens == [1, 1]  # two tokens, then EOS is the only choice
    assert math.isclose(g.log_prob, 2 * L(0.9) + L(0.1), rel_tol=1e-6)  # a forced EOS keeps its probability
    # Beam 3 where EOS (0.01) never ranks among the best 3 candidates: a, b and c (0.33 each) always do.
    # Nothing finishes until step 2, the limit, where only EOS is allowed: all 3 live hypotheses end there,
    # two tokens each, with EOS's own probability.
    prefixes = [p for n in range(4) for p in itertools.product((1, 2, 3), repeat=n)]
    spread = {prefix: [0.01, 0.33, 0.33, 0.33] for prefix in prefixes}
    b = beam(table_step(spread), max_len=2, beam=3, n_best=3)
    assert len(b) == 3 and all(len(h.tokens) == 2 for h in b)
    assert [h.log_prob for h in b] == pytest.approx([2 * L(0.33) + L(0.01)] * 3, rel=1e-6)


def test_beam_one_equals_greedy_on_a_batch():
    torch.manual_seed(0)
    vocab, rows = 7, 5
    def random_step(tokens, state):
        # deterministic pseudo-model: log-probs from the state and the token
        state = state * 0.7 + tokens.float().view(1, -1, 1) * 0.3
        logits = torch.sin(state[0] * torch.arange(1, vocab + 1).float() * 1.3)
        return logits.log_softmax(-1), state
    start_state = torch.rand(1, rows, 1)
    max_lens = torch.tensor([3, 8, 12, 5, 20])
    g = greedy_search(random_step, reorder, start_state, max_lens=max_lens, bos=6, eos=0, alpha=1.0)
    b = beam_search(random_step, reorder, start_state, max_lens=max_lens, bos=6, eos=0, beam=1, alpha=1.0)
    assert [x[0].tokens for x in g] == [x[0].tokens for x in b]
    for x, y in zip(g, b, strict=True):
        assert math.isclose(x[0].score, y[0].score, rel_tol=1e-5)


def test_each_sentence_in_a_batch_is_searched_independently():
    # Three sentences in one batch give what each gives alone.
    step = table_step(TABLE)
    batched = beam_search(step, reorder, start(3), max_lens=torch.tensor([10, 1, 10]), bos=BOS, eos=EOS,
                          beam=2, alpha=0.0)
    alone = [beam(table_step(TABLE), max_len=n, beam=2, alpha=0.0) for n in (10, 1, 10)]
    assert [h[0].tokens for h in batched] == [h[0].tokens for h in alone]
    assert batched[1][0].tokens == [1]  # limit 1: "b c" cannot be reached


def test_stop_early_ends_a_sentence_once_its_best_candidate_has_ended():
    # Beam 2. Step 1 ranks "a EOS" (0.81) first; "b c" (0.1) and "a c" (0.09) stay live. Waiting for two
    # finished hypotheses takes more steps; stopping early ends at once, with the same best answer.
    table = {(): [0.0, 0.9, 0.1, 0.0], (1,): [0.9, 0.0, 0.0, 0.1], (2,): [0.0, 0.0, 0.0, 1.0],
             (1, 3): [0.2, 0.0, 0.0, 0.8], (2, 3): [0.2, 0.0, 0.0, 0.8]}
    results, calls = {}, {}
    for early in (False, True):
        step, n = table_step(table), [0]

        def counted(tokens, state, step=step, n=n):
            n[0] += 1
            return step(tokens, state)

        results[early] = beam(counted, max_len=6, beam=2, alpha=0.0, stop_early=early)
        calls[early] = n[0]
    assert calls[True] == 2 < calls[False]
    assert results[True][0].tokens == results[False][0].tokens == [1]
    assert math.isclose(results[True][0].log_prob, L(0.9) + L(0.9), rel_tol=1e-6)


def test_average_and_none_normalisations_rank_by_their_own_scores():
    # The table of the length-penalty test: "a" = .6 * .55 = .33 with EOS at length 2,
    # "b c" = .4 * 1 * .75 = .30 at length 3. none: raw log-probs, "a" wins (-1.109 > -1.204), alpha ignored.
    # average: log-prob / length, "b c" wins (-1.204 / 3 = -0.401 > -1.109 / 2 = -0.554).
    table = dict(TABLE)
    table[(2, 3)] = [0.75, 0.25, 0.0, 0.0]
    none = beam(table_step(table), beam=2, alpha=2.0, norm="none", n_best=2)
    avg = beam(table_step(table), beam=2, alpha=2.0, norm="average", n_best=2)
    assert [h.tokens for h in none] == [[1], [2, 3]]
    assert [h.score for h in none] == pytest.approx([L(0.33), L(0.3)], rel=1e-6)
    assert [h.tokens for h in avg] == [[2, 3], [1]]
    assert [h.score for h in avg] == pytest.approx([L(0.3) / 3, L(0.33) / 2], rel=1e-6)


def test_row_topk_ranks_only_the_blocks_with_the_largest_maxima():
    # The docstring's row, k 1, block 2: maxima [5, 3, 4], block 0 wins, 5 at column 1.
    best, at = row_topk(torch.tensor([[0.0, 5, 3, 1, 4, 2]]), 1, block=2)
    assert best.tolist() == [[5.0]] and at.tolist() == [[1]]
    # k 2: blocks 0 (max 5) and 2 (max 4) -> 5 and 4, although block 1 holds the third value 3.
    best, at = row_topk(torch.tensor([[0.0, 5, 3, 1, 4, 2]]), 2, block=2)
    assert best.tolist() == [[5.0, 4.0]] and at.tolist() == [[1, 4]]


@pytest.mark.parametrize("k", [1, 6])
def test_row_topk_gives_what_topk_gives_on_wide_rows_with_ties_and_a_short_last_block(k):
    torch.manual_seed(0)
    x = torch.randint(0, 50, (40, 7931)).float()  # many ties; 7931 = 123 blocks of 64 and one of 59
    x[0] = float("-inf")                            # a row forced to EOS: one finite value
    x[0, 7930] = 0.0
    x[1, -3:] = 100.0                               # the best values in the short last block
    best, at = row_topk(x, k)
    expected = x.sort(dim=1, descending=True, stable=True)  # ties: the lower column first
    assert torch.equal(best, expected.values[:, :k]) and torch.equal(at[1:], expected.indices[1:, :k])
    assert at[0, 0].item() == 7930 and (at >= 0).all() and (at < 7931).all()  # -inf: any columns there


def test_row_topk_breaks_ties_by_column_also_in_narrow_rows():
    x = torch.tensor([[1.0, 3, 3, -2, 3], [float("-inf"), -1, -1, -1, 0]])
    best, at = row_topk(x, 2)
    assert best.tolist() == [[3.0, 3.0], [0.0, -1.0]] and at.tolist() == [[1, 2], [4, 1]]


def bigram_step(table):
    """A fake model whose next token depends only on the last: `table` maps a token (BOS included) to a
    probability list over {EOS, a, b, c}. State: (1, rows, 1), each row's last token."""
    def step(tokens, state):
        rows = [[L(p) if p > 0 else float("-inf") for p in table[int(t)]] for t in tokens]
        return torch.tensor(rows), tokens.float().view(1, -1, 1)
    return step


def test_no_repeat_blocks_a_word_ngram_from_coming_twice():
    from nmt.search.repeats import NoRepeat
    # a=1 and b=2 start words, c=3 continues one. The model loops "a b a b ...": a then b, b then a (.9).
    loop = bigram_step({BOS: [0.0, 0.9, 0.05, 0.05], 1: [0.001, 0.0, 0.9, 0.099],
                        2: [0.001, 0.9, 0.0, 0.099], 3: [0.1, 0.45, 0.45, 0.0]})
    starts = torch.tensor([False, True, True, False])
    words = NoRepeat(2, starts, EOS)
    # averaged scores favour the long loop: it runs to the length limit
    free = beam(loop, max_len=8, beam=3, norm="average")
    assert free[0].tokens[:4] == [1, 2, 1, 2] and words.repeats(free[0].tokens[:4], starts.tolist())
    # n = 2: after "a b a b" the bigram "a b" is there twice unless "b" grows into another word, so no
    # word may begin next (only c, making "bc", or EOS). Whatever the search then finds holds no bigram of
    # words twice
    def bigrams(tokens):
        words = []
        for token in tokens:
            words = [*words, (token,)] if token != 3 or not words else [*words[:-1], words[-1] + (token,)]
        return list(zip(words, words[1:], strict=False))
    for best in beam(loop, max_len=8, beam=3, norm="average", block=words, n_best=3):
        assert best.tokens[:3] == [1, 2, 1] and best.tokens[:6] != free[0].tokens[:6]
        assert len(set(bigrams(best.tokens))) == len(bigrams(best.tokens)), best.tokens
    # repeats.py's worked example: "▁a ▁b ▁a ▁b" repeats "a b"; words a, b, ac, b do not
    assert words.repeats([1, 2, 1, 2], starts.tolist())
    assert not words.repeats([1, 2, 1, 3, 2], starts.tolist())
    # greedy takes the same block; it loops on to the length limit, where only EOS is left, so its
    # last word may complete a repeat: every bigram before that is new
    [[hyp]] = greedy_search(loop, reorder, start(), max_lens=torch.tensor([8]), bos=BOS, eos=EOS, block=words)
    before_last = bigrams(hyp.tokens)[:-1]
    assert len(hyp.tokens) == 8 and len(set(before_last)) == len(before_last)
