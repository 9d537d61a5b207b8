"""Translated documents waiting for their download (POST /translate_file answers with a URL, as LibreTranslate
does): each in a private temporary folder under a name of 32 random characters (secrets.token_urlsafe), so
that a URL cannot be guessed; kept at most `minutes`, and all of them together at most `max_bytes` (the
oldest go first); removed on expiry, on the next store or fetch after it, and all of them at shutdown."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Stored:
    path: Path
    name: str      # the file name the download gives
    size: int
    created: float


class FileStore:
    def __init__(self, minutes: float, max_bytes: int, clock=time.monotonic):
        self.lifetime, self.max_bytes, self.clock = minutes * 60, max_bytes, clock
        self.folder = Path(tempfile.mkdtemp(prefix="nmt-files-"))  # mode 0700: this user's only
        self.files: dict[str, Stored] = {}
        self.lock = threading.Lock()

    def put(self, data: bytes, name: str) -> str | None:
        """Keep `data` for download as `name`; its token, or None when it alone is over the bound."""
        if len(data) > self.max_bytes:
            return None
        token = secrets.token_urlsafe(24)
        with self.lock:
            self._expire()
            while self.files and sum(f.size for f in self.files.values()) + len(data) > self.max_bytes:
                self._remove(min(self.files, key=lambda t: self.files[t].created))
            path = self.folder / token
            path.write_bytes(data)
            self.files[token] = Stored(path, name, len(data), self.clock())
        return token

    def get(self, token: str) -> Stored | None:
        with self.lock:
            self._expire()
            return self.files.get(token)

    def close(self) -> None:
        with self.lock:
            self.files.clear()
            shutil.rmtree(self.folder, ignore_errors=True)

    def _expire(self) -> None:
        now = self.clock()
        for token in [t for t, f in self.files.items() if now - f.created > self.lifetime]:
            self._remove(token)

    def _remove(self, token: str) -> None:
        stored = self.files.pop(token)
        stored.path.unlink(missing_ok=True)
