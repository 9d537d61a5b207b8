"""How a translation attended to its source: the attention weights of the model that attends, as its search
recorded them while decoding (Hypothesis.attention, the torch engine), or else teacher-forced on the
hypothesis it found (each engine's attention_weights; pipeline.py), always so for a sentence the model
read otherwise than it was written (placeholders, term annotations: sources.py), whose placeholder
pieces are shown as the spans they stand for. A line translated sentence by
sentence (text/segment.py) gets one record joined from its sentences': their source pieces side by side,
their target pieces one after the other, each sentence's weights over its own source (zero elsewhere) and
one "</s>" at the end.

Worked example: sentences "a b" -> "x" and "c" -> "y z" make source [a, b, c], target [x, y, z, </s>],
weights [[wa, wb, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1]] (the first sentence's own "</s>" row dropped;
tests/test_alignment.py checks it).
"""

from __future__ import annotations

import numpy as np

from nmt.search.scoring import Hypothesis


def _empty() -> dict:
    """The record of an empty line: nothing translated, nothing attended to."""
    return {"source": [], "target": [], "weights": []}


def alignments(engine, sources: list[str], hyps: list) -> list[dict]:
    """For each source line and its best hypothesis (a pipeline.LineHypothesis when the line was
    translated in several sentences): {"source": source pieces, "target": target pieces and "</s>",
    "weights": one row per target piece, one column per source piece (in reading order), each row summing
    to 1}."""
    pairs = [list(getattr(h, "parts", None) or [(s, h)]) for s, h in zip(sources, hyps, strict=True)]
    flat = [pair for parts in pairs for pair in parts]
    records = iter(_sentence_alignments(engine, [s for s, _ in flat], [h for _, h in flat]))
    return [_joined([next(records) for _ in parts]) for parts in pairs]


def by_sentence(engine, sources: list[str], hyps: list) -> list[list[tuple[str, Hypothesis, dict]]]:
    """For each source line and its best hypothesis, each of its sentences: (source sentence, its
    hypothesis, its alignment record)."""
    pairs = [list(getattr(h, "parts", None) or [(s.strip(), h)]) for s, h in zip(sources, hyps, strict=True)]
    flat = [pair for parts in pairs for pair in parts if pair[0]]
    records = iter(_sentence_alignments(engine, [s for s, _ in flat], [h for _, h in flat]))
    return [[(s, h, next(records)) for s, h in parts if s] for parts in pairs]


def _sentence_alignments(engine, sentences: list[str], hyps: list) -> list[dict]:
    """A record per sentence and its hypothesis, from the engine's teacher-forced attention weights."""
    src_ids = [ids[: engine.max_src_len] for ids in engine.src_tok.encode(sentences)]
    records = [_empty() for _ in sentences]
    found = {i: reading_order(hyps[i].attention, len(ids), engine.reverse)
             for i, ids in enumerate(src_ids) if ids and _recorded(hyps[i], ids)}
    todo = [i for i, ids in enumerate(src_ids) if ids and i not in found]  # a second, teacher-forced pass
    weights = engine.attention_weights([src_ids[i] for i in todo], [hyps[i].tokens for i in todo])
    found.update(zip(todo, weights, strict=True))
    for i, rows in sorted(found.items()):
        spans = getattr(hyps[i], "spans", None) or {}  # placeholder pieces written as their spans
        records[i] = {"source": engine.src_tok.pieces(src_ids[i]),
                      "target": [*(spans.get(p, p) for p in engine.tgt_tok.pieces(hyps[i].tokens)), "</s>"],
                      "weights": np.round(np.asarray(rows, dtype=np.float64), 4).tolist()}
    return records


def _recorded(hyp, ids: list[int]) -> bool:
    """Did the search record how `hyp` attended (Hypothesis.attention: a row per token and EOS, over the
    padded source)?"""
    rows = getattr(hyp, "attention", None)
    return rows is not None and rows.shape[0] == len(hyp.tokens) + 1 and rows.shape[1] >= len(ids)


def reading_order(rows, length: int, reverse: bool):
    """Recorded rows (tokens + 1, padded source, in the order the encoder read it) over the source's `length`
    pieces in reading order."""
    rows = np.asarray(rows)[:, :length]
    return rows[:, ::-1] if reverse else rows


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
