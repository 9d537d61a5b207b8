"""The sequence-to-sequence model of Sutskever et al. (2014): an LSTM encoder reads the (reversed)
source into its final state, which starts an LSTM decoder that predicts the target one token at a time.

Variants, all from ModelConfig: a bidirectional encoder (each direction half as wide, their final
states side by side start the decoder), and attention over the encoder's outputs (attention.py), with
or without input feeding (the previous attentional state joins the decoder's next input).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nmt.attention import Attention, AttentionState
from nmt.config import ModelConfig
from nmt.dropout import Dropout
from nmt.softmax import OutputLayer
from nmt.text.tokenizer import PAD

# LSTM state is (h, c), each (layers, batch, hidden); GRU state is h alone. With attention the decoder's
# state is an AttentionState holding one of these.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


def _rnn(cfg: ModelConfig, inputs: int, hidden: int, bidirectional: bool = False) -> nn.RNNBase:
    return CELLS[cfg.cell](inputs, hidden, cfg.layers, batch_first=True, bidirectional=bidirectional,
                           dropout=cfg.dropout if cfg.layers > 1 else 0.0)


def join_directions(state: State) -> State:
    """(layers * 2, batch, hidden / 2) per direction -> (layers, batch, hidden): both directions' final
    states side by side, the forward one first."""
    if isinstance(state, tuple):
        return tuple(join_directions(s) for s in state)
    layers2, batch, half = state.shape
    return state.view(layers2 // 2, 2, batch, half).transpose(1, 2).reshape(layers2 // 2, batch, 2 * half)


class Encoder(nn.Module):
    def __init__(self, vocab: int, cfg: ModelConfig):
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.emb, padding_idx=PAD)
        self.drop = Dropout(cfg.dropout)
        self.bidirectional = cfg.bidirectional
        self.rnn = _rnn(cfg, cfg.emb, cfg.hidden // 2 if cfg.bidirectional else cfg.hidden, cfg.bidirectional)

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor, outputs: bool = False
                ) -> tuple[torch.Tensor | None, State]:
        """src: (batch, src_len), already reversed if asked and padded; src_lens: (batch,) on CPU, all > 0.
        Returns the outputs (batch, src_len, hidden), zero at padding, when `outputs` (else None), and
        the final state after each row's last real token (packing skips the padding)."""
        x = self.drop(self.embed(src))  # (batch, src_len, emb)
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
            state = join_directions(state)
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
            state = join_directions(state)
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
        self.drop = Dropout(cfg.dropout)
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
        return att, weights, state.advance(rnn, att[:, 0], weights[:, 0])

    def decode_step(self, tokens: torch.Tensor, state: State | AttentionState
                    ) -> tuple[torch.Tensor, State | AttentionState]:
        """One step for search: tokens (batch,) -> hidden (batch, hidden), the next state."""
        emb = self.drop(self.embed(tokens[:, None]))                          # (batch, 1, emb)
        if self.attention is None:
            out, state = self.rnn(emb, state)
            return self.drop(out[:, 0]), state
        att, _, state = self._attend_step(emb, state)
        return self.drop(att[:, 0]), state

    def attend_step(self, tokens: torch.Tensor, state: AttentionState
                    ) -> tuple[torch.Tensor, torch.Tensor, AttentionState]:
        """decode_step of a model with attention, with its weights: tokens (batch,) -> hidden (batch,
        hidden), weights (batch, src_len) over the source as the encoder read it, the next state."""
        att, weights, state = self._attend_step(self.drop(self.embed(tokens[:, None])), state)
        return self.drop(att[:, 0]), weights[:, 0], state


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

    def encode(self, src: torch.Tensor, src_lens: torch.Tensor) -> State | AttentionState:
        """The decoder's first state: the encoder's final state, and with attention what it attends to."""
        return first_state(self.encoder, self.decoder.attention, src, src_lens)

    def forward(self, src: torch.Tensor, src_lens: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """(batch, src_len), (batch,), (batch, tgt_len) -> decoder states (batch, tgt_len, hidden)."""
        return self.decoder(tgt_in, self.encode(src, src_lens))

    def step(self, tokens: torch.Tensor, state: State | AttentionState
             ) -> tuple[torch.Tensor, State | AttentionState]:
        """Search's step function: previous tokens (batch,) -> log-probs (batch, vocab), next state.
        (Decoding runs the fast floor's steps, fast/step.py, which give the same.)"""
        hidden, state = self.decoder.decode_step(tokens, state)
        return self.output.log_probs(hidden), state


def first_state(encoder: nn.Module, attention, src: torch.Tensor, src_lens: torch.Tensor
                ) -> State | AttentionState:
    """The decoder's first state from `encoder` (an Encoder, or a module called like it: the fast floor's
    int8 encoder) and `attention` (None, the model's Attention, or the fast floor's packed copy)."""
    memory, state = encoder(src, src_lens, outputs=attention is not None)
    if attention is None:
        return state
    return AttentionState(state, memory, attention.keys(memory), src != PAD)


def reorder_state(state: State | AttentionState, index: torch.Tensor) -> State | AttentionState:
    """Select rows of a state (batch is dim 1): beam search's way of following its survivors."""
    if isinstance(state, AttentionState):
        return state.reorder(index)
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)
