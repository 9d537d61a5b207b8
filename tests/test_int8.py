import pytest
import torch
from torch import nn

from nmt.config import ModelConfig
from nmt.fast.int8 import Int8Linear
from nmt.fast.lstm import Int8LSTM
from nmt.fast.output import Int8Output
from nmt.model import Seq2Seq
from tests.helpers import needs_int8

pytestmark = needs_int8


def test_the_docstring_example():
    # w = [0.2, 0.1] -> [127, 64] at scale 0.2 / 127; bounded x = [0.5, -1] -> [64, -127] at 1 / 127;
    # 127 * 64 - 64 * 127 = 0. 8-bit activations (a CPU with VNNI); no pair of products nears 2^15 here.
    layer = Int8Linear.quantize(torch.tensor([[0.2, 0.1]]), None, bounded=True, levels=127)
    assert layer.qweight.tolist() == [[127, 64]]
    assert layer(torch.tensor([[0.5, -1.0]])).item() == 0.0


@pytest.mark.parametrize("levels", [63, None])  # 7-bit activations, and this CPU's choice
@pytest.mark.parametrize("bounded", [True, False])
def test_a_row_gets_the_same_result_whatever_it_is_multiplied_with(bounded, levels):
    torch.manual_seed(0)
    w, b = torch.randn(300, 64) * 0.1, torch.randn(300)
    layer = Int8Linear.quantize(w, b, bounded=bounded, levels=levels)
    x = torch.rand(50, 64) * 2 - 1
    if not bounded:  # rows of very different sizes: one shared scale would round the small ones coarsely
        x = x * torch.logspace(-3, 2, 50)[:, None]
    together = layer(x)                                                   # (50, 300)
    alone = torch.cat([layer(x[i : i + 1]) for i in range(50)])
    assert torch.equal(together, alone)
    exact = x @ w.t() + b
    # about a rounding step of the row (|x| / 63 at most) times the weights, per term
    assert ((together - exact).abs() / (x.abs().amax(1, keepdim=True) + 1e-9)).max() < 0.05


def test_selected_rows_keep_the_values_of_the_whole_layer():
    torch.manual_seed(1)
    layer = Int8Linear.quantize(torch.randn(100, 32), torch.randn(100), bounded=True)
    ids = torch.tensor([0, 3, 4, 50, 99])
    x = torch.rand(6, 32) * 2 - 1
    assert torch.equal(layer.rows(ids)(x), layer(x)[:, ids])


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, False), (2, True)])
def test_int8_lstm_follows_nn_lstm_and_keeps_rows_apart(layers, bidirectional):
    torch.manual_seed(2)
    # 32 units a direction: torch's elementwise kernels (sigmoid) take a scalar path, rounding otherwise, for
    # a tensor's last elements past a multiple of 32 floats; rows of 32k floats all take the vector path
    lstm = nn.LSTM(12, 32, layers, batch_first=True, bidirectional=bidirectional).eval()
    for p in lstm.parameters():  # away from the small init: larger activations, saturating gates
        p.data.mul_(4)
    lens = torch.tensor([5, 2, 4])
    x = torch.randn(3, 5, 12) * (torch.arange(5)[None, :, None] < lens[:, None, None])  # zero padding
    quant = Int8LSTM(lstm)
    with torch.no_grad():
        out, (h, c) = quant.run(x, lens)
        for i, n in enumerate(lens.tolist()):  # each row alone, unpadded: nn.LSTM's answer and its own
            want, (want_h, want_c) = lstm(x[i : i + 1, :n])
            alone, (alone_h, alone_c) = quant.run(x[i : i + 1, :n], lens[i : i + 1])
            assert torch.equal(out[i, :n], alone[0]) and torch.equal(h[:, i], alone_h[:, 0])
            assert torch.equal(c[:, i], alone_c[:, 0])
            assert (out[i, :n] - want[0]).abs().max() < 0.05
            assert (h[:, i] - want_h[:, 0]).abs().max() < 0.05
            assert torch.all(out[i, n:] == 0)


def test_a_tied_projected_output_layer_is_quantized_with_its_projection():
    torch.manual_seed(3)
    model = Seq2Seq(30, 25, ModelConfig(emb=8, hidden=16, layers=1, tie_embeddings=True)).eval()
    for p in model.parameters():
        p.data.add_(torch.randn_like(p) * 0.3)
    quant = Int8Output(model.output)
    assert quant.proj is not None and not quant.linear.bounded  # a projection's output is not bounded
    h = torch.rand(4, 16) * 2 - 1
    with torch.no_grad():
        want, got = model.output.log_probs(h), quant.rows(None).log_probs(h)
    assert torch.isinf(got[:, [0, 2]]).all() and (want - got)[:, 3:].abs().max() < 0.1
