import math

import pytest
import torch
import torch.nn.functional as F

from nmt.softmax import OutputLayer, Sampler
from nmt.text.tokenizer import BOS, PAD

V, H = 12, 6


@pytest.fixture
def layer():
    torch.manual_seed(0)
    out = OutputLayer(H, V)
    with torch.no_grad():
        out.bias.normal_()
    return out


def test_uniform_sampler_with_every_class_once_equals_full_softmax(layer):
    h = torch.randn(9, H)
    y = torch.randint(4, V, (9,))
    sampler = Sampler.build("uniform", torch.ones(V))
    negatives = torch.tensor([i for i in range(V) if i not in (PAD, BOS)])  # every class, once
    s = len(negatives)
    sampled = layer.sampled_loss(h, y, negatives=negatives, log_q_neg=sampler.log_expected(negatives, s),
                               log_q_true=sampler.log_expected(y, s))
    full = layer.full_loss(h, y)
    assert torch.allclose(sampled, full, atol=1e-5)
    assert math.isclose(sampler.log_expected(negatives, s)[0].item(), 0.0, abs_tol=1e-6)  # expected count 1


def test_label_smoothing_also_agrees_in_that_limit(layer):
    h, y = torch.randn(5, H), torch.randint(4, V, (5,))
    negatives = torch.tensor([i for i in range(V) if i not in (PAD, BOS)])
    zeros = torch.zeros(len(negatives))
    sampled = layer.sampled_loss(h, y, negatives=negatives, log_q_neg=zeros, log_q_true=torch.zeros(5),
                               label_smoothing=0.1)
    assert torch.allclose(sampled, layer.full_loss(h, y, label_smoothing=0.1), atol=1e-5)


def test_accidental_hits_are_masked(layer):
    h = torch.randn(1, H)
    y = torch.tensor([5])
    negatives = torch.tensor([5, 7])  # 5 is the target itself
    loss = layer.sampled_loss(h, y, negatives=negatives, log_q_neg=torch.zeros(2), log_q_true=torch.zeros(1))
    logits = layer.proj(h) @ layer.weight.t() + layer.bias  # (1, V)
    expected = -F.log_softmax(torch.stack([logits[0, 5], logits[0, 7]]), 0)[0]
    assert torch.allclose(loss, expected, atol=1e-6)


def test_correction_subtracts_log_expected_count(layer):
    h, y, negatives = torch.randn(1, H), torch.tensor([5]), torch.tensor([7])
    log_q_neg, log_q_true = torch.tensor([math.log(3.0)]), torch.tensor([math.log(0.5)])
    loss = layer.sampled_loss(h, y, negatives=negatives, log_q_neg=log_q_neg, log_q_true=log_q_true)
    logits = (layer.proj(h) @ layer.weight.t() + layer.bias)[0]
    expected = -F.log_softmax(torch.stack([logits[5] - math.log(0.5), logits[7] - math.log(3.0)]), 0)[0]
    assert torch.allclose(loss, expected, atol=1e-6)


def test_gradients_reach_only_sampled_and_target_rows(layer):
    h, y = torch.randn(4, H), torch.tensor([4, 4, 6, 6])
    negatives = torch.tensor([8, 9, 8])
    loss = layer.sampled_loss(h, y, negatives=negatives, log_q_neg=torch.zeros(3), log_q_true=torch.zeros(4))
    loss.backward()
    touched = (layer.weight.grad.abs().sum(1) > 0).nonzero().flatten().tolist()
    assert touched == [4, 6, 8, 9]


def test_pad_and_bos_are_never_sampled_nor_predicted(layer):
    counts = torch.ones(V) * 100
    for kind in ("unigram", "uniform", "log_uniform"):
        sampler = Sampler.build(kind, counts)
        draws = sampler.sample(5000, torch.Generator().manual_seed(0))
        assert not ((draws == PAD) | (draws == BOS)).any()
        assert math.isclose(sampler.probs.sum().item(), 1.0, rel_tol=1e-5)
    log_p = layer.log_probs(torch.randn(3, H))
    assert torch.isinf(log_p[:, [PAD, BOS]]).all()
    assert torch.allclose(log_p.exp().sum(-1), torch.ones(3))


def test_unigram_follows_counts_and_log_uniform_follows_rank():
    counts = torch.tensor([0, 0, 0, 50, 1, 1000, 10, 0], dtype=torch.float64)
    uni = Sampler.build("unigram", counts, power=1.0)
    assert uni.probs[5] > uni.probs[3] > uni.probs[6] > uni.probs[4]
    flat = Sampler.build("unigram", counts, power=0.5)
    assert flat.probs[5] / flat.probs[4] < uni.probs[5] / uni.probs[4]  # power < 1 flattens
    zipf = Sampler.build("log_uniform", counts)
    assert zipf.probs[5] > zipf.probs[3] > zipf.probs[6] > zipf.probs[4]
