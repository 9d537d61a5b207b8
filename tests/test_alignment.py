"""Joining a line's sentences' alignments into one record, model-free: the docstring's example; and the
attention search records while it decodes, against a teacher-forced pass."""

import numpy as np
import pytest

from nmt.alignment import _joined, reading_order
from nmt.config import DecodeConfig
from nmt.translate import Translator


def test_the_docstring_example():
    # "a b" -> "x" and "c" -> "y z": source [a, b, c], target [x, y, z, </s>]; each sentence's weights over
    # its own source, zero elsewhere; the first sentence's own "</s>" row dropped
    first = {"source": ["a", "b"], "target": ["x", "</s>"], "weights": [[0.3, 0.7], [0.5, 0.5]]}
    second = {"source": ["c"], "target": ["y", "z", "</s>"], "weights": [[1.0], [1.0], [1.0]]}
    joined = _joined([first, second])
    assert joined == {"source": ["a", "b", "c"], "target": ["x", "y", "z", "</s>"],
                      "weights": [[0.3, 0.7, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]}
    assert all(abs(sum(row) - 1) < 1e-9 for row in joined["weights"])
    empty = {"source": [], "target": [], "weights": []}
    assert _joined([first]) == first and _joined([empty, second]) == second and _joined([]) == empty


@pytest.mark.parametrize("run", ["attention_run", "reversed_attention_run"])
def test_search_records_the_attention_a_teacher_forced_pass_gives(run, request, toy):
    """The rows the search records while decoding (Hypothesis.attention) are the weights attention_weights
    computes afresh on the hypothesis found, greedy and beam (each of the n best), for a bidirectional and
    a reversed-input model; a sentence's rows do not depend on its batch."""
    translator = Translator.load(request.getfixturevalue(run), device="cpu")

    def rows(h, source):  # as recorded (over the padded source, as the encoder read it) -> reading order
        return reading_order(h.attention, len(source), translator.reverse)

    lines = toy["valid_src"].read_text().splitlines()[:24]
    src_ids = translator.src_tok.encode(lines)
    for cfg in (DecodeConfig(beam=1), DecodeConfig(beam=4, n_best=3)):
        found = translator.search(src_ids, cfg, attention=True)
        for hyps, source in zip(found, src_ids, strict=True):
            fresh = translator.attention_weights([source] * len(hyps), [h.tokens for h in hyps])
            for h, want in zip(hyps, fresh, strict=True):
                assert np.allclose(rows(h, source), want, atol=1e-4), (cfg, h.tokens)
        alone = translator.search(src_ids[3:4], cfg, attention=True)[0][0]
        assert np.allclose(rows(alone, src_ids[3]), rows(found[3][0], src_ids[3]), atol=1e-6)
    phrases = [[translator.tgt_tok.encode(["dog"])[0]] for _ in src_ids]  # the constrained strategy too
    constrained = translator.search(src_ids, DecodeConfig(beam=4), phrases, attention=True)
    for hyps, source in zip(constrained, src_ids, strict=True):
        fresh = translator.attention_weights([source], [hyps[0].tokens])[0]
        assert np.allclose(rows(hyps[0], source), fresh, atol=1e-4)
    assert translator.search(src_ids[:2], DecodeConfig())[0][0].attention is None  # only when asked
