"""Micro-batching with a fake decode function: what is merged, what is refused, what fails alone."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from nmt.serving.batcher import MicroBatcher, QueueFull


class FakeDecode:
    """Upper-cases texts; records each call's texts; fails on the text "boom"; can be held back: a decode
    sets `started`, then waits for `release`."""

    def __init__(self):
        self.calls: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, texts, options):
        self.started.set()
        assert self.release.wait(10), "the test never released the decode"
        self.calls.append(list(texts))
        if "boom" in texts:
            raise RuntimeError("cannot decode boom")
        return [f"{t.upper()}/{options}" for t in texts]


def _run(decode, body, **kw):
    async def main():
        settings = dict(max_pending=100, max_batch=64, wait=0.05) | kw
        batcher = MicroBatcher(decode, executor=ThreadPoolExecutor(1), **settings)
        batcher.start()
        try:
            return await body(batcher)
        finally:
            await batcher.stop()
    return asyncio.run(main())


def test_requests_that_arrive_together_share_one_decode_and_get_their_own_results():
    decode = FakeDecode()

    async def body(b):
        return await asyncio.gather(b.submit(["a", "b", "c"], 5), b.submit(["d"], 5), b.submit(["e", "f"], 5))

    results = _run(decode, body)
    assert results == [["A/5", "B/5", "C/5"], ["D/5"], ["E/5", "F/5"]]
    assert decode.calls == [["a", "b", "c", "d", "e", "f"]]  # one decode for the three requests


def test_different_options_are_decoded_apart():
    decode = FakeDecode()

    async def body(b):
        return await asyncio.gather(b.submit(["a"], 1), b.submit(["b"], 5), b.submit(["c"], 1))

    assert _run(decode, body) == [["A/1"], ["B/5"], ["C/1"]]
    assert sorted(decode.calls) == [["a", "c"], ["b"]]


def test_a_batch_holds_at_most_max_batch_sentences():
    decode = FakeDecode()

    async def body(b):
        return await asyncio.gather(*(b.submit([str(i), str(i)], 0) for i in range(5)))

    results = _run(decode, body, max_batch=4)
    assert results == [[f"{i}/0", f"{i}/0"] for i in range(5)]
    assert [len(c) for c in decode.calls] == [4, 4, 2]


def test_requests_beyond_the_bound_are_refused_at_once():
    decode = FakeDecode()
    decode.release.clear()  # the first decode is held, so its sentences stay pending

    async def body(b):
        first = asyncio.ensure_future(b.submit(["a", "b", "c"], 0))
        await asyncio.to_thread(decode.started.wait, 10)  # the first decode has begun, and is held
        assert b.pending == 3
        with pytest.raises(QueueFull):
            await b.submit(["d", "e"], 0)  # 3 + 2 > 4
        second = asyncio.ensure_future(b.submit(["d"], 0))  # 3 + 1 fits
        await asyncio.sleep(0)  # one turn of the loop: the submission is counted, not yet decoded
        assert b.pending == 4
        decode.release.set()
        return await first, await second, b.pending

    first, second, pending = _run(decode, body, max_pending=4, wait=0.0)
    assert first == ["A/0", "B/0", "C/0"] and second == ["D/0"] and pending == 0


def test_a_failing_request_fails_alone():
    decode = FakeDecode()

    async def body(b):
        return await asyncio.gather(b.submit(["a"], 0), b.submit(["boom"], 0), b.submit(["c"], 0),
                                    return_exceptions=True)

    ok1, bad, ok2 = _run(decode, body)
    assert ok1 == ["A/0"] and ok2 == ["C/0"]
    assert isinstance(bad, RuntimeError) and "boom" in str(bad)
    assert decode.calls[0] == ["a", "boom", "c"]  # tried together, then one by one


def test_the_event_loop_keeps_running_while_a_batch_decodes():
    decode = FakeDecode()
    decode.release.clear()

    async def body(b):
        task = asyncio.ensure_future(b.submit(["a"], 0))
        await asyncio.to_thread(decode.started.wait, 10)
        ticks = 0
        while ticks < 100:  # the decode is held in its thread: the loop must go on turning meanwhile
            await asyncio.sleep(0)
            ticks += 1
        assert not task.done()
        decode.release.set()
        return ticks, await task

    ticks, result = _run(decode, body, wait=0.0)
    assert result == ["A/0"] and ticks == 100


def test_a_lone_client_is_not_kept_waiting_for_company_but_two_are_batched():
    decode = FakeDecode()

    async def body(b):
        # one client, one request at a time: nothing else is in flight, so neither waits the 60 s
        alone = [await asyncio.wait_for(b.submit([x], 0), 5) for x in ("a", "b")]
        # two clients: "d" arrives while "c" decodes, so the next decode waits for company (until the
        # batch of 2 is full) and "d" shares it with the first client's next request "e"
        decode.release.clear()
        decode.started.clear()
        first = asyncio.ensure_future(b.submit(["c"], 0))
        await asyncio.to_thread(decode.started.wait, 10)
        second = asyncio.ensure_future(b.submit(["d"], 0))
        await asyncio.sleep(0)
        decode.release.set()
        done = await first
        third = await asyncio.wait_for(asyncio.gather(second, b.submit(["e"], 0)), 5)
        return alone, done, third

    alone, done, third = _run(decode, body, wait=60, max_batch=2)
    assert alone == [["A/0"], ["B/0"]] and done == ["C/0"] and third == [["D/0"], ["E/0"]]
    assert decode.calls == [["a"], ["b"], ["c"], ["d", "e"]]
