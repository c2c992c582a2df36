"""A worker's side of the run queue: the one port `runtime/worker.py` talks to.

`Storage.worker_session(...)` opens one per worker pool. The pool asks it for runs (`claim`),
keeps its leases (`heartbeat`), asks it whether a finishing run's terminal write should also
hand its slot back (`end_offer`), tells it when a run ended (`run_ended`), and closes it when
stopping (`close`). This module's `WorkerSession` is the plain claim loop every backend can
run (SQLite's); a backend that hands runs to workers at insert keeps that bookkeeping in its
own subclass (PostgreSQL: `storage/postgres/worker_session.py`), so the pool knows neither.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from threadloom.storage.operations import ClaimBatch, SlotOffer

if TYPE_CHECKING:
    from threadloom.storage.base import RunStore
    from threadloom.storage.records import Run

StartRun = Callable[["Run"], bool]
"""Starts a run the backend handed over; False when the pool already runs (or just ran) it."""


class WorkerSession:
    """The plain claim loop: runs are taken by claims only, nothing is handed over."""

    def __init__(
        self,
        runs: RunStore,
        *,
        worker_id: str,
        lease_seconds: float,
        start_run: StartRun,
        wake: Callable[[], None],
    ) -> None:
        self.runs = runs
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.start_run = start_run
        self.wake = wake
        """Makes the pool claim again soon (a run became due)."""
        self.taking = True

    async def open(self) -> None:
        """Start hearing of due runs the backend notifies about (nothing here)."""

    async def claim(self, free: int, running: Collection[str]) -> ClaimBatch:
        """Up to `free` due runs for this worker (`running`: the runs it executes now)."""
        return await self.runs.claim_batch(
            worker_id=self.worker_id, limit=free, lease_seconds=self.lease_seconds
        )

    async def heartbeat(self, run_ids: Sequence[str]) -> list[str]:
        """Extend the leases of `run_ids`; the ids this worker still holds."""
        if not run_ids:
            return []
        return await self.runs.heartbeat(
            worker_id=self.worker_id, run_ids=run_ids, lease_seconds=self.lease_seconds
        )

    def end_offer(self, run_id: str, *, pool_full: bool) -> SlotOffer | None:
        """Asked as a run ends: what its terminal write should hand back (`RunStore.finish`'s
        `offer`). Nothing here."""
        return None

    def run_ended(self, run_id: str, *, finished: bool, was_full: bool) -> bool:
        """A run left the pool (`finished`: its terminal write landed). Should the pool claim
        now? Here always: a slot is free and nothing hands runs over."""
        return True

    def stop_taking(self) -> None:
        """Stopping: take no more runs (callable from a signal handler)."""
        self.taking = False

    async def close(self, running: Collection[str]) -> None:
        """Stopped: give back whatever was handed over meanwhile and is not in `running`."""
        self.taking = False
