"""Subtitles: .srt and .vtt. Numbering, timings, cue settings, headers, NOTE and STYLE blocks are copied byte
for byte; only the text of cues changes.

A sentence often runs over several cues ("Ich habe gestern" | "einen Hund gesehen."). Translated cue by cue,
each half is a fragment the model never saw; so cues are grouped into sentences (a group ends at a cue whose
text ends a sentence: . ! ? … : ; and closing quotes, or after MAX_CUES cues), each group is translated as
one text in which every cue is an inline element, and the attention places each cue's element on the
target words that translate it (placement.py's _partition: in order, the most words in the cue they
attend to), which divides the translation back over the cues. Worked example:

    1  00:00:01,000 --> 00:00:02,500   Ich habe gestern
    2  00:00:02,600 --> 00:00:04,000   einen Hund gesehen.
    group -> '<span data-c="0">Ich habe gestern</span> <span data-c="1">einen Hund gesehen.</span>'
    "I saw a dog yesterday." attends to cues 0 1 1 1 0 1 ("saw" to "gesehen")
    -> cue 1 "I", cue 2 "saw a dog yesterday." (timings kept)

Tags inside a cue (<i>, <b>, <font color=...>, WebVTT's <v Name>, <c.class>, <00:01.000>) are inline
elements or points of the fragment and come back as written. A cue's line breaks are not kept: a
translated cue longer than 42 characters is broken into two balanced lines, as subtitle guidelines ask.
Hand-written rather than the `srt` or `webvtt-py` packages: both re-serialise the whole file (renumbering,
normalising timings, dropping unknown blocks), and keeping everything but the text byte for byte is the
point; the grammar needed is one blank-line-separated block with a `-->` line.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

TAG = re.compile(r"<[^<>]*>")
SENTENCE_END = re.compile(r"[.!?…:;][\"'»”’)\]]*$|^$")
LINE = 42  # characters per subtitle line (BBC and Netflix guidelines)
MAX_CUES = 5  # cues one sentence may run over: lyrics without punctuation still come in pieces


@dataclass
class Cue:
    text_lines: list[int]  # which lines of the file hold its text
    text: str


class SubtitleDocument:
    block_format = "html"

    def __init__(self, data: bytes, kind: str):
        from nmt.text.documents import decode_text
        self.kind, self.notes = kind, []
        text = decode_text(data, kind)
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.lines = text.replace("\r\n", "\n").split("\n")
        self.cues = list(self._cues())
        self.groups: list[list[int]] = []
        for k in range(len(self.cues)):
            if not self.groups or len(self.groups[-1]) == MAX_CUES or \
                    SENTENCE_END.search(TAG.sub("", self.cues[k - 1].text).strip()):
                self.groups.append([])
            self.groups[-1].append(k)
        self.tags: list[str] = []
        self.blocks = [" ".join(f'<span data-c="{k}">{self._cue_html(self.cues[k].text)}</span>'
                                for k in group) for group in self.groups]

    def _cues(self):
        """Each cue's text lines: the lines after a timing line, up to a blank line."""
        k = 0
        while k < len(self.lines):
            if "-->" in self.lines[k] and not self.lines[k].startswith("NOTE"):
                first = k = k + 1
                while k < len(self.lines) and self.lines[k].strip():
                    k += 1
                if k > first:
                    yield Cue(list(range(first, k)), " ".join(self.lines[i].strip() for i in range(first, k)))
            k += 1

    def _cue_html(self, text: str) -> str:
        """A cue's text as a fragment: its tags as spans (opening ... closing) or points, named by index. A
        tag the cue leaves open (WebVTT's <v Name>) is closed at the cue's end, and comes back closed."""
        out, at, depth = [], 0, 0
        for m in TAG.finditer(text):
            out.append(html.escape(text[at:m.start()], quote=False))
            self.tags.append(m.group())
            index = len(self.tags) - 1
            if m.group().startswith("</") and depth:
                out.append("</span>")
                depth -= 1
            elif m.group().startswith("</") or re.match(r"<\d", m.group()) or m.group().endswith("/>"):
                # a stray closing tag is a point too: kept, and it cannot close the cue's own element
                out.append(f'<img data-p="{index}">')
            else:
                out.append(f'<span data-t="{index}">')
                depth += 1
            at = m.end()
        out.append(html.escape(text[at:], quote=False) + "</span>" * depth)
        return "".join(out)

    def write(self, translated: list[str]) -> bytes:
        texts = [""] * len(self.cues)
        for group, fragment in zip(self.groups, translated, strict=True):
            parts = _cue_texts(fragment, self.tags)
            words = [parts.get(k, "").strip() for k in group]
            if any(not w for w in words):
                words = _share(" ".join(w for w in words if w).split(),
                               [len(TAG.sub("", self.cues[k].text)) for k in group])
            for k, text in zip(group, words, strict=True):
                texts[k] = text
        lines = list(self.lines)
        for cue, text in zip(self.cues, texts, strict=True):
            first, *rest = cue.text_lines
            lines[first] = "\n".join(_wrap(text))
            for k in rest:
                lines[k] = None
        return self.newline.join(line for line in lines if line is not None).encode("utf-8")


def _cue_texts(fragment: str, tags: list[str]) -> dict[int, str]:
    """Each cue's translated text, its tags written back as they came."""
    from html.parser import HTMLParser

    out: dict[int, list[str]] = {}

    class Reader(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.stack: list[tuple[str, int | None, int | None]] = []  # (tag, cue, tag index)

        def cue(self):
            return next((c for _, c, _ in reversed(self.stack) if c is not None), None)

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if "data-p" in attrs:
                out.setdefault(self.cue(), []).append(tags[int(attrs["data-p"])])
                return
            cue = int(attrs["data-c"]) if "data-c" in attrs else None
            index = int(attrs["data-t"]) if "data-t" in attrs else None
            self.stack.append((tag, cue, index))
            if index is not None:
                out.setdefault(self.cue(), []).append(tags[index])

        def handle_endtag(self, tag):
            if self.stack:
                _, cue, index = self.stack.pop()
                if index is not None:
                    name = re.match(r"<([\w-]+)", tags[index])
                    out.setdefault(self.cue(), []).append(f"</{name.group(1) if name else 'span'}>")

        def handle_data(self, data):
            out.setdefault(self.cue(), []).append(data)  # the cue's text came escaped, and so goes back

    reader = Reader()
    reader.feed(fragment)
    reader.close()
    return {cue: re.sub(r"\s+", " ", "".join(parts)) for cue, parts in out.items() if cue is not None}


def _share(words: list[str], lengths: list[int]) -> list[str]:
    """The words divided over cues in proportion to their lengths, each cue at least one word where there
    are enough."""
    total, out, at = max(1, sum(lengths)), [], 0
    for k, length in enumerate(lengths):
        left = len(lengths) - k - 1
        take = round(len(words) * length / total) if left else len(words) - at
        take = max(1 if at < len(words) else 0, min(take, len(words) - at - min(left, len(words) - at - 1)))
        out.append(" ".join(words[at:at + take]))
        at += take
    return out


def _wrap(text: str) -> list[str]:
    """One line, or two balanced lines at the space nearest the middle when longer than LINE."""
    if len(TAG.sub("", text)) <= LINE or " " not in text:
        return [text]
    middle = len(text) // 2
    cut = min((m.start() for m in re.finditer(" ", text)), key=lambda at: abs(at - middle))
    return [text[:cut], text[cut + 1:]]

