import numpy as np

from nmt.data import make_batch, pad_sources, token_batches
from nmt.text.tokenizer import BOS, EOS, PAD


def test_source_is_reversed_before_padding():
    src, lens = pad_sources([[5, 6, 7], [8, 9]], reverse=True)
    assert src.tolist() == [[7, 6, 5], [9, 8, PAD]]
    assert lens.tolist() == [3, 2]
    src, _ = pad_sources([[5, 6, 7], [8, 9]], reverse=False)
    assert src.tolist() == [[5, 6, 7], [8, 9, PAD]]


def test_teacher_forcing_shifts_target_by_one():
    batch = make_batch([[5, 6]], [[10, 11, 12], [13]][:1], reverse=True)
    assert batch.tgt_in.tolist() == [[BOS, 10, 11, 12]]
    assert batch.tgt_out.tolist() == [[10, 11, 12, EOS]]
    batch = make_batch([[5], [6]], [[10, 11, 12], [13]], reverse=True)
    assert batch.tgt_in.tolist() == [[BOS, 10, 11, 12], [BOS, 13, PAD, PAD]]
    assert batch.tgt_out.tolist() == [[10, 11, 12, EOS], [13, EOS, PAD, PAD]]
    assert batch.ntokens == 6


def test_token_batches_cover_every_sentence_once_within_budget():
    rng = np.random.default_rng(0)
    src_lens, tgt_lens = rng.integers(1, 30, 500), rng.integers(1, 30, 500)
    batches = token_batches(src_lens, tgt_lens, max_tokens=200, seed=3, epoch=0)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(500))
    for b in batches:
        width = max(src_lens[b].max(), tgt_lens[b].max() + 1)
        assert len(b) == 1 or width * len(b) <= 200


def test_token_batches_depend_only_on_seed_and_epoch():
    lens = np.arange(1, 101) % 17 + 1
    a = token_batches(lens, lens, 64, seed=1, epoch=2)
    b = token_batches(lens, lens, 64, seed=1, epoch=2)
    c = token_batches(lens, lens, 64, seed=1, epoch=3)
    assert all((x == y).all() for x, y in zip(a, b, strict=True))
    assert any(len(x) != len(y) or (x != y).any() for x, y in zip(a, c, strict=False))


def test_batches_group_similar_lengths():
    rng = np.random.default_rng(1)
    lens = rng.integers(1, 50, 2000)
    batches = token_batches(lens, lens, 400, seed=0, epoch=0)
    padded = sum(max(lens[b].max(), lens[b].max() + 1) * len(b) for b in batches)
    real = sum((lens[b] + 1).sum() for b in batches)
    assert real / padded > 0.9
