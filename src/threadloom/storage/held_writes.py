"""A stateless run's checkpoint writes, held back for a moment and sent together, or never.

A stateless run's thread is deleted with the run, so its checkpoints matter only if its worker
dies mid-run — yet LangGraph writes one after every step, plus each task's writes: for a short
run on PostgreSQL, five statements, each a round trip, most of the run's database work. Under
the default `async` durability LangGraph already lets a crash lose the latest of them, so the
saver holds them back for up to `hold_for` seconds (`HeldWrites.write`) and then sends all it
holds in one transaction; before anything reads the thread they go out first (`before_read`),
so a run always reads what it wrote; when the run ends what is still held is dropped with the
thread (`discard`): a short stateless run writes no checkpoint at all. The executor says which
thread is such a run's through its storage's `ThreadHints` (storage/thread_hints.py). A worker that dies loses
at most `hold_for` seconds of such a run's progress; its takeover resumes from the checkpoint
before, or from the input. `durability: "sync"` (and a delay of 0) writes every one at once.

(Runs on threads write through: holding theirs too raised throughput but moved their writes,
which LangGraph overlaps with the next step, to the end of the run, on its latency.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Statement = tuple[str, dict[str, Any]]
SendMany = Callable[[list[Statement]], Awaitable[None]]


class HeldWrites:
    """A stateless run attempt's temporary thread, and the checkpoint statements held for it.

    A held statement goes out at most `hold_for` seconds after it was made, with whatever else
    is held, in the order the run made them. A send that fails in the background fails the
    run's next checkpoint write or read, as it would have failed the write itself, so an outage
    still re-queues the run."""

    def __init__(self, thread_id: str, hold_for: float = 0.0) -> None:
        self.thread_id = thread_id
        self.hold_for = hold_for
        self._held: list[Statement] = []
        self._send: SendMany | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._sending = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None  # a strong ref keeps it running
        self._failed: BaseException | None = None

    @property
    def pending(self) -> bool:
        """Writes are held or on their way."""
        return bool(self._held) or self._sending.locked()

    async def write(self, statement: Statement, send: SendMany) -> None:
        """Send `statement` now, or hold it (its values must be serialised already)."""
        if self._failed is not None:
            raise self._failed
        if self.hold_for <= 0:
            await send([statement])
            return
        self._send = send
        self._held.append(statement)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.hold_for, self._due)

    def _due(self) -> None:
        self._timer = None
        self._background = asyncio.ensure_future(self._flush_in_background())

    async def _flush_in_background(self) -> None:
        try:
            await self.flush()
        except Exception as exc:  # surfaces on the run's next checkpoint write or read
            self._failed = exc

    async def flush(self) -> None:
        """Send everything held, in order, in one go."""
        if self._failed is not None:
            raise self._failed
        async with self._sending:
            while self._held and self._send is not None:
                batch, self._held = self._held, []
                await self._send(batch)

    async def discard(self) -> None:
        """The attempt is over: drop what is held, and wait for a send already under way so
        nothing lands after the run's terminal write deletes the thread."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._held.clear()
        async with self._sending:
            pass
