"""A glossary: source terms and the target terms they must be translated with, found in each sentence.

A term found in a sentence, as a whole word (or words), adds its target term as a constraint of that
sentence (constraints.py); a term mapped to itself is "do not translate" (a name, a product). Case as
given, or ignored with ignore_case. Where terms overlap in a sentence the longest wins. The file is
TSV: SOURCE<TAB>TARGET on each line; blank lines and lines starting with # are skipped. Worked example:

    Glossary([("Antrag", "application"), ("Müller GmbH", "Müller GmbH")]).targets(
        "Der Antrag der Müller GmbH.")  -> ["application", "Müller GmbH"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from nmt import NMTError
from nmt.fileio import read_lines


@dataclass
class Glossary:
    entries: list[tuple[str, str]]
    ignore_case: bool = False
    _patterns: list[tuple[re.Pattern, str]] = field(default_factory=list, repr=False)

    def __post_init__(self):
        flags = re.IGNORECASE if self.ignore_case else 0
        self._patterns = [(re.compile(rf"(?<!\w){re.escape(source)}(?!\w)", flags), target)
                          for source, target in self.entries]

    @classmethod
    def load(cls, path: str | Path, *, ignore_case: bool = False) -> Glossary:
        """A TSV file of SOURCE<TAB>TARGET lines; a bad line is one error naming the file and line."""
        if not Path(path).is_file():
            raise NMTError(f"{path}: no such glossary file")
        entries = []
        for number, line in enumerate(read_lines(path), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            entries.append(_entry(line.split("\t"), f"{path}:{number}"))
        return cls(entries, ignore_case)

    @classmethod
    def of(cls, pairs: list[tuple[str, str]], *, ignore_case: bool = False, where: str = "glossary"
           ) -> Glossary:
        """From (source, target) pairs, checked as a file's lines are."""
        return cls([_entry(list(pair), f"{where} entry {k + 1}") for k, pair in enumerate(pairs)],
                   ignore_case)

    def targets(self, sentence: str) -> list[str]:
        """The target terms of the source terms found in `sentence`, in the order they occur."""
        return [target for _, _, target in self.matches(sentence)]

    def matches(self, sentence: str) -> list[tuple[int, int, str]]:
        """(start, end, target term) of each source term found in `sentence`, in order; where terms
        overlap, the longest of those starting first."""
        found = sorted(((m.start(), -(m.end() - m.start()), m.end(), target)
                        for pattern, target in self._patterns for m in pattern.finditer(sentence)))
        out, end = [], -1
        for start, _, stop, target in found:
            if start >= end:
                out.append((start, stop, target))
                end = stop
        return out


def _entry(fields: list[str], where: str) -> tuple[str, str]:
    if len(fields) != 2:
        raise NMTError(f"{where}: {'no tab' if len(fields) < 2 else 'more than one tab'} in the line; "
                       "write SOURCE<TAB>TARGET, one term pair a line")
    source, target = (f.strip() for f in fields)
    if not source or not target:
        raise NMTError(f"{where}: an empty {'source' if not source else 'target'} term; write "
                       "SOURCE<TAB>TARGET (a term mapped to itself is kept as it is)")
    return source, target
