"""Inline term annotations (Dinu et al. 2019, "append", with reserved markers in place of source factors):
a source word is followed by the target term it should be translated with, between the markers of
reserved.py, and a model trained on such sentences (augment.py) learns to write the term. Markers need no
change to the network, the exported graphs or the browser page, where source factors would add an input
to each. Worked example (tests/test_annotate.py):

    annotate("Zwei Hunde laufen.", [(5, 10, "puppies")]) -> "Zwei Hunde ⦅t⦆ puppies ⦅/t⦆ laufen."
    plain("Zwei Hunde ⦅t⦆ puppies ⦅/t⦆ laufen.")       -> "Zwei Hunde laufen."
"""

from __future__ import annotations

import re

from nmt.text.reserved import TERM_CLOSE, TERM_OPEN

ANNOTATION = re.compile(rf" ?{re.escape(TERM_OPEN)}.*?{re.escape(TERM_CLOSE)}")


def annotate(sentence: str, matches: list[tuple[int, int, str]]) -> str:
    """`sentence` with each (start, end, term) match followed by its term between the markers; matches in
    order, not overlapping (Glossary.matches)."""
    out, at = [], 0
    for _, end, term in matches:
        out += [sentence[at:end], f" {TERM_OPEN} {term} {TERM_CLOSE}"]
        at = end
    return "".join(out) + sentence[at:]


def plain(sentence: str) -> str:
    """The sentence without its annotations."""
    return ANNOTATION.sub("", sentence)
