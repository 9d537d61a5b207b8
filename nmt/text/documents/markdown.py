"""Markdown: text, headings, list items, quotes, table cells, link text and image alt text translated; code
blocks, inline code, link and image targets, raw HTML, front matter and the lines' markers kept.

markdown-it-py (CommonMark, with tables and strikethrough) finds each paragraph's inline content and the
source lines it came from; its emphasis and links become inline elements of an HTML fragment that the
pipeline places on the translated words (markup.py), and the fragment is written back as Markdown onto
the paragraph's first line. Worked example:

    "Der **große** Hund [läuft](https://x.org)."
    -> fragment 'Der <span data-m="0">große</span> Hund <a data-m="1">läuft</a>.'
    -> translated 'The <span data-m="0">big</span> dog <a data-m="1">runs</a>.'
    -> "The **big** dog [runs](https://x.org)."

A paragraph written over several lines comes back on one (Markdown joins them anyway); a hard line break
inside a paragraph becomes a space.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from nmt import NMTError

FRONT_MATTER = re.compile(r"\A(---|\+\+\+)\n.*?\n\1[ \t]*\n", re.DOTALL)
SPECIAL = re.compile(r"([\\`*_\[\]<])")


def _parser():
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        raise NMTError("translating Markdown needs the documents extra: pip install 'nmt[documents]'") \
            from None
    return MarkdownIt("commonmark").enable("table").enable("strikethrough")


class MarkdownDocument:
    block_format = "html"

    def __init__(self, data: bytes, kind: str = "md"):
        from nmt.text.documents import decode_text
        self.kind, self.notes = kind, []
        text = decode_text(data, kind)
        self.newline = "\r\n" if "\r\n" in text else "\n"
        text = text.replace("\r\n", "\n")
        front = FRONT_MATTER.match(text)
        skip = front.group().count("\n") if front else 0
        self.lines = text.split("\n")
        body = "\n".join(self.lines[skip:])
        self.marks: list[tuple] = []  # what each data-m names: ("emphasis", markup), ("link", href, title)...
        self.blocks: list[str] = []
        self.places: list[tuple[int, list[str]]] = []  # each paragraph's first line and its content lines
        for token in _parser().parse(body):
            if token.type == "inline" and token.map and any(ch.isalpha() for ch in token.content):
                self.places.append((token.map[0] + skip, token.content.split("\n")))
                self.blocks.append(self._fragment(token.children))

    def _fragment(self, children) -> str:
        out = []
        for child in children:
            kind = child.type
            if kind == "text":
                out.append(html.escape(child.content, quote=False))
            elif kind in ("softbreak", "hardbreak"):
                out.append(" ")
            elif kind.endswith("_open") and kind != "link_open":
                self.marks.append(("emphasis", child.markup))
                out.append(f'<span data-m="{len(self.marks) - 1}">')
            elif kind == "link_open":
                self.marks.append(("link", child.attrs.get("href", ""), child.attrs.get("title")))
                out.append(f'<a data-m="{len(self.marks) - 1}">')
            elif kind.endswith("_close"):
                out.append("</a>" if kind == "link_close" else "</span>")
            elif kind == "image":  # its alt text is a block of its own, translated beside this one
                self.marks.append(("image", child.attrs.get("src", ""), child.attrs.get("title"),
                                   len(self.blocks) + 1))
                out.append(f'<img data-m="{len(self.marks) - 1}">')
                self.places.append((-1, []))
                self.blocks.append(html.escape(child.content, quote=False))
            else:  # inline code, raw HTML, autolinks: kept as written
                self.marks.append(("verbatim", _verbatim(child)))
                out.append(f'<img data-m="{len(self.marks) - 1}">')
        return "".join(out)

    def write(self, translated: list[str]) -> bytes:
        done = [html.unescape(re.sub(r"<[^>]*>", "", t)) for t in translated]  # alt texts, as plain text
        lines: list[str | None] = list(self.lines)
        cursors: dict[int, int] = {}
        for (first, content), fragment in zip(self.places, translated, strict=True):
            if first < 0:
                continue
            text = _markdown(fragment, self.marks, done)
            for j, part in enumerate(content):
                number = first + j
                line = lines[number] or ""
                at = line.find(part.strip(), cursors.get(number, 0) if j == 0 else 0)
                if at < 0:
                    raise NMTError(f"Markdown line {number + 1}: its text was not found where the parser "
                                   "put it; please report this file")
                new = text if j == 0 else ""
                lines[number] = line[:at] + new + line[at + len(part.strip()):]
                cursors[number] = at + len(new)
                if j and not lines[number].strip(" >\t"):
                    lines[number] = None
        return self.newline.join(line for line in lines if line is not None).encode("utf-8")


def _verbatim(token) -> str:
    if token.type == "code_inline":
        fence = token.markup or "`"
        pad = " " if token.content.startswith("`") or token.content.endswith("`") else ""
        return f"{fence}{pad}{token.content}{pad}{fence}"
    if token.type == "html_inline":
        return token.content
    return f"<{token.attrs.get('href', token.content)}>" if token.markup == "autolink" else token.content


def _escape(text: str) -> str:
    return SPECIAL.sub(r"\\\1", text)


def _markdown(fragment: str, marks: list[tuple], done: list[str]) -> str:
    """A translated fragment written as Markdown."""
    out: list[str] = []
    stack: list[tuple] = []

    class Reader(HTMLParser):
        def handle_starttag(self, tag, attrs):
            mark = marks[int(dict(attrs)["data-m"])] if "data-m" in dict(attrs) else None
            if tag == "img" and mark:
                if mark[0] == "image":
                    title = f' "{mark[2]}"' if mark[2] else ""
                    out.append(f"![{_escape(done[mark[3]])}]({mark[1]}{title})")
                else:
                    out.append(mark[1])
                return
            stack.append(mark)
            if mark and mark[0] == "link":
                out.append("[")
            elif mark:
                out.append(mark[1])

        def handle_endtag(self, tag):
            mark = stack.pop() if stack else None
            if mark and mark[0] == "link":
                title = f' "{mark[2]}"' if mark[2] else ""
                out.append(f"]({mark[1]}{title})")
            elif mark:
                out.append(mark[1])

        def handle_data(self, data):
            out.append(_escape(data))

    reader = Reader(convert_charrefs=True)
    reader.feed(fragment)
    reader.close()
    return "".join(out)
