"""Kept spans as placeholders a model has learned to carry: each number, URL and e-mail address of a
sentence (spans.py) becomes the reserved piece of its kind and place (reserved.py), the model translates
around it, and the span is written back exactly. A model learns this from training pairs whose spans were
replaced the same way on both sides (augment.py).

The same span twice is one placeholder twice. A translation must hold each placeholder as often as its
source does, and no other; one that drops, repeats or invents one is not written back (`unmask` gives
None) and the sentence is translated again with its spans as constraints (pipeline.py counts and logs it).
Spans beyond reserved.SLOTS of a kind stay as text. Forms that differ between languages are written as
the source wrote them: German "1.000,5" stays "1.000,5", and in "12. Mai" only the 12 is a span, so the
model translates "Mai" and places the 12. Worked example (tests/test_placeholders.py replays it):

    masked = mask("Um 8:15 Uhr kommen 2 Züge, siehe https://example.org.")
    masked.text  -> "Um ⦅n1⦆ Uhr kommen ⦅n2⦆ Züge, siehe ⦅u1⦆."
    unmask("⦅n2⦆ trains arrive at ⦅n1⦆, see ⦅u1⦆.", masked)
                 -> "2 trains arrive at 8:15, see https://example.org."
    unmask("Two trains arrive at ⦅n1⦆.", masked)   -> None (⦅n2⦆ and ⦅u1⦆ dropped)
    unmask("⦅n2⦆ trains at⦅n1⦆, see ⦅u1⦆.", masked) -> "2 trains at 8:15, see https://example.org."
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from nmt.text.reserved import SLOTS, placeholder
from nmt.text.spans import Span, located, spans

PLACEHOLDER = re.compile(r"⦅[nue][1-9]⦆")
# "It's  ⦅n1⦆": a lone word-start piece, then the placeholder's own space: one space is written
SPACES_BEFORE = re.compile(r" {2,}(?=⦅[nue][1-9]⦆)")


@dataclass
class Masked:
    """A sentence with its spans as placeholders."""
    text: str
    spans: dict[str, str] = field(default_factory=dict)  # placeholder -> the span it stands for
    count: Counter = field(default_factory=Counter)      # placeholder -> how often the sentence holds it
    left: list[str] = field(default_factory=list)        # spans kept as text: beyond the slots of their kind


def numbered(spans: list[Span]) -> tuple[dict[str, str], list[str | None]]:
    """(placeholder -> span text, and each span's placeholder or None beyond the slots): the k-th distinct
    span of a kind is placeholder k of that kind; the same text again takes the same placeholder."""
    names: dict[tuple[str, str], str] = {}
    per_kind: Counter = Counter()
    out: list[str | None] = []
    for span in spans:
        key = (span.kind, span.text)
        if key not in names and per_kind[span.kind] < SLOTS:
            per_kind[span.kind] += 1
            names[key] = placeholder(span.kind, per_kind[span.kind])
        out.append(names.get(key))
    return {name: text for (_, text), name in names.items()}, out


def replace(text: str, spans: list[Span], names: list[str | None]) -> str:
    """`text` with each span that has a name replaced by it."""
    out, at = [], 0
    for span, name in zip(spans, names, strict=True):
        if name is not None:
            out += [text[at:span.start], name]
            at = span.end
    return "".join(out) + text[at:]


def mask(sentence: str) -> Masked:
    """The sentence with its spans as placeholders (see the module's docstring). A sentence that already
    holds a placeholder's text is left as it is, every span left as text: its own text could not be told
    from a placeholder."""
    if PLACEHOLDER.search(sentence):
        return Masked(sentence, left=spans(sentence))
    found = located(sentence)
    table, names = numbered(found)
    return Masked(replace(sentence, found, names), table, Counter(n for n in names if n),
                  [s.text for s, n in zip(found, names, strict=True) if n is None])


def unmask(translation: str, masked: Masked) -> str | None:
    """The translation with each placeholder written back as its span; None when the translation holds a
    placeholder more or less often than the source, or one the source lacks. A span right after or before
    a letter or digit ("at⦅n1⦆": a constrained search may write one without the word-start mark) gets a
    space there; after "$" or before "%" it stays joined."""
    if Counter(PLACEHOLDER.findall(translation)) != masked.count:
        return None
    return fill(SPACES_BEFORE.sub(" ", translation), masked.spans)


def fill(translation: str, spans: dict[str, str]) -> str:
    """The translation with each placeholder of `spans` written as its span (spaced as `unmask` says)."""
    def written(m: re.Match) -> str:
        before, after = m.string[m.start() - 1:m.start()], m.string[m.end():m.end() + 1]
        if m.group() not in spans:
            return m.group()
        return (" " if before.isalnum() or before == "⦆" else "") + spans[m.group()] \
            + (" " if after.isalnum() else "")
    return PLACEHOLDER.sub(written, translation)
