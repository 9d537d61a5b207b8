import pytest
import torch

from nmt.attention import AttentionState
from nmt.config import ModelConfig
from nmt.data import make_batch, pad_sources
from nmt.fast.lstm import Int8Encoder
from nmt.fast.quantize import fast_lstm
from nmt.fast.step import LSTMStep, ModelStep, make_step
from nmt.model import Seq2Seq, reorder_state
from nmt.regroup import regroup


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
    fast = make_step(model)
    assert isinstance(fast, LSTMStep)
    tokens = torch.tensor([4, 7, 3, 24])
    state = tuple(torch.randn(layers, 4, 16) for _ in range(2))
    with torch.no_grad():
        want, want_state = model.step(tokens, state)
        got, got_state = fast(tokens, state)
    assert torch.allclose(want, got, atol=1e-5)
    for a, b in zip(want_state, got_state, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_fast_step_is_only_for_eval_lstms():
    assert not fast_lstm(_model("gru")) and isinstance(make_step(_model("gru")), ModelStep)
    assert not fast_lstm(_model().train()) and isinstance(make_step(_model().train()), ModelStep)
    assert fast_lstm(_model()) and isinstance(make_step(_model()), LSTMStep)


def test_int8_model_stays_close_to_the_float_one():
    model = _model()
    for p in model.parameters():  # spread the outputs: an untrained model predicts nearly uniformly
        p.data.add_(torch.randn_like(p) * 0.3)
    quant = make_step(model, "int8")  # how decoding runs it
    batch = make_batch([[5, 6, 7], [8, 9]], [[10, 11, 12, 13], [14, 15]], reverse=True)
    with torch.no_grad():
        state_f, state_q = model.encode(batch.src, batch.src_lens), quant.encode(batch.src, batch.src_lens)
        lp_f, _ = model.step(batch.tgt_in[:, 0], state_f)
        lp_q, _ = quant(batch.tgt_in[:, 0], state_q)
    # int8 runs on a copy: the model handed in keeps its float encoder
    assert isinstance(quant.model.encoder, Int8Encoder) and type(model.encoder.rnn) is torch.nn.LSTM
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


# attention variants: (attention, input_feeding, bidirectional, cell, layers)
VARIANTS = [("dot", False, False, "lstm", 2), ("general", True, True, "lstm", 2),
            ("additive", False, True, "gru", 1), ("additive", True, False, "lstm", 1),
            ("dot", True, True, "gru", 2)]


def _attn_model(attention, feeding, bidirectional, cell, layers, seed=0):
    torch.manual_seed(seed)
    cfg = ModelConfig(emb=8, hidden=16, layers=layers, cell=cell, dropout=0.3, attention=attention,
                      input_feeding=feeding, bidirectional=bidirectional, reverse_source=not bidirectional)
    model = Seq2Seq(30, 25, cfg).eval()
    for p in model.parameters():  # away from the initial values, so every weight matters
        p.data.add_(torch.randn_like(p) * 0.2)
    return model


@pytest.mark.parametrize("variant", VARIANTS)
def test_attention_teacher_forcing_equals_the_step_loop_and_the_fast_step(variant):
    model = _attn_model(*variant)
    reverse = model.cfg.reverse_source
    batch = make_batch([[5, 6, 7, 8], [9, 10]], [[10, 11, 12, 13], [14, 15]], reverse=reverse)
    fast = make_step(model)
    assert isinstance(fast, LSTMStep) == (variant[3] == "lstm")
    with torch.no_grad():
        full = model.output.log_probs(model(batch.src, batch.src_lens, batch.tgt_in))  # (2, 5, 25)
        state, fast_state = model.encode(batch.src, batch.src_lens), fast.encode(batch.src, batch.src_lens)
        for t in range(batch.tgt_in.size(1)):
            log_probs, state = model.step(batch.tgt_in[:, t], state)
            assert torch.allclose(full[:, t], log_probs, atol=1e-5), t
            fast_probs, fast_state = fast(batch.tgt_in[:, t], fast_state)
            assert torch.allclose(log_probs, fast_probs, atol=1e-5), t


@pytest.mark.parametrize("variant", VARIANTS[:3])
def test_padding_changes_nothing_a_sentence_attends_to(variant):
    model = _attn_model(*variant)
    tgt = torch.tensor([4, 9])
    with torch.no_grad():
        alone = model.encode(*pad_sources([[5, 6]], reverse=model.cfg.reverse_source))
        longer = [7, 8, 9, 10, 11, 12]
        batched = model.encode(*pad_sources([[5, 6], longer], reverse=model.cfg.reverse_source))
        for token in tgt:
            a, alone = model.step(token.repeat(1), alone)
            b, batched = model.step(token.repeat(2), batched)
            assert torch.allclose(a[0], b[0], atol=1e-6)


def test_the_bidirectional_state_holds_both_directions_forward_first():
    model = _attn_model("dot", False, True, "lstm", 1)
    src, lens = pad_sources([[5, 6, 7], [8, 9]], reverse=False)
    with torch.no_grad():
        memory, (h, _) = model.encoder(src, lens, outputs=True)        # (2, 3, 16), (1, 2, 16)
    for i, n in enumerate([3, 2]):
        assert torch.allclose(h[0, i, :8], memory[i, n - 1, :8])    # forward: after the last real token
        assert torch.allclose(h[0, i, 8:], memory[i, 0, 8:])        # backward: after reading back to token 1
    assert torch.all(memory[1, 2] == 0)                              # padding gives nothing to attend to


def test_attention_weights_are_a_distribution_over_real_tokens():
    model = _attn_model("additive", False, False, "lstm", 1)
    state = model.encode(*pad_sources([[5, 6, 7], [8]], reverse=True))
    with torch.no_grad():
        h = torch.randn(2, 4, 16)
        _, weights = model.decoder.attention(h, state.memory, state.keys, state.mask)  # (2, 4, src 3)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4))
    assert torch.all(weights[1, :, 1:] == 0) and torch.all(weights[0] > 0)


def test_int8_attention_model_stays_close_to_the_float_one():
    model = _attn_model("general", True, True, "lstm", 2)
    quant = make_step(model, "int8")
    batch = make_batch([[5, 6, 7], [8, 9]], [[10, 11], [14, 15]], reverse=False)
    with torch.no_grad():
        lp_f, _ = model.step(batch.tgt_in[:, 0], model.encode(batch.src, batch.src_lens))
        lp_q, _ = quant(batch.tgt_in[:, 0], quant.encode(batch.src, batch.src_lens))
    assert isinstance(quant, LSTMStep) and isinstance(quant.model.encoder, Int8Encoder)
    assert (lp_f - lp_q)[:, 3:].abs().max() < 0.1 and lp_f[:, 3:].std() > 0.2


@pytest.mark.parametrize("settings, message", [
    (dict(bidirectional=True), "model.reverse_source has no use with model.bidirectional"),
    (dict(bidirectional=True, reverse_source=False, hidden=15), "model.hidden must be even"),
    (dict(input_feeding=True), "model.input_feeding needs attention"),
])
def test_settings_that_do_not_go_together_are_refused(settings, message):
    from nmt import NMTError
    from nmt.config import Config
    cfg = Config()
    for key, value in settings.items():
        setattr(cfg.model, key, value)
    with pytest.raises(NMTError, match=message):
        cfg.check()


def test_regroup_keeps_each_sentences_source_once_as_the_beam_moves():
    # 2 sentences, 3 rows each (rows 0-2 read sentence 0, rows 3-5 sentence 1)
    assert regroup(torch.tensor([2, 0, 1, 5, 3, 3]), per=3, sentences=2) == (None, 3)  # reordered in place
    kept, per = regroup(torch.tensor([3, 5, 4]), per=3, sentences=2)                   # sentence 0 finished
    assert kept.tolist() == [1] and per == 3
    kept, per = regroup(torch.tensor([0, 0, 1, 1]), per=1, sentences=2)                # step 0: copies
    assert kept is None and per == 2
    kept, per = regroup(torch.tensor([2, 0]), per=1, sentences=3)                      # any other order
    assert kept.tolist() == [2, 0] and per == 1
    kept, per = regroup(torch.tensor([0, 1, 3]), per=2, sentences=2)          # unequal: a copy per row
    assert kept.tolist() == [0, 0, 1] and per == 1


def test_a_beams_rows_attend_to_their_own_sentence_without_copying_it():
    model = _attn_model("general", False, True, "lstm", 2)
    fast = make_step(model)
    with torch.no_grad():
        state = model.encode(*pad_sources([[5, 6, 7], [8, 9]], reverse=False))
        rows = torch.tensor([0, 0, 0, 1, 1, 1])                                    # 3 hypotheses each
        beam = state.reorder(rows)
        copied = AttentionState(tuple(s[:, rows] for s in state.rnn), state.memory[rows], state.keys[rows],
                                state.mask[rows])                                   # a copy per row
        assert beam.memory.data_ptr() == state.memory.data_ptr() and beam.per == 3
        tokens = torch.tensor([4, 9, 11, 4, 12, 13])
        for step in (model.step, fast):
            a, beam_next = step(tokens, beam)
            b, _ = step(tokens, copied)
            assert torch.allclose(a, b, atol=1e-6)
        survivors = beam_next.reorder(torch.tensor([4, 3, 3]))                       # sentence 0 done
        assert survivors.memory.size(0) == 1 and survivors.per == 3
        assert torch.equal(survivors.memory[0], state.memory[1])


@pytest.mark.parametrize("cell, bidirectional", [("lstm", False), ("lstm", True), ("gru", True)])
def test_the_training_and_the_decoding_encoder_paths_agree(cell, bidirectional):
    # Training packs a padded batch (or runs it unpacked when nothing is padded); decoding runs each group
    # of equal-length sentences unpadded. Both must give every sentence the same outputs and final state.
    torch.manual_seed(4)
    cfg = ModelConfig(emb=8, hidden=16, layers=2, cell=cell, dropout=0.0, bidirectional=bidirectional,
                      reverse_source=not bidirectional)
    model = Seq2Seq(30, 25, cfg)
    for seqs in ([[5, 6, 7, 8], [9, 10], [11, 12, 13], [14, 15]], [[5, 6, 7], [8, 9, 10]]):  # padded; not
        src, lens = pad_sources(seqs, reverse=cfg.reverse_source)
        with torch.no_grad():
            trained = model.train().encoder(src, lens, outputs=True)
            decoded = model.eval().encoder(src, lens, outputs=True)
        assert torch.allclose(trained[0], decoded[0], atol=1e-6)                  # outputs, zero at padding
        states = [out[1] if cell == "lstm" else (out[1],) for out in (trained, decoded)]  # (h, c) or (h,)
        for a, b in zip(*states, strict=True):
            assert torch.allclose(a, b, atol=1e-6)
