"""The parts of a sentence that must come out exactly as they went in: numbers (decimals, times such as
15:30 and dates in digits such as 24.05.2019 included), URLs and e-mail addresses.

URLs and e-mail addresses are found by urlextract: it knows every top-level domain from the list it ships
(nothing is downloaded), so "example.org" is found and "Mann.Eine" is not. A URL's trailing sentence
punctuation is not part of it. Numbers are digits, possibly joined to more digits by . , : / or -,
outside any URL; a telephone number written internationally ("+49 170 1234567") is one. Names are not
found: they are the user's to list in a glossary (glossary.py). Worked example:

    spans("Am 24. Mai um 15:30 besuchte sie https://example.org/?p=2 mit 3,5 Hunden.")
    -> ["24", "15:30", "https://example.org/?p=2", "3,5"]
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

# a number: digits, joined to more digits by . , : / or -; or an international telephone number, "+" and
# groups of digits separated by single spaces or hyphens ("+49 170 1234567": one span, not three)
NUMBER = re.compile(r"\+\d{1,3}(?:[ -]\d{1,8}){1,5}(?!\d)|\d+(?:[.,:/-]\d+)*")
TRAILING = ".,;:!?)]}'\""  # punctuation that ends a sentence or a bracket, not a URL
# what any URL or e-mail address holds: a dot right before a letter or digit, or an @. A sentence without
# one (most sentences) is not handed to urlextract, which costs about 0.2 ms a sentence
MAYBE_ADDRESS = re.compile(r"\.\w|@")
EXCLAMATION = re.compile(r"!(?=\s|$)")


@functools.cache
def _extractor():
    from urlextract import URLExtract  # imported on first use
    return URLExtract(extract_email=True)


class Span(NamedTuple):
    start: int
    end: int
    kind: str  # "n" number, "u" URL, "e" e-mail address (text/reserved.py's kinds)
    text: str


def located(text: str) -> list[Span]:
    """The spans of `text` to keep verbatim, where they are and of what kind, in order."""
    found: list[Span] = []
    if MAYBE_ADDRESS.search(text):
        # urlextract takes "org!" for an unknown domain: a "!" that ends a word is read as a space (the same
        # length, so the places stay right)
        for url, (start, _) in _extractor().find_urls(EXCLAMATION.sub(" ", text), get_indices=True,
                                                      only_unique=False):
            url = url.rstrip(TRAILING)
            email = "@" in url and "://" not in url and not url.lower().startswith("mailto:")
            found.append(Span(start, start + len(url), "e" if email else "u", url))
    taken = list(found)
    for m in NUMBER.finditer(text):
        if not any(s.start < m.end() and m.start() < s.end for s in taken):
            found.append(Span(m.start(), m.end(), "n", m.group()))
    return sorted(found)


def spans(text: str) -> list[str]:
    """The spans of `text` to keep verbatim, in order (see the module's docstring)."""
    return [span.text for span in located(text)]
