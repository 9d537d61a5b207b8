"""HTML in, HTML out: are tags kept, does the output parse, and does an inline element land on the words it
marked? `python -m bench html RUN...` on bench/data/html_snippets.jsonl (34 real-shaped snippets in the
Multi30k domain: lists, tables, links, nested inline elements, entities, comments, translate="no", code,
an image, a line break, broken markup).

The placement check is independent of the model's attention: each checked element carries
`data-want="word|other word"`, the English a correct translation puts inside it (one of the
alternatives). In the output, an element is
- placed right when its text holds one of them and at most 3 other words;
- misplaced when the wanted word is in the translation but not (only) inside the element;
- not judged when the translation does not use any of the words (a translation choice, not placement).
Target: 100% of tags (with their attributes, as written) kept, every output parses and is balanced
where the input was, and at least 80% of the judged elements placed right.
"""

from __future__ import annotations

import collections
import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path

from bench.common import report
from nmt.text.markup import VOID
from nmt.translate import Translator

SNIPPETS = Path(__file__).resolve().parent / "data" / "html_snippets.jsonl"
SLACK = 3  # other words an element may hold beside the wanted ones (an article, a preposition...)


class _Reader(HTMLParser):
    """A page's tags as written, whether it is balanced, and the text of each element with data-want."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.balanced = True
        self.text: list[str] = []
        self.wanted: list[tuple[list[str], list[str]]] = []  # (alternatives, the element's text pieces)
        self._stack: list[tuple[str, list[str] | None]] = []
        self.feed(page)
        self.close()
        self.balanced = self.balanced and not self._stack

    def handle_starttag(self, tag, attrs):
        self.tags.append(self.get_starttag_text())
        if tag in VOID:
            return
        want = dict(attrs).get("data-want")
        pieces = None
        if want is not None:
            pieces = []
            self.wanted.append((want.split("|"), pieces))
        self._stack.append((tag, pieces))

    def handle_startendtag(self, tag, attrs):
        self.tags.append(self.get_starttag_text())

    def handle_endtag(self, tag):
        self.tags.append(f"</{tag}>")
        if not self._stack or self._stack[-1][0] != tag:
            self.balanced = False
            names = [name for name, _ in self._stack]
            if tag in names:  # close what was left open inside it
                del self._stack[len(names) - 1 - names[::-1].index(tag):]
            return
        self._stack.pop()

    def handle_comment(self, data):
        self.tags.append(f"<!--{data}-->")

    def handle_data(self, data):
        self.text.append(data)
        for _, pieces in self._stack:
            if pieces is not None:
                pieces.append(data)


def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def judge(alternatives: list[str], inside: str, whole: str) -> str:
    """right, misplaced or unjudged (see the module's docstring)."""
    inner, everywhere = _words(inside), " ".join(_words(whole))
    for phrase in alternatives:
        wanted = _words(phrase)
        joined = " ".join(inner)
        if re.search(rf"\b{re.escape(' '.join(wanted))}\b", joined) and len(inner) - len(wanted) <= SLACK:
            return "right"
    if any(re.search(rf"\b{re.escape(' '.join(_words(p)))}\b", everywhere) for p in alternatives):
        return "misplaced"
    return "unjudged"


def main(*runs: str) -> None:
    lines = SNIPPETS.read_text(encoding="utf-8").splitlines()
    snippets = [json.loads(line)["html"] for line in lines if line]
    rows = []
    for run in runs:
        translator = Translator.load(run, device="cpu")
        start = time.perf_counter()
        outputs = [t.text for t in translator.translate(snippets, format="html", beam=5)]
        seconds = time.perf_counter() - start
        kept = parsed = 0
        verdicts: collections.Counter = collections.Counter()
        for snippet, out in zip(snippets, outputs, strict=True):
            source, target = _Reader(snippet), _Reader(out)
            kept += collections.Counter(source.tags) == collections.Counter(target.tags)
            parsed += target.balanced or not source.balanced
            whole = " ".join(target.text)
            for (alternatives, pieces) in target.wanted:
                verdict = judge(alternatives, " ".join(pieces), whole)
                verdicts[verdict] += 1
                if verdict != "right":
                    print(f"{verdict}: {out}")
        judged = verdicts["right"] + verdicts["misplaced"]
        rows.append({"model": run, "snippets": len(snippets), "tags kept": f"{kept}/{len(snippets)}",
                     "well-formed": f"{parsed}/{len(snippets)}", "elements": sum(verdicts.values()),
                     "judged": judged, "placed right": verdicts["right"],
                     "placed share": verdicts["right"] / max(1, judged), "seconds": seconds})
    report("html", rows, ["model", "snippets", "tags kept", "well-formed", "elements", "judged",
                          "placed right", "placed share", "seconds"])
