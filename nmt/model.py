"""The sequence-to-sequence model of Sutskever et al. (2014): an LSTM encoder reads the (reversed)
source into its final state, which starts an LSTM decoder that predicts the target one token at a time.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from nmt.config import ModelConfig
from nmt.softmax import OutputLayer
from nmt.tokenizer import PAD

# LSTM state is (h, c), each (layers, batch, hidden); GRU state is h alone.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


def _rnn(cfg: ModelConfig) -> nn.RNNBase:
    return CELLS[cfg.cell](cfg.emb, cfg.hidden, cfg.layers, batch_first=True,
                           dropout=cfg.dropout if cfg.layers > 1 else 0.0)


class Encoder(nn.Module):
    def __init__(self, vocab: int, cfg: ModelConfig):
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.emb, padding_idx=PAD)
        self.drop = nn.Dropout(cfg.dropout)
        self.rnn = _rnn(cfg)

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor) -> State:
        """src: (batch, src_len), already reversed and padded; src_lens: (batch,) on CPU, all > 0.
        Returns the final state after each row's last real token (packing skips the padding)."""
        x = self.drop(self.embed(src))  # (batch, src_len, emb)
        if bool((src_lens == src.size(1)).all()):
            # No padding (training batches mostly share a source length): the unpacked call runs
            # oneDNN's fused RNN kernel, markedly faster on CPU than the packed path.
            _, state = self.rnn(x)
            return state
        packed = pack_padded_sequence(x, src_lens.cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        return state


class Decoder(nn.Module):
    def __init__(self, vocab: int, cfg: ModelConfig):
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.emb, padding_idx=PAD)
        self.drop = nn.Dropout(cfg.dropout)
        self.rnn = _rnn(cfg)

    def forward(self, tgt_in: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Teacher forcing: tgt_in (batch, tgt_len) -> hidden states (batch, tgt_len, hidden)."""
        out, state = self.rnn(self.drop(self.embed(tgt_in)), state)
        return self.drop(out), state

    def decode_step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step for search: tokens (batch,) -> hidden (batch, hidden), the next state."""
        out, state = self.forward(tokens[:, None], state)
        return out[:, 0], state


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

    def encode(self, src: torch.Tensor, src_lens: torch.Tensor) -> State:
        return self.encoder(src, src_lens)

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """(batch, src_len), (batch,), (batch, tgt_len) -> decoder states (batch, tgt_len, hidden)."""
        hidden, _ = self.decoder(tgt_in, self.encode(src, src_lens))
        return hidden

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Search's step function: previous tokens (batch,) -> log-probs (batch, vocab), next state."""
        hidden, state = self.decoder.decode_step(tokens, state)
        return self.output.log_probs(hidden), state


class LSTMStep:
    """The decoder's step for search, as a few matrix products on weights arranged once per decode.

    nn.LSTM pays a per-call set-up that dominates a one-token step; here the first layer's input
    product is looked up instead of computed (a table of every target word's embedding times W_ih,
    biases folded in: (vocab, 4 * hidden)), and each upper layer multiplies [input; h] by its two
    weight matrices concatenated. Same function as Decoder.decode_step in eval mode (no dropout).
    """

    def __init__(self, model: Seq2Seq):
        rnn = model.decoder.rnn
        self.layers, self.output = rnn.num_layers, model.output
        with torch.no_grad():
            w = [getattr(rnn, f"weight_ih_l{k}") for k in range(self.layers)]
            u = [getattr(rnn, f"weight_hh_l{k}") for k in range(self.layers)]
            b = [getattr(rnn, f"bias_ih_l{k}") + getattr(rnn, f"bias_hh_l{k}") for k in range(self.layers)]
            self.table = torch.addmm(b[0], model.decoder.embed.weight, w[0].t())       # (vocab, 4h)
            self.u0 = u[0].t().contiguous()                                           # (h, 4h)
            self.wu = [torch.cat([w[k], u[k]], 1).t().contiguous() for k in range(1, self.layers)]  # (2h, 4h)
            self.b = b

    @staticmethod
    def _cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        i, f, g, o = gates.chunk(4, 1)  # nn.LSTM's gate order
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def __call__(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """tokens (rows,), state ((layers, rows, h), (layers, rows, h)) -> log-probs (rows, vocab), state."""
        h0, c0 = state
        x, c = self._cell(torch.addmm(self.table[tokens], h0[0], self.u0), c0[0])   # (rows, h) each
        hs, cs = [x], [c]
        for k in range(1, self.layers):
            x, c = self._cell(torch.addmm(self.b[k], torch.cat([x, h0[k]], 1), self.wu[k - 1]), c0[k])
            hs.append(x)
            cs.append(c)
        return self.output.log_probs(x), (torch.stack(hs), torch.stack(cs))

    @staticmethod
    def applies(model: Seq2Seq) -> bool:
        return type(model.decoder.rnn) is nn.LSTM and model.decoder.rnn.bias and not model.training


def reorder_state(state: State, index: torch.Tensor) -> State:
    """Select rows of a state (batch is dim 1): beam search's way of following its survivors."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


def quantize_int8(model: Seq2Seq) -> Seq2Seq:
    """A copy for CPU decoding with int8 weights (dynamic quantization: activations are quantized on
    the fly per batch). The LSTM/GRU layers and the output layer, which hold nearly all the
    multiply-adds, run on int8 kernels; embeddings stay in float."""
    model = copy.deepcopy(model).eval()
    model.output.inference = model.output.as_linear()
    with warnings.catch_warnings():  # torch announces a successor library (torchao); this API still works
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.ao.quantization.quantize_dynamic(model, {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8)

