"""The output layer: full log-softmax for validation and decoding, sampled softmax for training.
(Decoding arranges its rows for the CPU's kernels on the fast floor: fast/output.py.)

The sampled loss follows Jean et al. (2015) in the formulation of TensorFlow's sampled_softmax_loss:
for each target position, the true class competes with S negatives shared by the whole batch, each
logit corrected by -log(expected count) = -log(S * Q(class)) so the estimate is not biased towards
what the proposal Q favours; negatives that equal the position's target ("accidental hits") are masked.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from nmt.text.tokenizer import BOS, PAD


class OutputLayer(nn.Module):
    def __init__(self, hidden: int, vocab: int, tied_embedding: nn.Embedding | None = None):
        super().__init__()
        if tied_embedding is not None:
            emb = tied_embedding.embedding_dim
            # A tied matrix lives in embedding space: project the decoder state there when sizes differ.
            self.proj = nn.Linear(hidden, emb) if emb != hidden else nn.Identity()
            self.weight = tied_embedding.weight  # (vocab, emb), shared
        else:
            self.proj = nn.Identity()
            self.weight = nn.Parameter(torch.empty(vocab, hidden).uniform_(-0.1, 0.1))  # (vocab, hidden)
        self.bias = nn.Parameter(torch.zeros(vocab))
        # PAD and BOS are never predicted: leaving them out of the softmax keeps decoding from
        # emitting them and makes the full loss the exact limit of the sampled one.
        # Added to the bias rather than masked out of the logits: one (vocab,) add, not a pass over
        # every (rows, vocab) logit and its gradient.
        never = torch.zeros(vocab)
        never[[PAD, BOS]] = float("-inf")
        self.register_buffer("never", never, persistent=False)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """(..., hidden) -> (..., vocab) logits, PAD and BOS at -inf; bf16 under autocast."""
        return F.linear(self.proj(h), self.weight, self.bias + self.never)

    def log_probs(self, h: torch.Tensor) -> torch.Tensor:
        """(..., hidden) -> (..., vocab) float32 log-probabilities (PAD and BOS at -inf)."""
        # Under autocast the product runs in bf16 (the costliest matmul of the model); the softmax in fp32.
        return self.logits(h).float().log_softmax(-1)

    def full_loss(self, h: torch.Tensor, y: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
        """Summed cross-entropy of targets y (n,) given states h (n, hidden)."""
        if label_smoothing == 0:  # the fused kernel; smoothing must skip the -inf classes, which it cannot
            return F.cross_entropy(self.logits(h).float(), y, reduction="sum")
        return _smoothed_nll(self.log_probs(h), y, label_smoothing)

    def sampled_loss(self, h: torch.Tensor, y: torch.Tensor, *, negatives: torch.Tensor,
                     log_q_neg: torch.Tensor, log_q_true: torch.Tensor, label_smoothing: float = 0.0
                     ) -> torch.Tensor:
        """Summed sampled-softmax loss.

        h: (n, hidden) decoder states; y: (n,) targets; negatives: (S,) sampled ids shared by all n;
        log_q_neg: (S,) and log_q_true: (n,) log expected counts, log(S * Q(id)).
        Only the rows y and negatives of the output matrix take part, so only they get gradients.
        """
        x = self.proj(h)                                                           # (n, d)
        w_true, b_true = self.weight[y], self.bias[y]                              # (n, d), (n,)
        true_logit = (x.float() * w_true).sum(-1) + b_true - log_q_true            # (n,) fp32
        w_neg, b_neg = self.weight[negatives], self.bias[negatives]                # (S, d), (S,)
        # the one large product, bf16 under autocast; corrections and softmax in fp32
        neg_logits = (x @ w_neg.t()).float() + (b_neg - log_q_neg)                 # (n, S)
        neg_logits = neg_logits.masked_fill(negatives[None, :] == y[:, None], float("-inf"))
        logits = torch.cat([true_logit[:, None], neg_logits], dim=1)               # (n, 1 + S)
        # The true class sits in column 0; smoothing spreads over the candidates scored.
        return _smoothed_nll(logits.log_softmax(-1), torch.zeros_like(y), label_smoothing)


def _smoothed_nll(log_p: torch.Tensor, y: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """Summed -log p(y), mixed with the mean -log p over the classes that are not at -inf."""
    nll = -log_p.gather(1, y[:, None]).squeeze(1)  # (n,)
    if label_smoothing > 0:
        finite = torch.isfinite(log_p)
        smooth = -(log_p.masked_fill(~finite, 0).sum(-1) / finite.sum(-1))
        nll = (1 - label_smoothing) * nll + label_smoothing * smooth
    return nll.sum()


class Sampler:
    """A proposal distribution Q over the target vocabulary; PAD and BOS (never targets) get zero mass."""

    def __init__(self, probs: torch.Tensor):
        probs = probs.double().clone()
        probs[PAD] = 0
        probs[BOS] = 0
        self.probs = (probs / probs.sum()).float()  # (vocab,)
        self.log_probs = self.probs.log()

    @classmethod
    def build(cls, kind: str, counts: torch.Tensor, power: float = 0.75) -> Sampler:
        """counts: (vocab,) target token counts from the training data (EOS included)."""
        counts = counts.double() + 1  # every real piece stays reachable
        if kind == "uniform":
            return cls(torch.ones_like(counts))
        if kind == "unigram":
            return cls(counts ** power)
        if kind == "log_uniform":
            # Zipfian over frequency ranks: sentencepiece ids are not frequency-ordered, so rank them first.
            rank = torch.empty_like(counts)
            rank[counts.argsort(descending=True)] = torch.arange(len(counts), dtype=counts.dtype)
            return cls(torch.log((rank + 2) / (rank + 1)) / math.log(len(counts) + 1))
        raise ValueError(f"unknown sampler {kind!r}")

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(num,) ids drawn with replacement, so the expected count of id i is num * Q(i)."""
        return torch.multinomial(self.probs, num, replacement=True, generator=generator)

    def log_expected(self, ids: torch.Tensor, num: int) -> torch.Tensor:
        return self.log_probs.to(ids.device)[ids] + math.log(num)
