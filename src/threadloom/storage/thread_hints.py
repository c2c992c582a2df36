"""What the executor tells its storage's checkpoint saver about the threads it runs on.

One `ThreadHints` per storage (`Storage.thread_hints`), shared with its saver, keyed by thread id:
the executor opens a hint around a run's attempt, the saver consults it on every read and write.
Two hints exist:

- **fresh** (`storage/fresh_threads.py`): a stateless run's temporary thread was created in the
  same statement as its run, so on the first attempt LangGraph's opening read of its latest
  checkpoint always finds nothing; the saver answers it without a query, until the first write.
- **temporary** (`storage/held_writes.py`): the thread goes with the run, so the saver need not
  wait for the disk when it writes its checkpoints, and may hold them back for a moment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threadloom.storage.held_writes import HeldWrites


def _thread_of(config: Any) -> Any:
    return (config.get("configurable") or {}).get("thread_id")


class ThreadHints:
    def __init__(self) -> None:
        self._fresh: set[str] = set()
        self._temporary: dict[str, HeldWrites] = {}

    # --- set by the executor around an attempt --------------------------------------------
    @contextmanager
    def fresh(self, thread_id: str) -> Iterator[None]:
        """Within this block `thread_id` has no checkpoints until the first write to it."""
        self._fresh.add(thread_id)
        try:
            yield
        finally:
            self._fresh.discard(thread_id)

    @contextmanager
    def temporary(self, thread_id: str, hold_for: float = 0.0) -> Iterator[HeldWrites]:
        """Within this block `thread_id` is a stateless run's temporary thread: its checkpoint
        writes need not wait for the disk and may be held back for `hold_for` seconds."""
        held = HeldWrites(thread_id, hold_for)
        self._temporary[thread_id] = held
        try:
            yield held
        finally:
            if self._temporary.get(thread_id) is held:
                del self._temporary[thread_id]

    # --- read by the saver ----------------------------------------------------------------
    def known_empty(self, config: Any) -> bool:
        """A read of the latest checkpoint for `config` would find nothing."""
        if not self._fresh:
            return False
        configurable = config.get("configurable") or {}
        return configurable.get("thread_id") in self._fresh and not configurable.get(
            "checkpoint_id"
        )

    def written(self, config: Any) -> None:
        """A write to the thread: reads go to the database from now on."""
        if self._fresh:
            self._fresh.discard(_thread_of(config))

    def held_for(self, config: Any) -> HeldWrites | None:
        """The held writes of the temporary thread `config` addresses, if it is one."""
        if not self._temporary:
            return None
        return self._temporary.get(_thread_of(config))

    def is_temporary(self, config: Any) -> bool:
        return self.held_for(config) is not None

    async def before_read(self, config: Any) -> None:
        """Held writes reach the database before anything reads their thread (`None`: any
        thread, so every temporary thread's)."""
        if not self._temporary:
            return
        if config is None:
            for every in list(self._temporary.values()):
                if every.pending:
                    await every.flush()
            return
        held = self.held_for(config)
        if held is not None and held.pending:
            await held.flush()
