"""A thread's event streams get ready in the order they were asked for (api/thread_protocol.py):
the SDK closes a replaced stream once its replacement is ready, and waits forever on a stream
it closed before that stream was ready, so a later stream must not overtake an earlier one."""

from __future__ import annotations

import asyncio

import pytest

from threadloom.api import thread_protocol
from threadloom.api.thread_protocol import _OpeningOrder


async def test_a_later_stream_waits_for_the_earlier_ones_headers() -> None:
    order = _OpeningOrder()
    ready: list[str] = []
    first = await order.enter("t")

    async def second() -> None:
        release = await order.enter("t")
        ready.append("second")
        release()

    task = asyncio.ensure_future(second())
    await asyncio.sleep(0.05)
    assert ready == []  # the first stream's headers are not out yet
    ready.append("first")
    first()
    first()  # releasing twice is harmless
    await task
    assert ready == ["first", "second"]
    assert order._locks == {}  # nothing kept once no stream is opening


async def test_other_threads_do_not_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    order = _OpeningOrder()
    held = await order.enter("a")
    release = await asyncio.wait_for(order.enter("b"), 1)
    release()
    held()


async def test_a_stream_that_never_starts_holds_the_next_one_only_briefly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(thread_protocol, "OPENING_ORDER_WAIT_SECONDS", 0.05)
    order = _OpeningOrder()
    await order.enter("t")  # never released
    release = await asyncio.wait_for(order.enter("t"), 1)
    release()
