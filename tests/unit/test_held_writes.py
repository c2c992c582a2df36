"""`HeldWrites`: how a stateless run's checkpoint writes are held back, sent together, dropped."""

from __future__ import annotations

import asyncio

import pytest

from threadloom.storage.held_writes import HeldWrites, Statement


def stmt(n: int) -> Statement:
    return (f"statement {n}", {"n": n})


class Recorder:
    """A saver's send: records each batch; `gate`, when set, holds a batch until opened."""

    def __init__(self) -> None:
        self.batches: list[list[Statement]] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, statements: list[Statement]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.batches.append(statements)


async def _settled(held: HeldWrites) -> None:
    for _ in range(250):
        if not held.pending:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("held writes never went out")


async def test_no_delay_writes_at_once() -> None:
    send = Recorder()
    held = HeldWrites("t", hold_for=0)
    await held.write(stmt(1), send)
    assert send.batches == [[stmt(1)]]
    assert not held.pending


async def test_held_writes_go_out_together_in_order_once_due() -> None:
    send = Recorder()
    held = HeldWrites("t", hold_for=0.02)
    for n in range(3):
        await held.write(stmt(n), send)
    assert send.batches == [] and held.pending
    await _settled(held)
    assert send.batches == [[stmt(0), stmt(1), stmt(2)]]  # one transaction
    await held.write(stmt(3), send)  # a later write waits again
    assert len(send.batches) == 1
    await held.flush()  # as before a read of the thread
    assert send.batches[1:] == [[stmt(3)]]


async def test_discard_drops_held_writes_and_waits_for_a_send_under_way() -> None:
    send = Recorder()
    send.gate = asyncio.Event()
    held = HeldWrites("t", hold_for=60)
    await held.write(stmt(1), send)
    await held.write(stmt(2), send)
    flushing = asyncio.ensure_future(held.flush())
    await asyncio.sleep(0)  # that batch is under way
    await held.write(stmt(3), send)  # held behind it
    discarding = asyncio.ensure_future(held.discard())
    await asyncio.sleep(0.05)
    assert not discarding.done()  # nothing may land after the thread is deleted
    send.gate.set()
    await asyncio.gather(flushing, discarding)
    assert send.batches == [[stmt(1), stmt(2)]]
    assert not held.pending


async def test_a_failed_background_send_fails_the_next_write_and_read() -> None:
    async def broken(statements: list[Statement]) -> None:
        raise ConnectionError("database away")

    held = HeldWrites("t", hold_for=0.01)
    await held.write(stmt(1), broken)
    await _settled(held)
    with pytest.raises(ConnectionError):
        await held.write(stmt(2), Recorder())
    with pytest.raises(ConnectionError):
        await held.flush()
