"""The sequence-to-sequence model of Sutskever et al. (2014): an LSTM encoder reads the (reversed)
source into its final state, which starts an LSTM decoder that predicts the target one token at a time.

Variants, all from ModelConfig: a bidirectional encoder (each direction half as wide, their final
states side by side start the decoder), and attention over the encoder's outputs (attention.py), with
or without input feeding (the previous attentional state joins the decoder's next input).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nmt.attention import Attention, AttentionState
from nmt.config import ModelConfig
from nmt.int8 import Int8Linear
from nmt.packed import PackedLinear, quiet_quantization
from nmt.softmax import OutputLayer, OutputRows
from nmt.tokenizer import PAD

# LSTM state is (h, c), each (layers, batch, hidden); GRU state is h alone. With attention the decoder's
# state is an AttentionState holding one of these.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


def _rnn(cfg: ModelConfig, inputs: int, hidden: int, bidirectional: bool = False) -> nn.RNNBase:
    return CELLS[cfg.cell](inputs, hidden, cfg.layers, batch_first=True, bidirectional=bidirectional,
                           dropout=cfg.dropout if cfg.layers > 1 else 0.0)


def _join_directions(state: State) -> State:
    """(layers * 2, batch, hidden / 2) per direction -> (layers, batch, hidden): both directions' final
    states side by side, the forward one first."""
    if isinstance(state, tuple):
        return tuple(_join_directions(s) for s in state)
    layers2, batch, half = state.shape
    return state.view(layers2 // 2, 2, batch, half).transpose(1, 2).reshape(layers2 // 2, batch, 2 * half)


class Encoder(nn.Module):
    def __init__(self, vocab: int, cfg: ModelConfig):
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.emb, padding_idx=PAD)
        self.drop = nn.Dropout(cfg.dropout)
        self.bidirectional = cfg.bidirectional
        self.rnn = _rnn(cfg, cfg.emb, cfg.hidden // 2 if cfg.bidirectional else cfg.hidden, cfg.bidirectional)

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor, outputs: bool = False
                ) -> tuple[torch.Tensor | None, State]:
        """src: (batch, src_len), already reversed if asked and padded; src_lens: (batch,) on CPU, all > 0.
        Returns the outputs (batch, src_len, hidden), zero at padding, when `outputs` (else None), and
        the final state after each row's last real token (packing skips the padding)."""
        x = self.drop(self.embed(src))  # (batch, src_len, emb)
        if isinstance(self.rnn, Int8LSTM):  # decoding in int8: the padded batch at once, rows kept apart
            out, state = self.rnn.run(x, src_lens)
            return (out if outputs else None), _join_directions(state) if self.bidirectional else state
        if not self.training:
            return self._by_length(x, src_lens, outputs)
        if bool((src_lens == src.size(1)).all()):
            # No padding (training batches mostly share a source length): the unpacked call runs
            # oneDNN's fused RNN kernel, markedly faster on CPU than the packed path.
            out, state = self.rnn(x)
        else:
            packed = pack_padded_sequence(x, src_lens.cpu(), batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed)
            if outputs:
                out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        if self.bidirectional:
            state = _join_directions(state)
        return (out if outputs else None), state

    def _by_length(self, x: torch.Tensor, src_lens: torch.Tensor, outputs: bool
                   ) -> tuple[torch.Tensor | None, State]:
        """forward for decoding: each group of equal-length sentences through the fused kernel, unpadded.
        So every sentence takes the same kernel whatever it is batched with (packing takes another), which
        keeps translations independent of the batch, in bf16 too; and it is faster than packing. A group
        of one runs as two copies: the kernel takes yet another path for a single row, whose rounding
        differs (enough, in bf16, to change some translations)."""
        out = state = None
        for n in src_lens.unique().tolist():
            rows = (src_lens == n).nonzero().flatten().to(x.device)
            group_out, group_state = self.rnn(x[rows if len(rows) > 1 else rows.repeat(2), :n])
            if len(rows) == 1:                                           # (group, n, H), state (.., group, h)
                group_out, group_state = group_out[:1], _first_row(group_state)
            if state is None:  # in the dtype the kernel ran in (bf16 under autocast)
                out = group_out.new_zeros(x.size(0), x.size(1), group_out.size(2)) if outputs else None
                state = _empty_like_batch(group_state, x.size(0))
            if outputs:
                out[rows, :n] = group_out
            _put_rows(state, rows, group_state)
        if self.bidirectional:
            state = _join_directions(state)
        return (out if outputs else None), state


def _first_row(state: State) -> State:
    return tuple(s[:, :1] for s in state) if isinstance(state, tuple) else state[:, :1]


def _empty_like_batch(state: State, batch: int) -> State:
    """A state shaped like `state` with `batch` rows (dim 1)."""
    if isinstance(state, tuple):
        return tuple(_empty_like_batch(s, batch) for s in state)
    return state.new_empty(state.size(0), batch, state.size(2))


def _put_rows(state: State, rows: torch.Tensor, part: State) -> None:
    if isinstance(state, tuple):
        for s, p in zip(state, part, strict=True):
            s[:, rows] = p
    else:
        state[:, rows] = part


class Decoder(nn.Module):
    def __init__(self, vocab: int, cfg: ModelConfig):
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.emb, padding_idx=PAD)
        self.drop = nn.Dropout(cfg.dropout)
        self.input_feeding = cfg.input_feeding
        self.rnn = _rnn(cfg, cfg.emb + (cfg.hidden if cfg.input_feeding else 0), cfg.hidden)
        self.attention = Attention(cfg.attention, cfg.hidden) if cfg.attention != "none" else None

    def forward(self, tgt_in: torch.Tensor, state: State | AttentionState) -> torch.Tensor:
        """Teacher forcing: tgt_in (batch, tgt_len) -> the states the output layer reads (batch, tgt_len,
        hidden): the recurrent states, or with attention the attentional ones."""
        emb = self.drop(self.embed(tgt_in))                                   # (batch, tgt_len, emb)
        if self.attention is None:
            out, _ = self.rnn(emb, state)
            return self.drop(out)
        return self.drop(self._attend(emb, state)[0])

    def attention_weights(self, tgt_in: torch.Tensor, state: AttentionState) -> torch.Tensor:
        """(batch, tgt_len, src_len): how each position of tgt_in attended, teacher-forced."""
        return self._attend(self.drop(self.embed(tgt_in)), state)[1]

    def _attend(self, emb: torch.Tensor, state: AttentionState) -> tuple[torch.Tensor, torch.Tensor]:
        """emb (batch, tgt_len, emb) -> attentional states (batch, tgt_len, hidden), weights (.., src_len)."""
        if not self.input_feeding:  # every position's attention at once
            out, _ = self.rnn(emb, state.rnn)
            return self.attention(out, state.memory, state.keys, state.mask)
        steps = []  # input feeding: each step needs the previous step's attentional state
        for t in range(emb.size(1)):
            att, weights, state = self._attend_step(emb[:, t : t + 1], state)
            steps.append((att, weights))
        return torch.cat([a for a, _ in steps], 1), torch.cat([w for _, w in steps], 1)

    def _attend_step(self, emb: torch.Tensor, state: AttentionState
                     ) -> tuple[torch.Tensor, torch.Tensor, AttentionState]:
        """emb (batch, 1, emb) -> attentional state (batch, 1, hidden), weights, the next state."""
        if self.input_feeding:
            feed = state.feed if state.feed is not None else emb.new_zeros(emb.size(0), self.rnn.hidden_size)
            emb = torch.cat([emb, feed[:, None].to(emb.dtype)], -1)
        out, rnn = self.rnn(emb, state.rnn)
        att, weights = state.attend(self.attention, out)
        return att, weights, state.advance(rnn, att[:, 0])

    def decode_step(self, tokens: torch.Tensor, state: State | AttentionState
                    ) -> tuple[torch.Tensor, State | AttentionState]:
        """One step for search: tokens (batch,) -> hidden (batch, hidden), the next state."""
        emb = self.drop(self.embed(tokens[:, None]))                          # (batch, 1, emb)
        if self.attention is None:
            out, state = self.rnn(emb, state)
            return self.drop(out[:, 0]), state
        att, _, state = self._attend_step(emb, state)
        return self.drop(att[:, 0]), state


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab: int, tgt_vocab: int, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(src_vocab, cfg)
        self.decoder = Decoder(tgt_vocab, cfg)
        self.output = OutputLayer(cfg.hidden, tgt_vocab, self.decoder.embed if cfg.tie_embeddings else None)
        self._init_weights()

    def _init_weights(self) -> None:
        # Small uniform weights as in Sutskever et al.; forget-gate bias 1 so early gradients flow
        # through the cell state instead of vanishing (Jozefowicz et al. 2015).
        for name, p in self.named_parameters():
            if "embed" in name or "rnn" in name:
                nn.init.uniform_(p, -0.08, 0.08)
        for rnn in (self.encoder.rnn, self.decoder.rnn):
            if isinstance(rnn, nn.LSTM):
                for name, p in rnn.named_parameters():
                    if name.startswith("bias_ih"):
                        nn.init.zeros_(p)
                        p.data[rnn.hidden_size : 2 * rnn.hidden_size] = 1.0
                    elif name.startswith("bias_hh"):
                        nn.init.zeros_(p)
        with torch.no_grad():
            self.encoder.embed.weight[PAD].zero_()
            self.decoder.embed.weight[PAD].zero_()

    def encode(self, src: torch.Tensor, src_lens: torch.Tensor, key=None) -> State | AttentionState:
        """The decoder's first state: the encoder's final state, and with attention what it attends to.
        key: a stand-in for the attention's key layer (LSTMStep.key)."""
        attention = self.decoder.attention
        memory, state = self.encoder(src, src_lens, outputs=attention is not None)
        if attention is None:
            return state
        return AttentionState(state, memory, attention.keys(memory, key), src != PAD)

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """(batch, src_len), (batch,), (batch, tgt_len) -> decoder states (batch, tgt_len, hidden)."""
        return self.decoder(tgt_in, self.encode(src, src_lens))

    def step(self, tokens: torch.Tensor, state: State | AttentionState, output: OutputRows | None = None
             ) -> tuple[torch.Tensor, State | AttentionState]:
        """Search's step function: previous tokens (batch,) -> log-probs (batch, vocab), next state.
        output: the output rows to score (default: the whole output layer)."""
        hidden, state = self.decoder.decode_step(tokens, state)
        return (output or self.output).log_probs(hidden), state


class LSTMStep:
    """The decoder's step for search, as a few matrix products on weights arranged once per decode.

    nn.LSTM pays a per-call set-up that dominates a one-token step; here the first layer's input
    product is looked up instead of computed (a table of every target word's embedding times W_ih,
    biases folded in: (vocab, 4 * hidden)), and each upper layer multiplies [input; h] by its two
    weight matrices concatenated. With attention the top state then attends (the model's own
    Attention module); with input feeding the last attentional state adds its product to the first
    layer's input. Same function as Decoder.decode_step in eval mode (no dropout).

    dtype bfloat16: the weights are kept in bf16 and the products run in bf16 (several times the fp32
    rate on CPUs with AVX512-BF16 or AMX, and on recent GPUs); torch.qint8: int8 weights, activations
    quantized per row (int8.py; a quantize_int8 model's decoder). Gates, cell states and the softmax stay in
    fp32 either way, so rounding does not build up along the sentence.
    """

    def __init__(self, model: Seq2Seq, dtype: torch.dtype = torch.float32):
        rnn, emb = model.decoder.rnn, model.decoder.embed.weight.size(1)
        self.layers, self.attention, self.dtype = rnn.num_layers, model.decoder.attention, dtype
        self.output = model.output
        with torch.no_grad():
            w, u, b = zip(*(_gate_weights(rnn, f"l{k}") for k in range(self.layers)), strict=True)
            self.table = torch.addmm(b[0], model.decoder.embed.weight, w[0][:, :emb].t())  # (V, 4h) fp32
            feeds = model.decoder.input_feeding
            self.feed = self._linear(w[0][:, emb:], None) if feeds else None                  # h -> 4h
            self.u0 = self._linear(u[0], None)                                                  # h -> 4h
            self.wu = [self._linear(torch.cat([w[k], u[k]], 1), b[k])
                       for k in range(1, self.layers)]                                         # 2h -> 4h
            # packed copies of the attention's layers: each row's result then does not depend on the batch
            att = self.attention
            layers = {name: getattr(att, name) for name in ("combine", "query") if hasattr(att, name)}
            self.linears = {name: self._linear(layer.weight, layer.bias) for name, layer in layers.items()}
            self.key = self._linear(att.key.weight, None) if att is not None and att.kind != "dot" else None

    def _linear(self, weight: torch.Tensor, bias: torch.Tensor | None):
        """A decoding product in self.dtype. Every one reads LSTM states, attention contexts (averages of
        the encoder's LSTM outputs) or tanh outputs, all in [-1, 1]: int8 can take a fixed scale."""
        if self.dtype == torch.qint8:
            return Int8Linear.quantize(weight, bias, bounded=True)
        return PackedLinear(weight, bias, self.dtype)

    def __call__(self, tokens: torch.Tensor, state: State | AttentionState, output: OutputRows | None = None
                 ) -> tuple[torch.Tensor, State | AttentionState]:
        """tokens (rows,), state ((layers, rows, h), (layers, rows, h)) or an AttentionState holding it,
        the output rows to score (n of them; default the whole layer) -> log-probs (rows, n), next state."""
        attends, dt, output = isinstance(state, AttentionState), self.dtype, output or self.output
        h0, c0 = state.rnn if attends else state
        first = self.table[tokens]                                                    # (rows, 4h) fp32
        if attends and self.feed is not None and state.feed is not None:
            first = first + self.feed(state.feed).float()
        x, c = _cell(self.u0(h0[0]).float() + first, c0[0])                      # (rows, h) each
        hs, cs = [x], [c]
        for k in range(1, self.layers):
            x, c = _cell(self.wu[k - 1](torch.cat([x, h0[k]], 1)), c0[k])
            hs.append(x)
            cs.append(c)
        rnn = (torch.stack(hs), torch.stack(cs))
        if not attends:
            return output.log_probs(x), rnn
        with torch.autocast(x.device.type, dtype=dt, enabled=dt == torch.bfloat16):
            att, _ = state.attend(self.attention, x[:, None].to(state.memory.dtype), self.linears)
        att = att[:, 0]                                                                 # (rows, h)
        return output.log_probs(att), state.advance(rnn, att.float())

    @staticmethod
    def applies(model: Seq2Seq) -> bool:
        rnn = model.decoder.rnn
        return type(rnn) is nn.LSTM and rnn.bias and not model.training


def reorder_state(state: State | AttentionState, index: torch.Tensor) -> State | AttentionState:
    """Select rows of a state (batch is dim 1): beam search's way of following its survivors."""
    if isinstance(state, AttentionState):
        return state.reorder(index)
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


def _gate_weights(lstm: nn.LSTM, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Layer `name` ("l0", "l1_reverse", ...) of an nn.LSTM, arranged for _cell: W_ih, W_hh and the two
    biases summed, gate rows from nn.LSTM's (i, f, g, o) to (i, f, o, g), the g rows doubled (exact: a
    power of two)."""
    n = lstm.hidden_size
    order = torch.cat([torch.arange(2 * n), torch.arange(3 * n, 4 * n), torch.arange(2 * n, 3 * n)])
    scale = torch.ones(4 * n, 1)
    scale[3 * n :] = 2
    w, u = (getattr(lstm, f"weight_{kind}_{name}")[order] * scale for kind in ("ih", "hh"))
    b = (getattr(lstm, f"bias_ih_{name}") + getattr(lstm, f"bias_hh_{name}"))[order] * scale[:, 0]
    return w, u, b


def _cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An LSTM cell on fresh gates (rows, 4h) in _gate_weights's order, i, f, o, 2g; c (rows, h) -> h, c, in
    fp32 whatever the products ran in. One sigmoid covers all four gates, as tanh(z) = 2 sigmoid(2z) - 1
    (within 2e-7 of it): torch's CPU tanh runs at about a fifth of its sigmoid's speed (218 against 39 us
    on 320 x 512)."""
    n = c.size(1)
    gates = torch.sigmoid_(gates.float())
    i, f, o = gates[:, : 3 * n].chunk(3, 1)
    c = torch.addcmul(f * c, i, gates[:, 3 * n :] * 2 - 1)
    return o * (torch.sigmoid(c + c) * 2 - 1), c


class Int8LSTM(nn.Module):
    """An encoder's nn.LSTM (batch_first, any layers, one or two directions) on Int8Linear products, for
    decoding: run(x, lens) over a padded batch. Each row's outputs and final state are those it would
    have alone: its products are quantized per row, and a row's state stops at its own length."""

    def __init__(self, lstm: nn.LSTM):
        super().__init__()
        self.layers, self.hidden = lstm.num_layers, lstm.hidden_size
        self.directions = 2 if lstm.bidirectional else 1
        # per (layer, direction) in nn.LSTM's order: the input product (both biases in it), the recurrent one
        self.cells = []
        with torch.no_grad():
            for k in range(self.layers):
                for suffix in ["", "_reverse"][: self.directions]:
                    w, u, b = _gate_weights(lstm, f"l{k}{suffix}")
                    # layer 0 reads embeddings, of any size; upper layers read LSTM outputs, in [-1, 1]
                    self.cells.append((Int8Linear.quantize(w, b, bounded=k > 0),
                                       Int8Linear.quantize(u, None, bounded=True)))

    def run(self, x: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, State]:
        """x (batch, T, in), padded after each row's length lens (batch,) -> outputs (batch, T, directions *
        hidden), zero at padding, and the final (h, c), each (layers * directions, batch, hidden) in
        nn.LSTM's order (layer by layer, forward first)."""
        t = torch.arange(x.size(1))
        alive = t[None, :] < lens[:, None]                                           # (batch, T)
        # the backward direction reads each row's own tokens last to first: position t <-> lens - 1 - t
        back = torch.where(alive, lens[:, None] - 1 - t[None, :], t[None, :]).to(x.device)
        alive = alive.to(x.device)
        hs, cs = [], []
        for k in range(self.layers):
            outs = []
            for d in range(self.directions):
                w, u = self.cells[k * self.directions + d]
                seq = x if d == 0 else x.gather(1, back[..., None].expand_as(x))
                out, h, c = self._direction(w(seq), u, alive)
                outs.append(out if d == 0 else out.gather(1, back[..., None].expand_as(out)))
                hs.append(h)
                cs.append(c)
            x = torch.cat(outs, -1)
        return x * alive[..., None], (torch.stack(hs), torch.stack(cs))

    def _direction(self, inputs: torch.Tensor, u: Int8Linear, alive: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """inputs (batch, T, 4h), the input products -> outputs (batch, T, h), final h, c; a row's h and c
        stay as they are once it has ended."""
        h = inputs.new_zeros(inputs.size(0), self.hidden)
        c = torch.zeros_like(h)
        out = []
        for t in range(inputs.size(1)):
            h_next, c_next = _cell(inputs[:, t] + u(h), c)
            live = alive[:, t, None]
            h, c = torch.where(live, h_next, h), torch.where(live, c_next, c)
            out.append(h)
        return torch.stack(out, 1), h, c


def quantize_int8(model: Seq2Seq) -> Seq2Seq:
    """A copy for CPU decoding with int8 weights (int8.py): the output layer's rows and, in an LSTM model,
    the encoder (Int8LSTM) and the decoder (decoding runs it as LSTMStep(model, torch.qint8)), each
    product's input quantized per row, so that a translation does not depend on its batch. A GRU model's
    recurrent and attention layers take torch's dynamic quantization instead (one activation scale per
    call: its translations may change with the batch). Embeddings stay in float."""
    model = copy.deepcopy(model).eval()
    model.output.quantize_int8()
    if LSTMStep.applies(model):
        model.encoder.rnn = Int8LSTM(model.encoder.rnn)
        return model
    with quiet_quantization():
        for part in (model.encoder, model.decoder):
            torch.ao.quantization.quantize_dynamic(part, {nn.GRU, nn.Linear}, dtype=torch.qint8, inplace=True)
    return model


def is_int8(model: Seq2Seq) -> bool:
    """Whether quantize_int8 made this model."""
    return model.output.int8 is not None
