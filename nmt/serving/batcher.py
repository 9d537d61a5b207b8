"""Micro-batching for a server: requests that arrive together are decoded together.

Model-free: it is given `decode(texts, options) -> results` (one result per text) and calls it in a
worker thread, so the event loop keeps answering while a batch decodes. A request waits up to `wait`
seconds for company, unless the last decode served one request and none arrived while it ran (a lone
client: waiting would only add to its latency); requests that queued while a decode ran are taken
together at once.
Requests share a decode only when their options are equal (same beam, n-best ...). A bound on the
sentences waiting or being decoded turns overload into an immediate QueueFull instead of a queue that
grows without end. If a shared decode fails, each request is retried alone, so one bad request fails
alone.

Worked example (wait 5 ms, max_batch 64): A (3 texts) arrives at t=0 and B (2 texts, same options)
at t=2 ms: one decode of 5 texts at t=5 ms; A gets results 0-2, B results 3-4. C and D arrive while
that decode runs: at its end both are taken at once, without waiting. Later, E arrives alone after a
decode of one request during which nothing arrived: it is decoded at once.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """More sentences are waiting than the bound allows; the caller should try again later."""


@dataclass
class _Job:
    texts: list[str]
    options: Any
    future: asyncio.Future


class MicroBatcher:
    def __init__(self, decode: Callable[[list[str], Any], list], *, executor: Executor, max_pending: int,
                 max_batch: int, wait: float):
        self.decode, self.executor = decode, executor
        self.max_pending, self.max_batch, self.wait = max_pending, max_batch, wait
        self.pending = 0  # sentences queued or being decoded
        self._jobs: collections.deque[_Job] = collections.deque()
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._arrivals = 0  # requests submitted since the last decode began
        self._alone = True  # the last decode served one request and none arrived while it ran

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def submit(self, texts: list[str], options: Any) -> list:
        """The results for `texts`, in order; QueueFull at once when the bound would be passed."""
        if self.pending + len(texts) > self.max_pending:
            raise QueueFull(f"{self.pending} sentences are waiting; the server holds at most "
                            f"{self.max_pending}")
        self.pending += len(texts)
        self._arrivals += 1
        job = _Job(texts, options, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self._arrived.set()
        try:
            return await job.future
        finally:
            self.pending -= len(texts)

    async def _run(self) -> None:
        while True:
            while not self._jobs:
                self._arrived.clear()
                await self._arrived.wait()
            if not (self._alone and len(self._jobs) == 1):
                await self._gather_company()
            groups = self._take()
            self._arrivals = 0
            for group in groups:
                await self._decode(group)
            self._alone = sum(len(g) for g in groups) == 1 and self._arrivals == 0

    async def _gather_company(self) -> None:
        """Wait up to `wait` for more requests while the batch is not full."""
        deadline = asyncio.get_running_loop().time() + self.wait
        while sum(len(j.texts) for j in self._jobs) < self.max_batch:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:  # (an alias of TimeoutError from Python 3.11)
                return

    def _take(self) -> list[list[_Job]]:
        """Jobs from the queue up to max_batch sentences (at least one job), grouped by equal options."""
        taken, count = [], 0
        while self._jobs and (not taken or count + len(self._jobs[0].texts) <= self.max_batch):
            job = self._jobs.popleft()
            if job.future.cancelled():  # its client went away
                continue
            taken.append(job)
            count += len(job.texts)
        groups: list[list[_Job]] = []
        for job in taken:
            group = next((g for g in groups if g[0].options == job.options), None)
            if group is None:
                groups.append([job])
            else:
                group.append(job)
        return groups

    async def _decode(self, group: list[_Job]) -> None:
        texts = [text for job in group for text in job.texts]
        try:
            results = await asyncio.get_running_loop().run_in_executor(self.executor, self.decode, texts,
                                                                       group[0].options)
        except Exception as e:
            if len(group) > 1:  # find the request at fault: each alone
                for job in group:
                    await self._decode([job])
                return
            log.exception("decoding a request failed")
            _settle(group[0], exception=e)
            return
        start = 0
        for job in group:
            _settle(job, result=results[start : start + len(job.texts)])
            start += len(job.texts)


def _settle(job: _Job, result: list | None = None, exception: Exception | None = None) -> None:
    if job.future.done():  # the client went away and its request was cancelled
        return
    if exception is not None:
        job.future.set_exception(exception)
    else:
        job.future.set_result(result)
