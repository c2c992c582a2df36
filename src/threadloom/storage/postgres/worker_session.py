"""A worker's side of the queue on PostgreSQL: claims, plus slots offered for hand-over.

A claim that leaves slots free offers them (up to `MAX_OFFERS`, migration 0006); a stateless
`/wait` insert takes an offer and the run arrives on this worker's own NOTIFY channel already
assigned, started without a claim (`on_assigned`). A run's terminal write may put its slot
back on offer in the same statement (`end_offer`), so a busy worker does not claim after every
run. Heartbeats renew the offers and notice ones taken by runs whose notification was lost
(the next claim returns those runs). All of that bookkeeping lives here; the worker pool only
sees the `WorkerSession` port.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from threadloom.storage.operations import ClaimBatch, SlotOffer
from threadloom.storage.postgres.queue import OfferChannel
from threadloom.storage.worker_session import StartRun, WorkerSession

if TYPE_CHECKING:
    from threadloom.storage.postgres.runs import PostgresRunStore
    from threadloom.storage.postgres.storage import PostgresStorage
    from threadloom.storage.records import Run

logger = logging.getLogger(__name__)

MAX_OFFERS = 16
"""Free slots a worker offers at most: enough for a burst of /wait runs to skip the queue; the
rest of a large pool is filled by claims (each offer is a row the inserts scan past)."""


def offer_channel_for(worker_id: str) -> str:
    """The NOTIFY channel a worker hears hand-overs on (a valid identifier of bounded length)."""
    return "threadloom_w_" + hashlib.sha1(worker_id.encode()).hexdigest()


class PostgresWorkerSession(WorkerSession):
    runs: PostgresRunStore

    def __init__(
        self,
        storage: PostgresStorage,
        *,
        worker_id: str,
        lease_seconds: float,
        start_run: StartRun,
        wake: Callable[[], None],
    ) -> None:
        super().__init__(
            storage.runs,
            worker_id=worker_id,
            lease_seconds=lease_seconds,
            start_run=start_run,
            wake=wake,
        )
        self.storage = storage
        self.channel = offer_channel_for(worker_id)
        self.open_offers = 0  # slots on offer now, as far as this worker knows
        self._handed: set[str] = set()  # runs that took an offer since the last claim
        self._reoffering: set[str] = set()  # ending runs whose terminal write re-offers
        self._stop_listening: Callable[[], Awaitable[None]] | None = None

    async def open(self) -> None:
        # /wait runs are NOTIFYed at commit; hand-overs arrive on this worker's own channel
        self._stop_listening = await self.storage.listen_for_runs(
            self.wake, offers=OfferChannel(self.channel, self._on_assigned)
        )

    def _on_assigned(self, run: Run) -> None:
        """A run took one of our offers: start it now (its slot goes back on offer with its
        terminal write)."""
        if not self.taking:
            task = asyncio.ensure_future(self.runs.requeue([run.run_id], worker_id=self.worker_id))
            task.add_done_callback(_log_failure)
            return
        self.open_offers = max(self.open_offers - 1, 0)
        if self.start_run(run):
            self._handed.add(run.run_id)

    async def claim(self, free: int, running: Collection[str]) -> ClaimBatch:
        # the claim returns the runs that took our offers, counted against the limit: those
        # still running here are already counted in `free`, so count them once
        handed, self._handed = self._handed, set()
        free += len(handed.intersection(running))
        batch = await self.runs.claim_batch(
            worker_id=self.worker_id,
            limit=free,
            lease_seconds=self.lease_seconds,
            offer_channel=self.channel,
            offers=min(free, MAX_OFFERS),
        )
        self.open_offers = batch.offered
        return batch

    async def heartbeat(self, run_ids: Sequence[str]) -> list[str]:
        if self.open_offers:
            open_now = await self.runs.renew_offer(
                worker_id=self.worker_id, lease_seconds=self.lease_seconds
            )
            if open_now < self.open_offers:
                # taken by runs whose notification is late or lost (or gone): the claim sorts
                # it out (and returns those runs)
                self.open_offers = open_now
                self.wake()
        return await super().heartbeat(run_ids)

    def end_offer(self, run_id: str, *, pool_full: bool) -> SlotOffer | None:
        """Not when stopping, not when the pool was full (runs may be queued for the slot: the
        claim after it takes them first), not past `MAX_OFFERS`."""
        if not self.taking or pool_full or self.open_offers >= MAX_OFFERS:
            return None
        self._reoffering.add(run_id)
        return SlotOffer(self.worker_id, self.channel, self.lease_seconds)

    def run_ended(self, run_id: str, *, finished: bool, was_full: bool) -> bool:
        reoffered = run_id in self._reoffering
        self._reoffering.discard(run_id)
        self._handed.discard(run_id)
        if not finished:
            return True
        if reoffered:
            self.open_offers += 1  # its terminal write put the slot back on offer
            return False
        return was_full or not self.open_offers

    async def close(self, running: Collection[str]) -> None:
        """No more runs handed over; any handed over meanwhile go back to the queue."""
        await super().close(running)
        self.open_offers = 0
        try:
            taken = await self.runs.withdraw_offer(worker_id=self.worker_id)
            unknown = [run_id for run_id in taken if run_id not in running]
            if unknown:
                # REQUEUE only touches those still running here (not those that ended)
                await self.runs.requeue(unknown, worker_id=self.worker_id)
        except Exception:
            logger.warning("withdrawing this worker's offer failed; it expires with its lease")
        if self._stop_listening is not None:
            await self._stop_listening()
            self._stop_listening = None


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("re-queueing a run handed over during shutdown failed: %s", task.exception())
