"""How a translation attended to its source: the attention weights of the model that attends, teacher-forced
on the hypothesis it found. A line translated sentence by sentence (segment.py) gets one record joined
from its sentences': their source pieces side by side, their target pieces one after the other, each
sentence's weights over its own source (zero elsewhere) and one "</s>" at the end.

Worked example: sentences "a b" -> "x" and "c" -> "y z" make source [a, b, c], target [x, y, z, </s>],
weights [[wa, wb, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1]] (the first sentence's own "</s>" row dropped;
tests/test_alignment.py checks it).
"""

from __future__ import annotations

import torch

from nmt.data import pad_sources
from nmt.search import Hypothesis
from nmt.tokenizer import BOS


def _empty() -> dict:
    """The record of an empty line: nothing translated, nothing attended to."""
    return {"source": [], "target": [], "weights": []}


@torch.inference_mode()
def alignments(translator, sources: list[str], hyps: list, chunk: int = 64) -> list[dict]:
    """For each source line and its best hypothesis (a translate.LineHypothesis when the line was
    translated in several sentences): {"source": source pieces, "target": target pieces and "</s>",
    "weights": one row per target piece, one column per source piece (in reading order), each row summing
    to 1}."""
    pairs = [list(getattr(h, "parts", None) or [(s, h)]) for s, h in zip(sources, hyps, strict=True)]
    flat = [pair for parts in pairs for pair in parts]
    records = iter(_sentence_alignments(translator, [s for s, _ in flat], [h for _, h in flat], chunk))
    return [_joined([next(records) for _ in parts]) for parts in pairs]


def by_sentence(translator, sources: list[str], hyps: list) -> list[list[tuple[str, Hypothesis, dict]]]:
    """For each source line and its best hypothesis, each of its sentences: (source sentence, its
    hypothesis, its alignment record)."""
    pairs = [list(getattr(h, "parts", None) or [(s.strip(), h)]) for s, h in zip(sources, hyps, strict=True)]
    flat = [pair for parts in pairs for pair in parts if pair[0]]
    records = iter(_sentence_alignments(translator, [s for s, _ in flat], [h for _, h in flat], 64))
    return [[(s, h, next(records)) for s, h in parts if s] for parts in pairs]


def _sentence_alignments(translator, sentences: list[str], hyps: list, chunk: int) -> list[dict]:
    model, t = translator.attending_model(), translator
    src_ids = [ids[: t.max_src_len] for ids in t.src_tok.encode(sentences)]
    records = [_empty() for _ in sentences]
    todo = [i for i, ids in enumerate(src_ids) if ids]
    for start in range(0, len(todo), chunk):
        rows = todo[start : start + chunk]
        src, src_lens = pad_sources([src_ids[i] for i in rows], t.reverse)
        state = model.encode(src.to(t.device), src_lens).float()  # the decoder's modules are fp32
        targets = [[BOS, *hyps[i].tokens] for i in rows]
        tgt_in, _ = pad_sources(targets, reverse=False)                      # (rows, tgt_len + 1)
        weights = model.decoder.attention_weights(tgt_in.to(t.device), state).float().cpu()
        for row, i in enumerate(rows):
            w = weights[row, : len(targets[row]), : len(src_ids[i])]         # (tgt_len + 1, src_len)
            w = w.flip(-1) if t.reverse else w  # the encoder read it backwards
            records[i] = {"source": t.src_tok.pieces(src_ids[i]),
                          "target": [*t.tgt_tok.pieces(hyps[i].tokens), "</s>"],
                          "weights": [[round(x, 4) for x in r] for r in w.tolist()]}
    return records


def _joined(records: list[dict]) -> dict:
    """One record from consecutive sentences' records (see the module's example)."""
    records = [r for r in records if r["source"]]
    if len(records) <= 1:
        return records[0] if records else _empty()
    width = sum(len(r["source"]) for r in records)
    source, target, weights, left = [], [], [], 0
    for k, r in enumerate(records):
        last = k == len(records) - 1
        rows = r["weights"] if last else r["weights"][:-1]  # one "</s>", the last sentence's
        weights += [[0.0] * left + row + [0.0] * (width - left - len(row)) for row in rows]
        source += r["source"]
        target += r["target"] if last else r["target"][:-1]
        left += len(r["source"])
    return {"source": source, "target": target, "weights": weights}
