"""`TemporaryThread`: how a stateless run's checkpoint writes are held back, sent and dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from threadloom.storage.fresh_threads import Send, TemporaryThread


def recorder(sent: list[int]) -> Callable[[int], Send]:
    """`send(n)`: a write that records `n` when it goes out."""

    def send(n: int) -> Send:
        async def go() -> None:
            sent.append(n)

        return go

    return send


async def test_no_delay_writes_at_once() -> None:
    sent: list[int] = []
    send = recorder(sent)
    thread = TemporaryThread("t", hold_for=0)
    await thread.write(send(1))
    assert sent == [1]
    assert not thread.pending


async def test_held_writes_go_out_in_order_once_due() -> None:
    sent: list[int] = []
    send = recorder(sent)
    thread = TemporaryThread("t", hold_for=0.02)
    for n in range(3):
        await thread.write(send(n))
    assert sent == [] and thread.pending
    for _ in range(250):
        if not thread.pending:
            break
        await asyncio.sleep(0.02)
    assert sent == [0, 1, 2]
    await thread.write(send(3))  # a later write waits again
    assert sent == [0, 1, 2]
    await thread.flush()
    assert sent == [0, 1, 2, 3]


async def test_discard_drops_held_writes_and_waits_for_one_in_flight() -> None:
    release = asyncio.Event()
    sent: list[str] = []

    async def slow() -> None:
        await release.wait()
        sent.append("slow")

    async def later() -> None:
        sent.append("later")

    thread = TemporaryThread("t", hold_for=60)
    await thread.write(slow)
    await thread.write(later)
    flushing = asyncio.ensure_future(thread.flush())
    await asyncio.sleep(0)  # the first send is under way
    discarding = asyncio.ensure_future(thread.discard())
    await asyncio.sleep(0.05)
    assert not discarding.done()  # nothing may land after the thread is deleted
    release.set()
    await asyncio.gather(flushing, discarding)
    assert sent == ["slow"]
    assert not thread.pending


async def test_a_failed_background_send_fails_the_next_write_and_read() -> None:
    async def broken() -> None:
        raise ConnectionError("database away")

    async def fine() -> None:
        pass

    thread = TemporaryThread("t", hold_for=0.01)
    await thread.write(broken)
    for _ in range(250):
        if not thread.pending:
            break
        await asyncio.sleep(0.02)
    with pytest.raises(ConnectionError):
        await thread.write(fine)
    with pytest.raises(ConnectionError):
        await thread.flush()
