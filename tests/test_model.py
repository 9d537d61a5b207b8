import pytest
import torch

from nmt.config import ModelConfig
from nmt.data import make_batch, pad_sources
from nmt.model import LSTMStep, Seq2Seq, quantize_int8, reorder_state


def _model(cell="lstm", tie=False, **kw):
    torch.manual_seed(0)
    cfg = ModelConfig(emb=8, hidden=16, layers=2, cell=cell, dropout=0.3, tie_embeddings=tie, **kw)
    return Seq2Seq(30, 25, cfg).eval()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_teacher_forced_forward_equals_step_loop(cell):
    model = _model(cell)
    batch = make_batch([[5, 6, 7], [8, 9]], [[10, 11, 12, 13], [14, 15]], reverse=True)
    with torch.no_grad():
        hidden = model(batch.src, batch.src_lens, batch.tgt_in)             # (2, 5, 16)
        full = model.output.log_probs(hidden)                               # (2, 5, 25)
        state = model.encode(batch.src, batch.src_lens)
        steps = []
        for t in range(batch.tgt_in.size(1)):
            log_probs, state = model.step(batch.tgt_in[:, t], state)
            steps.append(log_probs)
    assert torch.allclose(full, torch.stack(steps, 1), atol=1e-5)


@pytest.mark.parametrize("layers", [1, 3])
def test_fast_lstm_step_equals_the_decoders_own_step(layers):
    torch.manual_seed(1)
    model = Seq2Seq(30, 25, ModelConfig(emb=8, hidden=16, layers=layers, dropout=0.3)).eval()
    for p in model.parameters():  # biases away from their init values, so folding them is tested too
        p.data.add_(torch.randn_like(p) * 0.1)
    fast = LSTMStep(model)
    tokens = torch.tensor([4, 7, 3, 24])
    state = tuple(torch.randn(layers, 4, 16) for _ in range(2))
    with torch.no_grad():
        want, want_state = model.step(tokens, state)
        got, got_state = fast(tokens, state)
    assert torch.allclose(want, got, atol=1e-5)
    for a, b in zip(want_state, got_state, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_fast_step_is_only_for_eval_lstms():
    assert not LSTMStep.applies(_model("gru"))
    assert not LSTMStep.applies(_model().train())
    assert LSTMStep.applies(_model())


def test_int8_model_stays_close_to_the_float_one():
    model = _model()
    for p in model.parameters():  # spread the outputs: an untrained model predicts nearly uniformly
        p.data.add_(torch.randn_like(p) * 0.3)
    quant = quantize_int8(model)
    batch = make_batch([[5, 6, 7], [8, 9]], [[10, 11, 12, 13], [14, 15]], reverse=True)
    with torch.no_grad():
        state_f, state_q = model.encode(batch.src, batch.src_lens), quant.encode(batch.src, batch.src_lens)
        lp_f, _ = model.step(batch.tgt_in[:, 0], state_f)
        lp_q, _ = quant.step(batch.tgt_in[:, 0], state_q)
    assert "quantized" in type(quant.decoder.rnn).__module__ and type(model.decoder.rnn) is torch.nn.LSTM
    assert torch.isinf(lp_q[:, [0, 2]]).all()  # PAD and BOS still impossible
    assert lp_f[:, 3:].std() > 0.2                # a spread distribution to compare
    assert (lp_f - lp_q)[:, 3:].abs().max() < 0.1  # int8 rounding, not a different model


def test_padding_never_enters_the_encoder_state():
    model = _model()
    with torch.no_grad():
        alone = model.encode(*pad_sources([[5, 6]], reverse=True))
        batched = model.encode(*pad_sources([[5, 6], [7, 8, 9, 10, 11]], reverse=True))
    for a, b in zip(alone, batched, strict=True):
        assert torch.allclose(a[:, 0], b[:, 0], atol=1e-6)


def test_reversal_changes_what_the_encoder_reads():
    model = _model()
    src = [[5, 6, 7]]
    with torch.no_grad():
        fwd = model.encode(*pad_sources(src, reverse=False))[0]
        rev = model.encode(*pad_sources(src, reverse=True))[0]
        manual = model.encode(*pad_sources([[7, 6, 5]], reverse=False))[0]
    assert not torch.allclose(fwd, rev)
    assert torch.allclose(rev, manual)


def test_tied_embeddings_share_one_matrix():
    model = _model(tie=True)
    assert model.output.weight is model.decoder.embed.weight
    n_tied = sum(p.numel() for p in model.parameters())
    n_untied = sum(p.numel() for p in _model(tie=False).parameters())
    assert n_tied < n_untied


def test_reorder_state_follows_rows():
    h = torch.arange(6.0).view(1, 3, 2)
    out = reorder_state((h, h + 10), torch.tensor([2, 0]))
    assert out[0][0].tolist() == [[4.0, 5.0], [0.0, 1.0]] and out[1][0, 0, 0].item() == 14.0
    assert reorder_state(h, torch.tensor([1]))[0].tolist() == [[2.0, 3.0]]
