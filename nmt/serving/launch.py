"""Starting `nmt serve` as a user would, and talking to it: for the tests and the serving benchmark alike.

    server = Server("--model", "runs/small")     # a subprocess on a free port, once it serves
    status, body = http(server.url + "/translate", {"q": "Ein Hund.", "source": "de", "target": "en"})
    server.stop()                                # SIGTERM, as a service manager stops it
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

READY = "serving on http://"  # what `nmt serve` logs once its socket listens (server.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`nmt serve ARGS` in a subprocess on a free port, as a user starts it; returns once it logs that it
    serves (its standard error is read as it comes, so the pipe never fills)."""

    def __init__(self, *args, env: dict | None = None, timeout: float = 60):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "nmt", "serve", "--port", str(self.port),
                                      "--threads", "1", *map(str, args)],
                                     env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._log: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout):
            self.proc.kill()
            raise RuntimeError(f"nmt serve did not start within {timeout:g} s")
        if not any(READY in line for line in self._log):  # its standard error ended first: it exited
            self._reader.join(10)
            raise RuntimeError(f"nmt serve exited ({self.proc.wait(10)}): {''.join(self._log)[-2000:]}")

    def _read(self) -> None:
        for line in self.proc.stderr:
            self._log.append(line)
            if READY in line:
                self._ready.set()
        self._ready.set()  # the process ended (before serving, if READY never came)

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as a service manager stops it; (exit status, standard error)."""
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self._reader.join(60)
        return self.proc.returncode, "".join(self._log)


def http(url: str, body=None, *, method: str | None = None, headers: dict | None = None,
         timeout: float = 60) -> tuple[int, object]:
    """(status, decoded JSON or text) of one request; `body` is JSON-encoded unless bytes."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(headers or {})} if data is not None else (headers or {})
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")
