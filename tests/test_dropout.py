"""The fast CPU dropout (dropout.py): the rate, the scale, the seed, the gradient, eval mode."""

import pytest
import torch

from nmt.dropout import Dropout, threshold


def test_rate_and_scale_keep_the_expected_value():
    torch.manual_seed(0)
    x = torch.ones(200, 1000)
    y = Dropout(0.3).train()(x)
    kept = y != 0
    assert threshold(0.3) == 77
    assert kept.float().mean().item() == pytest.approx(179 / 256, abs=0.005)
    assert torch.all(y[kept] == 256 / 179)
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)  # E[y] = x


def test_the_mask_follows_torchs_generator():
    layer = Dropout(0.5).train()
    x = torch.randn(4, 7, 9)
    torch.manual_seed(3)
    a = layer(x)
    torch.manual_seed(3)
    b = layer(x)
    c = layer(x)
    assert torch.equal(a, b) and not torch.equal(b, c)
    state = torch.get_rng_state()  # what a checkpoint saves: restoring it gives the same next mask
    d = layer(x)
    torch.set_rng_state(state)
    assert torch.equal(layer(x), d)


def test_gradient_is_the_mask_and_eval_is_the_identity():
    layer = Dropout(0.25)
    x = torch.randn(3, 50, requires_grad=True)
    torch.manual_seed(1)
    y = layer.train()(x)
    y.sum().backward()
    assert torch.equal(x.grad, torch.where(y != 0, 256 / 192, 0.0))
    assert layer.eval()(x) is x
    assert Dropout(0.0).train()(x) is x


def test_bf16_stays_bf16():
    y = Dropout(0.3).train()(torch.ones(8, 8, dtype=torch.bfloat16))
    assert y.dtype == torch.bfloat16
