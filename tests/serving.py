"""Starting `nmt serve` as a user would, and talking to it: shared by the tests and bench/serve.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`nmt serve` in a subprocess on a free port, as a user starts it; `url` once it answers."""

    def __init__(self, *args, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "nmt", "serve", "--port", str(self.port),
                                      "--threads", "1", *map(str, args)],
                                     env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nmt serve exited: {self.proc.stderr.read()[-2000:]}")
            try:
                urllib.request.urlopen(self.url + "/health", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError("nmt serve did not answer within 60 s")

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as a service manager stops it; (exit status, stderr)."""
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


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
