"""What training minimises and how: the loss over a batch, the optimizer and the learning-rate schedule."""

from __future__ import annotations

import torch
from torch import nn

from nmt.config import TrainConfig
from nmt.data import Batch
from nmt.model import Seq2Seq
from nmt.softmax import Sampler
from nmt.text.tokenizer import PAD


class Objective(nn.Module):
    """The training loss as one module, so DistributedDataParallel sees every parameter used in forward.

    Full softmax cross-entropy, or the sampled softmax: `num_sampled` negatives drawn from `sampler`
    once per batch and shared by all its positions.
    """

    def __init__(self, model: Seq2Seq, *, sampler: Sampler | None = None, num_sampled: int = 0,
                 label_smoothing: float = 0.0):
        super().__init__()
        if sampler is not None and num_sampled < 1:
            raise ValueError("a sampled softmax needs num_sampled >= 1")
        self.model, self.sampler, self.num_sampled = model, sampler, num_sampled
        self.label_smoothing = label_smoothing

    @classmethod
    def from_config(cls, model: Seq2Seq, train: TrainConfig, counts: torch.Tensor) -> Objective:
        """The loss `train` asks for; sampling as many negatives as the vocabulary has is the full softmax."""
        if train.loss == "sampled" and train.num_sampled < len(counts):
            return cls(model, sampler=Sampler.build(train.sampler, counts, train.sampler_power),
                       num_sampled=train.num_sampled, label_smoothing=train.label_smoothing)
        return cls(model, label_smoothing=train.label_smoothing)

    def forward(self, batch: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        """Summed loss over the batch's real target tokens (divide by the token count for the mean).
        `generator` draws the negatives, apart from the global generator that draws dropout masks."""
        hidden = self.model(batch.src, batch.src_lens, batch.tgt_in)  # (batch, tgt_len, hidden)
        mask = batch.tgt_out != PAD
        h, y = hidden[mask], batch.tgt_out[mask]                       # (n, hidden), (n,)
        if self.sampler is None:
            return self.model.output.full_loss(h, y, self.label_smoothing)
        num = self.num_sampled
        negatives = self.sampler.sample(num, generator).to(y.device)  # (S,)
        return self.model.output.sampled_loss(h, y, negatives=negatives,
                                              log_q_neg=self.sampler.log_expected(negatives, num),
                                              log_q_true=self.sampler.log_expected(y, num),
                                              label_smoothing=self.label_smoothing)


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam, fused: one kernel updates every tensor. The default loops over small ops per tensor, and
    with a large vocabulary the dense update of the output and embedding matrices becomes a good
    share of each step (64k words, sampled softmax: 2,645 -> 3,776 target tokens/s)."""
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True)


def make_scheduler(optimizer: torch.optim.Optimizer, train: TrainConfig):
    """plateau: multiply the lr by lr_decay once the validation metric has stalled lr_patience times."""
    if train.schedule != "plateau":
        return None
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max" if train.metric == "bleu" else "min", factor=train.lr_decay,
        patience=train.lr_patience, min_lr=train.min_lr)
