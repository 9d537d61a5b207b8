"""`nmt serve` under load, on loopback: throughput and latency with 1, 8 and 32 clients, a soak with bad
requests mixed in, memory, and start-up time.

    python -m bench serve RUN [RUN ...]

For each model: the decoding-only throughput of the same sentences through the Python API at the
default batching (what `nmt translate` does, sorted by length into batches of 128: the baseline), and 32
at a time in the order they come (the batches that 32 clients with a sentence each can form at most:
`of_32` is the server against that), then a server on a free port answering clients that
each send one test2016 sentence per request (beam 5) until every sentence is sent once, then 32 clients
sending paragraphs of 4 consecutive sentences (the server splits them and must batch sentences, not
requests). Every answer is compared with the batch translation through the Python API (fp32 output
does not depend on batching). The first model
then takes the soak: 20,000 requests from 8 clients, 5% of them bad (too long, malformed JSON, a pair
not served); the server's RSS is read after each 1,000.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time

import torch

from bench.common import DATA, report, require_data
from nmt.config import DecodeConfig
from nmt.fileio import read_lines
from nmt.serving.launch import Server
from nmt.translate import Translator

CLIENTS = (1, 8, 32)
PHASE_SECONDS = 300  # no phase runs longer than this


def _rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, MB."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class Client:
    """One keep-alive connection; `ask` returns (status, answer, seconds)."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def ask(self, body: bytes) -> tuple[int, dict, float]:
        start = time.perf_counter()
        self.conn.request("POST", "/translate", body, {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        answer = json.loads(response.read())
        return response.status, answer, time.perf_counter() - start


def _request(text: str) -> bytes:
    return json.dumps({"q": text, "source": "de", "target": "en"}).encode()


def load(port: int, jobs: list[tuple[bytes, str | None]], clients: int) -> dict:
    """Send every job once from `clients` threads; a job's expected answer None means it must be refused."""
    lock, next_job = threading.Lock(), [0]
    latencies, wrong, failed = [], [0], [0]
    deadline = time.time() + PHASE_SECONDS

    def work():
        client = Client(port)
        while time.time() < deadline:
            with lock:
                k = next_job[0]
                next_job[0] += 1
            if k >= len(jobs):
                return
            body, want = jobs[k]
            try:
                status, answer, seconds = client.ask(body)
            except (OSError, http.client.HTTPException, ValueError):
                failed[0] += 1
                client = Client(port)
                continue
            if want is None:
                wrong[0] += not (400 <= status < 500 and "error" in answer)
                continue
            latencies.append(seconds)
            if status != 200:
                failed[0] += 1
            elif answer["translatedText"] != want:
                wrong[0] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    latencies.sort()
    pct = {p: 1000 * latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else None
           for p in (50, 95, 99)}
    return {"requests": min(next_job[0], len(jobs)), "seconds": seconds,
            "sent_per_s": len(latencies) / seconds, "p50_ms": pct[50], "p95_ms": pct[95], "p99_ms": pct[99],
            "failed": failed[0], "wrong": wrong[0]}


def soak(server: Server, sentences: list[str], want: dict[str, str], count: int = 20_000) -> dict:
    """`count` requests, 1 in 20 bad, from 8 clients, in blocks of 1,000 with the RSS read after each."""
    bad = [b'{"q": "der hund", "source": ',                                          # malformed JSON
           json.dumps({"q": "x" * 6000, "source": "de", "target": "en"}).encode(),   # over --max-chars
           json.dumps({"q": "der hund", "source": "de", "target": "fr"}).encode()]   # a pair not served
    jobs = []
    for k in range(count):
        text = sentences[k % len(sentences)]
        jobs.append((bad[k // 20 % 3], None) if k % 20 == 19 else (_request(text), want[text]))
    rss, totals = [], {"requests": 0, "seconds": 0.0, "failed": 0, "wrong": 0}
    for block in range(0, count, 1000):
        result = load(server.port, jobs[block : block + 1000], clients=8)
        for key in totals:
            totals[key] += result[key]
        rss.append(_rss_mb(server.proc.pid))
    return {**totals, "alive": server.proc.poll() is None, "rss_first_1000_mb": rss[0][0],
            "rss_last_1000_mb": rss[-1][0], "peak_rss_mb": rss[-1][1]}


def main(*runs: str, split: str = "test2016") -> None:
    require_data()
    if not runs:
        raise SystemExit("usage: python -m bench serve RUN [RUN ...]")
    sentences = list(read_lines(DATA / f"{split}.de"))
    rows = []
    for k, run in enumerate(runs):
        translator = Translator.load(run, device="cpu")
        start = time.perf_counter()
        batch = [nbest[0][0] for nbest in translator.translate_stream(sentences, DecodeConfig(beam=5))]
        batch_rate = len(sentences) / (time.perf_counter() - start)
        start = time.perf_counter()  # the batches 32 clients can form: 32 sentences as they come, unsorted
        for i in range(0, len(sentences), 32):
            list(translator.translate_stream(sentences[i : i + 32], DecodeConfig(beam=5)))
        rate_32 = len(sentences) / (time.perf_counter() - start)
        paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
        want_paragraphs = [t.text for t in translator.translate(paragraphs, beam=5)]
        del translator
        want = dict(zip(sentences, batch, strict=True))
        rows.append({"model": run, "what": "Python API, batches of 128 (baseline)", "clients": "",
                     "sent_per_s": batch_rate})
        rows.append({"model": run, "what": "Python API, 32 at a time in test order", "clients": "",
                     "sent_per_s": rate_32, "of_baseline": rate_32 / batch_rate})
        start = time.perf_counter()
        threads = torch.get_num_threads()  # as many as the baseline had (the test helper's default is 1)
        server = Server("--model", run, "--threads", threads, env={"OMP_NUM_THREADS": str(threads)})
        status, _, _ = Client(server.port).ask(_request(sentences[0]))
        rows.append({"model": run, "what": "start-up to first answer", "seconds": time.perf_counter() - start,
                     "failed": int(status != 200)})
        try:
            for clients in CLIENTS:
                jobs = [(_request(s), want[s]) for s in sentences]
                result = load(server.port, jobs, clients)
                rows.append({"model": run, "what": "one sentence per request, beam 5", "clients": clients,
                             **result, "of_baseline": result["sent_per_s"] / batch_rate,
                             **({"of_32": result["sent_per_s"] / rate_32} if clients == 32 else {})})
            jobs = [(_request(p), w) for p, w in zip(paragraphs, want_paragraphs, strict=True)]
            result = load(server.port, jobs, 32)
            result["sent_per_s"] *= 4  # sentences, not requests: 1,000 = 250 paragraphs x 4
            rows.append({"model": run, "what": "a paragraph of 4 sentences per request", "clients": 32,
                         **result, "of_baseline": result["sent_per_s"] / batch_rate})
            if k == 0:
                result = soak(server, sentences, want)
                rows.append({"model": run, "what": "soak, 5% bad requests", "clients": 8, **result})
        finally:
            code, _ = server.stop()
            rows[-1]["exit_status"] = code
    report("serve", rows, ["model", "what", "clients", "requests", "sent_per_s", "of_baseline", "of_32",
                           "p50_ms", "p95_ms", "p99_ms", "failed", "wrong", "seconds", "alive",
                           "rss_first_1000_mb", "rss_last_1000_mb", "peak_rss_mb", "exit_status"])


if __name__ == "__main__":
    main(*sys.argv[1:])
