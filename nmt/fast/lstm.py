"""LSTM arithmetic for decoding: an nn.LSTM layer's weights arranged once for a fused cell, the cell itself,
and the encoder that runs an LSTM on int8 products (quantize.py swaps it in for the model's encoder).

Both the fast decoder step (step.LSTMStep) and the int8 encoder (Int8Encoder) call `cell` on gates in
`gate_weights`'s order, so one function holds the trick that makes them fast (one sigmoid for all four
gates) and both agree with nn.LSTM (tests/test_model.py, tests/test_int8.py).
"""

from __future__ import annotations

import torch
from torch import nn

from nmt.fast.int8 import Int8Linear
from nmt.model import Encoder, State, join_directions


def gate_weights(lstm: nn.LSTM, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Layer `name` ("l0", "l1_reverse", ...) of an nn.LSTM, arranged for cell: W_ih, W_hh and the two
    biases summed, gate rows from nn.LSTM's (i, f, g, o) to (i, f, o, g), the g rows doubled (exact: a
    power of two)."""
    n = lstm.hidden_size
    order = torch.cat([torch.arange(2 * n), torch.arange(3 * n, 4 * n), torch.arange(2 * n, 3 * n)])
    scale = torch.ones(4 * n, 1)
    scale[3 * n :] = 2
    w, u = (getattr(lstm, f"weight_{kind}_{name}")[order] * scale for kind in ("ih", "hh"))
    b = (getattr(lstm, f"bias_ih_{name}") + getattr(lstm, f"bias_hh_{name}"))[order] * scale[:, 0]
    return w, u, b


def cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An LSTM cell on fresh gates (rows, 4h) in gate_weights's order, i, f, o, 2g; c (rows, h) -> h, c, in
    fp32 whatever the products ran in. One sigmoid covers all four gates, as tanh(z) = 2 sigmoid(2z) - 1
    (within 2e-7 of it): torch's CPU tanh runs at about a fifth of its sigmoid's speed (218 against 39 us
    on 320 x 512)."""
    n = c.size(1)
    gates = torch.sigmoid_(gates.float())
    i, f, o = gates[:, : 3 * n].chunk(3, 1)
    c = torch.addcmul(f * c, i, gates[:, 3 * n :] * 2 - 1)
    return o * (torch.sigmoid(c + c) * 2 - 1), c


class Int8LSTM:
    """An encoder's nn.LSTM (batch_first, any layers, one or two directions) on Int8Linear products, for
    decoding: run(x, lens) over a padded batch. Each row's outputs and final state are those it would
    have alone: its products are quantized per row, and a row's state stops at its own length."""

    def __init__(self, lstm: nn.LSTM):
        self.layers, self.hidden = lstm.num_layers, lstm.hidden_size
        self.directions = 2 if lstm.bidirectional else 1
        # per (layer, direction) in nn.LSTM's order: the input product (both biases in it), the recurrent one
        self.cells = []
        with torch.no_grad():
            for k in range(self.layers):
                for suffix in ["", "_reverse"][: self.directions]:
                    w, u, b = gate_weights(lstm, f"l{k}{suffix}")
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
            h_next, c_next = cell(inputs[:, t] + u(h), c)
            live = alive[:, t, None]
            h, c = torch.where(live, h_next, h), torch.where(live, c_next, c)
            out.append(h)
        return torch.stack(out, 1), h, c




class Int8Encoder(nn.Module):
    """An LSTM model's Encoder for int8 decoding, called like it: (src, src_lens, outputs) -> (outputs or
    None, final state). Embeddings stay in float; the LSTM runs on Int8Linear products over the padded
    batch at once, each row's result the one it would have alone."""

    def __init__(self, encoder: Encoder):
        super().__init__()
        self.embed, self.drop, self.bidirectional = encoder.embed, encoder.drop, encoder.bidirectional
        self.rnn = Int8LSTM(encoder.rnn)

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor, outputs: bool = False
                ) -> tuple[torch.Tensor | None, State]:
        x = self.drop(self.embed(src))                                     # (batch, src_len, emb)
        out, state = self.rnn.run(x, src_lens)
        return (out if outputs else None), join_directions(state) if self.bidirectional else state
