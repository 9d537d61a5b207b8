"""A live progress line for long commands (`nmt translate`, `nmt evaluate --model`) on a terminal's standard
error: lines done, sentences per second and, when the input is a file of known size, the time left. Off a
terminal (a pipe, a log file) it writes nothing, so logs and captured output stay clean.

    progress = Progress(total_bytes=os.path.getsize("big.de"))
    progress.done(source_line)    # after each line's translation is written; close() at the end
    progress.done_all(texts)      # several at once (a document's paragraphs), drawn once after them
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total_bytes: int | None = None, stream: TextIO | None = None, every: float = 0.25,
                 unit: str = "lines", rate_unit: str = "sentences"):
        self.stream, self.unit, self.rate_unit = stream or sys.stderr, unit, rate_unit
        self.live = self.stream.isatty()
        self.total, self.every = total_bytes, every
        self.bytes = self.lines = 0
        self.start = self.shown = time.monotonic()

    def done(self, source: str) -> None:
        """One more input line translated (its text: the share of the input it was, in UTF-8 bytes and a
        newline); the line is redrawn at most every `every` seconds."""
        self.done_all([source])

    def done_all(self, sources: list[str]) -> None:
        if not self.live:
            return
        self.lines += len(sources)
        self.bytes += sum(len(source.encode("utf-8", "replace")) + 1 for source in sources)
        now = time.monotonic()
        if now - self.shown >= self.every:
            self.shown = now
            self._draw(now)

    def close(self) -> None:
        if self.live and self.lines:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, now: float) -> None:
        rate = self.lines / max(now - self.start, 1e-9)
        line = f"{self.lines} {self.unit} | {rate:.0f} {self.rate_unit}/s"
        if self.total and self.bytes:
            left = (now - self.start) * max(self.total - self.bytes, 0) / self.bytes
            eta = time.strftime("%H:%M:%S", time.gmtime(left))
            line += f" | {min(100, 100 * self.bytes / self.total):.0f}% | eta {eta}"
        self.stream.write("\r" + line + " " * 4)
        self.stream.flush()
