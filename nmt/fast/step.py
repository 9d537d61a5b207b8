"""Decoding steps: how one model is run for search, and the one factory that picks how.

Search (search.py) calls `step(tokens, state) -> (log_probs, state)`; a model's Step is what the
translator turns into that call (ensemble.py averages several). Every Step offers the same four things:

    step.model                      the model it runs: the one handed in, or a copy (bf16, int8)
    step.encode(src, src_lens)      the decoder's first state (model.first_state)
    step.output.rows(ids)           the output rows to score: all (None) or a shortlist's ids (output.py)
    step(tokens, state, rows, mask) tokens (rows,) -> log-probs (rows, n) over `rows` (default: all),
                                    the next state; mask: a ShortlistMask (shortlist.py) or None

The implementations, as make_step chooses them:

| Step      | chosen for                             | products                         | encoder          |
| --------- | -------------------------------------- | -------------------------------- | ---------------- |
| LSTMStep  | an LSTM decoder with biases, fp32      | PackedLinear, fp32               | the model's      |
| LSTMStep  | the same, bf16                         | PackedLinear, bf16               | a bf16 copy      |
| LSTMStep  | the same, int8                         | Int8Linear (rows quantized alone)| Int8Encoder      |
| ModelStep | a GRU (any precision), or a model in   | the model's own modules: fp32,   | the model's (a   |
|           | training mode                          | bf16 autocast, or torch's dynamic| bf16 copy; int8: |
|           |                                        | int8 (GRU)                       | dynamic int8)    |

Each supports attention (any kind), input feeding, a shortlist and ensembles; gates, cell states, the
softmax and scores stay fp32 in every precision. A translation does not depend on its batch except with
the GRU's dynamic int8 (one activation scale per call). LSTMStep gives what Decoder.decode_step gives
(tests/test_model.py), several times faster on CPUs.
"""

from __future__ import annotations

import copy

import torch

from nmt.attention import AttentionState, attend, source_keys
from nmt.fast.int8 import Int8Linear
from nmt.fast.lstm import cell, gate_weights
from nmt.fast.output import Int8Output, OutputRows, PackedOutput
from nmt.fast.packed import PackedLinear
from nmt.fast.quantize import fast_lstm, quantize_int8
from nmt.model import Seq2Seq, State, first_state

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "int8": torch.qint8}


def make_step(model: Seq2Seq, precision: str = "fp32") -> LSTMStep | ModelStep:
    """The Step that decodes `model` in `precision` (fp32, bf16 or int8; see the table above). The model
    handed in is never changed: bf16 and int8 run on copies."""
    dtype = PRECISIONS[precision]
    if dtype == torch.qint8:
        model = quantize_int8(model)
        output = Int8Output(model.output)
    else:
        if dtype != torch.float32:
            model = _cast_encoder(model, dtype)
        output = PackedOutput(model.output, dtype)
    return LSTMStep(model, dtype, output) if fast_lstm(model) else ModelStep(model, dtype, output)


def _cast_encoder(model: Seq2Seq, dtype: torch.dtype) -> Seq2Seq:
    """A copy whose encoder, and what attention reads of it (the key layer), run in `dtype`: cast once
    here rather than at every batch, as autocast would."""
    model = copy.deepcopy(model)
    model.encoder.to(dtype)
    attention = model.decoder.attention
    if attention is not None and attention.kind != "dot":
        attention.key.to(dtype)
    return model


class ModelStep:
    """A model's own Decoder.decode_step and output rows, the products in bf16 under autocast when dtype is
    bf16."""

    def __init__(self, model: Seq2Seq, dtype: torch.dtype, output):
        self.model, self.dtype, self.output = model, dtype, output
        self.device_type = model.decoder.embed.weight.device.type

    def encode(self, src: torch.Tensor, src_lens: torch.Tensor) -> State | AttentionState:
        return self.model.encode(src, src_lens)

    def __call__(self, tokens: torch.Tensor, state, rows: OutputRows | None = None, mask=None):
        rows = rows or self.output.rows(None)
        with torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype == torch.bfloat16):
            hidden, state = self.model.decoder.decode_step(tokens, state)
            return rows.log_probs(hidden, mask), state


class PackedAttention:
    """A model's Attention with its layers on the fast floor's products (PackedLinear or Int8Linear): called
    like it, with the same arithmetic (attention.attend), in decoding's exact mode."""

    def __init__(self, attention, linear):
        self.kind = attention.kind
        self.key = linear(attention.key.weight, None) if self.kind != "dot" else None
        self.query = linear(attention.query.weight, attention.query.bias) if self.kind == "additive" else None
        self.v = getattr(attention, "v", None)  # (hidden -> 1): nothing to gain
        self.combine = linear(attention.combine.weight, attention.combine.bias)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        return source_keys(self, memory)

    def __call__(self, h, memory, keys, mask) -> tuple[torch.Tensor, torch.Tensor]:
        return attend(self, h, memory, keys, mask, exact=True)


class LSTMStep:
    """The decoder's step for search, as a few matrix products on weights arranged once per decode.

    nn.LSTM pays a per-call set-up that dominates a one-token step; here the first layer's input
    product is looked up instead of computed (a table of every target word's embedding times W_ih,
    biases folded in: (vocab, 4 * hidden)), and each upper layer multiplies [input; h] by its two
    weight matrices concatenated. With attention the top state then attends (PackedAttention); with
    input feeding the last attentional state adds its product to the first layer's input. Same function
    as Decoder.decode_step in eval mode (no dropout).

    dtype bfloat16: the weights are kept in bf16 and the products run in bf16 (several times the fp32
    rate on CPUs with AVX512-BF16 or AMX, and on recent GPUs); torch.qint8: int8 weights, activations
    quantized per row (int8.py). Gates, cell states and the softmax stay in fp32 either way, so rounding
    does not build up along the sentence.
    """

    def __init__(self, model: Seq2Seq, dtype: torch.dtype, output):
        rnn, emb = model.decoder.rnn, model.decoder.embed.weight.size(1)
        self.model, self.dtype, self.output = model, dtype, output
        self.layers = rnn.num_layers
        with torch.no_grad():
            w, u, b = zip(*(gate_weights(rnn, f"l{k}") for k in range(self.layers)), strict=True)
            self.table = torch.addmm(b[0], model.decoder.embed.weight, w[0][:, :emb].t())  # (V, 4h) fp32
            feeds = model.decoder.input_feeding
            self.feed = self._linear(w[0][:, emb:], None) if feeds else None                  # h -> 4h
            self.u0 = self._linear(u[0], None)                                                  # h -> 4h
            self.wu = [self._linear(torch.cat([w[k], u[k]], 1), b[k])
                       for k in range(1, self.layers)]                                         # 2h -> 4h
            # packed copies of the attention's layers: each row's result then does not depend on the batch
            attention = model.decoder.attention
            self.attention = None if attention is None else PackedAttention(attention, self._linear)

    def _linear(self, weight: torch.Tensor, bias: torch.Tensor | None):
        """A decoding product in self.dtype. Every one reads LSTM states, attention contexts (averages of
        the encoder's LSTM outputs) or tanh outputs, all in [-1, 1]: int8 can take a fixed scale."""
        if self.dtype == torch.qint8:
            return Int8Linear.quantize(weight, bias, bounded=True)
        return PackedLinear(weight, bias, self.dtype)

    def encode(self, src: torch.Tensor, src_lens: torch.Tensor) -> State | AttentionState:
        return first_state(self.model.encoder, self.attention, src, src_lens)

    def __call__(self, tokens: torch.Tensor, state, rows: OutputRows | None = None, mask=None):
        """tokens (rows,), state ((layers, rows, h), (layers, rows, h)) or an AttentionState holding it,
        the output rows to score (n of them; default all) -> log-probs (rows, n), next state."""
        attends, dt, rows = isinstance(state, AttentionState), self.dtype, rows or self.output.rows(None)
        h0, c0 = state.rnn if attends else state
        first = self.table[tokens]                                                    # (rows, 4h) fp32
        if attends and self.feed is not None and state.feed is not None:
            first = first + self.feed(state.feed).float()
        x, c = cell(self.u0(h0[0]).float() + first, c0[0])                       # (rows, h) each
        hs, cs = [x], [c]
        for k in range(1, self.layers):
            x, c = cell(self.wu[k - 1](torch.cat([x, h0[k]], 1)), c0[k])
            hs.append(x)
            cs.append(c)
        rnn = (torch.stack(hs), torch.stack(cs))
        if not attends:
            return rows.log_probs(x, mask), rnn
        with torch.autocast(x.device.type, dtype=dt, enabled=dt == torch.bfloat16):
            att, weights = state.attend(self.attention, x[:, None].to(state.memory.dtype))
        att = att[:, 0]                                                                 # (rows, h)
        return rows.log_probs(att, mask), state.advance(rnn, att.float(), weights[:, 0].float())
