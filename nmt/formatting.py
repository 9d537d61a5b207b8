"""How translations are written out, in one place for the command line, the server and the Python API.

    plain        TRANSLATION                     one line per input line
    scored       INDEX<TAB>SCORE<TAB>TRANSLATION  n-best lists best first; INDEX counts input lines from
                                                  0, SCORE is the length-normalised log-probability
    attention    {"index", "source", "target", "weights"}  a JSON line per input line (best translation)

For example, the 2-best list of input line 0 is written "0\t-0.1234\ta dog runs\n0\t-0.5678\ta dog
is running\n".
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from nmt import NMTError
from nmt.config import DecodeConfig
from nmt.console import Progress
from nmt.search.scoring import Hypothesis

FLUSH_EVERY = 256  # lines between flushes: a pipe sees output as it is made


def scored_lines(index: int, nbest: list[tuple[str, Hypothesis]]) -> str:
    """An input line's n-best list as INDEX<TAB>SCORE<TAB>TRANSLATION lines."""
    return "".join(f"{index}\t{hyp.score:.4f}\t{text}\n" for text, hyp in nbest)


def alignment_line(index: int, record: dict) -> str:
    """One Translator.alignments record as a JSON line, with the index of its input line."""
    return json.dumps({"index": index, **record}, ensure_ascii=False) + "\n"


def translation_json(translation) -> dict:
    """A Translation as nmt's own API returns it: {"text", "score", "alternatives": [{"text", "score"}]},
    and "warnings" when the text was too long for the model in places."""
    return {"text": translation.text, "score": translation.score,
            "alternatives": [{"text": a.text, "score": a.score} for a in translation.alternatives],
            **({"warnings": translation.warnings} if translation.warnings else {}),
            **({"sentences": translation.sentences} if translation.sentences else {})}


def write_translations(translator, lines: Iterable[str], out: BinaryIO, *, cfg: DecodeConfig,
                       scored: bool = False, attention: BinaryIO | None = None,
                       progress: Progress | None = None, glossary=None, explicit=None) -> int:
    """Translate `lines` and write each one's translation to `out` (UTF-8 whatever the locale): plain, or
    scored n-best lines; with `attention`, each line's alignment as a JSON line there too; `progress`
    hears of every line; glossary and explicit constraints as Translator.translate_stream takes them.
    Returns the number of lines written."""
    pending: list = []  # (index, source line, best hypothesis) awaiting their attention weights
    count = 0
    sources = with_sources(translator, lines, cfg, glossary=glossary, explicit=explicit)
    for index, (source, nbest) in enumerate(sources):
        out.write((scored_lines(index, nbest) if scored else nbest[0][0] + "\n").encode("utf-8"))
        pending.append((index, source, nbest[0][1]))
        count += 1
        if progress is not None:
            progress.done(source)
        if index % FLUSH_EVERY == FLUSH_EVERY - 1:
            out.flush()
            _write_alignments(attention, translator, pending)
    out.flush()
    _write_alignments(attention, translator, pending)
    if explicit is not None and next(explicit, None) is not None:
        raise NMTError(f"the constraints have more lines than the input's {count}; give one per input line")
    return count


def with_sources(translator, lines: Iterable[str], cfg: DecodeConfig, **constraints
                 ) -> Iterator[tuple[str, list[tuple[str, Hypothesis]]]]:
    """Translator.translate_stream's n-best lists, each with the input line it translates."""
    read: collections.deque[str] = collections.deque()  # lines read and not yet translated

    def remember(source):
        for line in source:
            read.append(line)
            yield line

    for nbest in translator.translate_stream(remember(lines), cfg, **constraints):
        yield read.popleft(), nbest


def _write_alignments(f: BinaryIO | None, translator, pending: list) -> None:
    """One JSON line per pending output line, then empty the list; nothing without a file."""
    if f is not None and pending:
        records = translator.alignments([line for _, line, _ in pending], [hyp for _, _, hyp in pending])
        for (index, _, _), record in zip(pending, records, strict=True):
            f.write(alignment_line(index, record).encode("utf-8"))
        f.flush()
    pending.clear()
