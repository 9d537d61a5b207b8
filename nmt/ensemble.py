"""The models of a translator as one search step: their log-probabilities averaged at every step.

Search sees one state, an EnsembleState: each model's own decoder state and, with a shortlist, the
batch's ShortlistMask (each sentence's own list), all following the beam together through `reorder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from nmt.model import reorder_state
from nmt.shortlist import ShortlistMask


@dataclass
class EnsembleState:
    members: list                      # each model's decoder state, in the ensemble's order
    mask: ShortlistMask | None = None  # with a shortlist: what each sentence may produce

    def reorder(self, index: torch.Tensor) -> EnsembleState:
        """The rows `index` of every member's state (and of the mask): search following its survivors."""
        return EnsembleState([reorder_state(s, index) for s in self.members],
                             None if self.mask is None else self.mask.reorder(index))


@dataclass
class Ensemble:
    steps: list  # one fast/step.py Step per model
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def start(self, src: torch.Tensor, src_lens: torch.Tensor, mask: ShortlistMask | None = None
              ) -> EnsembleState:
        """Every model's first state for a padded batch (src on self.device, src_lens on the CPU)."""
        return EnsembleState([step.encode(src, src_lens) for step in self.steps], mask)

    def scorer(self, vocab: torch.Tensor | None):
        """Search's step function over the ensemble, scoring the target ids `vocab` (n,), sorted and starting
        with the special ids (None: all), whose positions tokens (rows,) are: tokens, state -> (rows, n)
        mean log-probabilities, the next state."""
        rows = [step.output.rows(vocab) for step in self.steps]
        table = None if vocab is None else vocab.to(self.device)

        def step(tokens: torch.Tensor, state: EnsembleState) -> tuple[torch.Tensor, EnsembleState]:
            ids = tokens if table is None else table[tokens]
            outs = [f(ids, s, r, state.mask) for f, s, r in zip(self.steps, state.members, rows, strict=True)]
            log_probs = [lp for lp, _ in outs]
            mean = log_probs[0] if len(outs) == 1 else torch.stack(log_probs).mean(0)  # (rows, n)
            return mean, EnsembleState([s for _, s in outs], state.mask)
        return step

    @staticmethod
    def reorder(state: EnsembleState, index: torch.Tensor) -> EnsembleState:
        return state.reorder(index)

    @staticmethod
    def attention(state: EnsembleState) -> torch.Tensor:
        """(rows, src_len): how the first member that attends attended at the last step (search records it
        for alignments)."""
        return next(s.weights for s in state.members if getattr(s, "weights", None) is not None)
