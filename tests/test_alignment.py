"""Joining a line's sentences' alignments into one record, model-free: the docstring's example."""

from nmt.alignment import _joined


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
