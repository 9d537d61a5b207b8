"""Tensors kept once per sentence while search works on several rows per sentence.

A sentence's beam hypotheses share what belongs to its source: the encoder's outputs that attention
reads (attention.AttentionState) and the shortlist's mask of the pieces it may produce
(fast/shortlist.ShortlistMask). Both are kept once per sentence in a sentence-major layout, `per`
search rows for each sentence: row r reads sentence r // per. When search keeps some rows
(`index`), `regroup` says what becomes of that layout, and `reorder_shared` applies it.

Worked example: 2 sentences, per 3 (rows 0-2 read sentence 0, rows 3-5 sentence 1). Beam search
keeps rows [3, 5, 4]: all of sentence 1, three rows again, so the shared tensors keep only sentence
1 -> (tensor([1]), 3). Keeping [2, 0] (not equally many rows per sentence in order) falls back to
one copy per row -> (tensor([0, 0]), 1).
"""

from __future__ import annotations

import torch


def regroup(index: torch.Tensor, per: int, sentences: int) -> tuple[torch.Tensor | None, int]:
    """Where per-sentence tensors go when search keeps rows `index` of a layout with `per` rows for each
    of `sentences` sentences: the sentences to keep, in their new order (None: all, unchanged), and the
    rows per sentence after. See the module's example."""
    if index.numel() == 0:
        return index, 1
    owner = index // per                                                    # (rows',) each row's sentence
    kept, counts = torch.unique_consecutive(owner, return_counts=True)
    if not bool((counts == counts[0]).all()):
        return owner, 1
    if len(kept) == sentences and bool((kept[1:] > kept[:-1]).all()):  # then kept is 0..sentences-1
        return None, int(counts[0])
    return kept, int(counts[0])


def reorder_shared(shared: tuple[torch.Tensor, ...], index: torch.Tensor, per: int
                   ) -> tuple[tuple[torch.Tensor, ...], int]:
    """The per-sentence tensors `shared` (each (sentences, ...)) after search keeps rows `index`, and
    the rows per sentence after: regroup applied to every one of them."""
    kept, per = regroup(index, per, shared[0].size(0))
    if kept is not None:
        shared = tuple(t.index_select(0, kept) for t in shared)
    return shared, per
