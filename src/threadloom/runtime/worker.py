"""The worker pool: claims due runs and executes them, up to `settings.run_slots` at once.

The loop is event driven: it claims when woken (a run was inserted, a run finished and freed its
thread) and otherwise sleeps until the next delayed run is due. It talks to the queue through
one port, the storage's `WorkerSession` (storage/worker_session.py): claims, heartbeats, and
whatever a backend does to hand runs over faster (PostgreSQL offers free slots, so a /wait run
may arrive already assigned) stay behind it. Leases are extended by a heartbeat; expired leases
of dead workers are re-queued by a cheap reaper; runs interrupted by a shutdown go back to the
queue and resume from their last checkpoint on the next start.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from threadloom.runtime.broker import Broker
from threadloom.runtime.executor import ExecutionResult, GraphBuilder, RunExecutor
from threadloom.serde import utcnow
from threadloom.settings import Settings
from threadloom.storage.base import Storage
from threadloom.storage.errors import is_unavailable
from threadloom.storage.operations import SlotOffer
from threadloom.storage.records import Run
from threadloom.storage.worker_session import WorkerSession
from threadloom.telemetry.metrics import METRICS

logger = logging.getLogger(__name__)

# everything running "a long time ago" is left over from a previous process (embedded mode)
_RECOVER_ALL = timedelta(days=365 * 100)
# how many finished run ids a worker remembers, to ignore a late duplicate hand-over
_RECENT = 1024


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WorkerPool:
    """Executes queued runs in this process. `start()` returns at once; `stop()` drains."""

    def __init__(
        self,
        storage: Storage,
        broker: Broker,
        registry: GraphBuilder,
        settings: Settings,
        worker_id: str | None = None,
        *,
        recover_on_start: bool | None = None,
        idle_interval: float | None = None,
    ) -> None:
        self.storage = storage
        self.broker = broker
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.executor = RunExecutor(storage, broker, registry, settings)
        self.executor.offer_slot = self._end_offer
        self.slots = settings.run_slots
        # embedded mode owns the whole database: anything `running` at start is ours, orphaned
        self.recover_on_start = (
            (not settings.is_cluster) if recover_on_start is None else recover_on_start
        )
        # the longest the loop sleeps without a wake-up (a safety net, not the hot path)
        self.idle_interval = idle_interval if idle_interval is not None else settings.lease_seconds
        self._running: dict[str, asyncio.Task[ExecutionResult | None]] = {}
        # runs an outage stopped here whose re-queue could not be written: still `running`
        # under this worker's lease; re-queued at the first heartbeat that reaches the database
        # instead of waiting for the lease to expire and a reaper to notice
        self._unreleased: set[str] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._maintenance_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._due_backoff = 0.0
        self.session: WorkerSession = storage.worker_session(
            worker_id=self.worker_id,
            lease_seconds=settings.lease_seconds,
            start_run=self._spawn,
            wake=broker.wake_here,
        )
        # (run_id, attempt) of runs that ended here: a claim may return a handed-over run again
        self._recent: collections.OrderedDict[tuple[str, int], None] = collections.OrderedDict()

    @property
    def active_runs(self) -> list[str]:
        return list(self._running)

    def slot_usage(self) -> tuple[int, int]:
        """(slots, slots busy) — the metrics' `lg_api_workers_*` gauges."""
        return self.slots, len(self._running)

    async def start(self) -> None:
        if self._loop_task is not None or self.slots <= 0:
            return
        self._stopping = False
        if self.recover_on_start:
            recovered = await self.storage.runs.reap_expired(utcnow() + _RECOVER_ALL)
            if recovered:
                logger.info("re-queued %d runs left running by a previous process", len(recovered))
        self._loop_task = asyncio.create_task(
            self._loop(), name=f"threadloom-worker-{self.worker_id}"
        )
        self._maintenance_task = asyncio.create_task(self._maintain(), name="threadloom-leases")
        await self.session.open()
        await self.broker.wake_workers()

    def stop_claiming(self) -> None:
        """The first step of `stop()`, callable from a signal handler: claim nothing more
        (an API process's HTTP drain can outlast the grace period otherwise)."""
        self._stopping = True
        self.session.stop_taking()
        if self._loop_task is not None:
            self._loop_task.cancel()

    async def stop(self) -> None:
        """Stop claiming; give running runs `shutdown_grace_seconds`; requeue the rest."""
        self._stopping = True
        self.session.stop_taking()
        await self.session.close(set(self._running))
        for loop_task in (self._loop_task, self._maintenance_task):
            if loop_task is not None:
                loop_task.cancel()
        for loop_task in (self._loop_task, self._maintenance_task):
            if loop_task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await loop_task
        self._loop_task = None
        self._maintenance_task = None
        if not self._running:
            return
        pending = set(self._running.values())
        _, pending = await asyncio.wait(pending, timeout=self.settings.shutdown_grace_seconds)
        if not pending:
            return
        leftover = [run_id for run_id, task in self._running.items() if task in pending]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if leftover:
            try:
                count = await self.storage.runs.requeue(leftover, worker_id=self.worker_id)
                logger.info("re-queued %d runs at shutdown", count)
            except Exception:
                logger.exception("re-queueing runs at shutdown failed; leases will expire")
        self._running.clear()

    # --- the claim loop -----------------------------------------------------------------
    async def _loop(self) -> None:
        while not self._stopping:
            free = self.slots - len(self._running)
            if free <= 0:  # a finishing run wakes us
                await self.broker.wait_for_work(self.idle_interval)
                continue
            try:
                batch = await self.session.claim(free, self._running.keys())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_unavailable(exc):
                    METRICS.backend_error(exc)
                logger.exception("claiming runs failed")
                await asyncio.sleep(1.0)  # back off a failing database; not the hot path
                continue
            for run in batch.runs:
                self._spawn(run)
            if batch.full:
                continue  # maybe more are due
            await self.broker.wait_for_work(self._sleep_for(batch.next_due_at))

    def _sleep_for(self, due: datetime | None) -> float:
        """Sleep until the next delayed run is due, at most `idle_interval`. The claim that
        came back short told us when that is (fresh each time: a cached due time could miss a
        delayed run inserted together with an immediate one under a single wake-up)."""
        if due is None:
            self._due_backoff = 0.0
            return self.idle_interval
        wait = (due - utcnow()).total_seconds()
        if wait <= 0:
            # due but not claimed (the due time skips blocked threads): it fell due between the
            # claim's two steps, or another worker is mid-claim. Retry soon, backing off.
            self._due_backoff = min(max(self._due_backoff * 2, 0.01), self.idle_interval)
            return self._due_backoff
        self._due_backoff = 0.0
        return min(wait, self.idle_interval)

    def _spawn(self, run: Run) -> bool:
        """Start `run` unless this worker runs or just ran this attempt of it (a run handed over
        at insert can arrive twice: by notification and with the next claim)."""
        if run.run_id in self._running or (run.run_id, run.attempt) in self._recent:
            return False
        task = asyncio.create_task(self._execute(run), name=f"threadloom-run-{run.run_id}")
        self._running[run.run_id] = task
        return True

    async def _execute(self, run: Run) -> ExecutionResult | None:
        result: ExecutionResult | None = None
        try:
            if run.attempt > self.settings.max_attempts:
                result = await self.executor.fail(
                    run,
                    {
                        "error": "RuntimeError",
                        "message": f"Run exceeded {self.settings.max_attempts} attempts",
                    },
                )
            else:
                result = await self.executor.execute(run)
            return result
        except asyncio.CancelledError:
            raise  # shutdown or lost lease: `stop()` re-queues
        except Exception as exc:
            if is_unavailable(exc):
                await self._release(run, exc)
                return None
            # the terminal write itself failed: back to the queue once the database answers
            logger.exception("run %s could not be finished", run.run_id)
            self._unreleased.add(run.run_id)
            return None
        finally:
            was_full = len(self._running) >= self.slots
            claim_now = self.session.run_ended(
                run.run_id, finished=result is not None, was_full=was_full
            )
            self._running.pop(run.run_id, None)
            self._recent[(run.run_id, run.attempt)] = None
            if len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
            # a finished run already woke every worker if its thread may have more runs queued
            # (`_announce_end`); a failed one has not; a full pool has a slot again either way
            if not self._stopping and result is None:
                await self.broker.wake_workers()
            elif claim_now and not self._stopping:
                self.broker.wake_here()  # a slot is free again: claim (and maybe offer it)

    def _end_offer(self, run: Run) -> SlotOffer | None:
        """Asked by the executor as `run` ends: what its terminal write hands back (the
        session decides; nothing while stopping)."""
        if self._stopping:
            return None
        return self.session.end_offer(run.run_id, pool_full=len(self._running) >= self.slots)

    async def _release(self, run: Run, exc: BaseException) -> None:
        """An outage stopped the run: back to the queue now if the database answers, else when
        its lease runs out (the reaper). Either way the next attempt resumes from a checkpoint."""
        METRICS.backend_error(exc)
        logger.warning("run %s stopped by an outage (%s); re-queueing it", run.run_id, exc)
        try:
            await self.storage.runs.requeue([run.run_id], worker_id=self.worker_id)
        except Exception:
            logger.warning("re-queueing run %s failed; retried at the next heartbeat", run.run_id)
            self._unreleased.add(run.run_id)

    # --- leases ---------------------------------------------------------------------------
    async def _maintain(self) -> None:
        """Heartbeat held runs every heartbeat period; reap dead workers' runs every lease."""
        interval = self.settings.lease_heartbeat_seconds
        last_reap: datetime | None = None
        while not self._stopping:
            await asyncio.sleep(interval)
            try:
                await self._heartbeat()
                now = utcnow()
                if (
                    last_reap is None
                    or (now - last_reap).total_seconds() >= self.settings.lease_seconds
                ):
                    last_reap = now
                    reaped = await self.storage.runs.reap_expired(now)
                    if reaped:
                        logger.warning("re-queued %d runs with expired leases", len(reaped))
                        await self.broker.wake_workers()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_unavailable(exc):
                    METRICS.backend_error(exc)
                logger.exception("lease maintenance failed")

    async def _heartbeat(self) -> None:
        await self._requeue_unreleased()
        held = list(self._running)
        still: set[str] = set(await self.session.heartbeat(held))
        if not held:
            return
        for run_id in held:
            if run_id in still or run_id not in self._running:
                continue
            # not held: either it just finished, or our lease expired and it was re-queued
            current = await self.storage.runs.get(run_id)
            if current is None or not current.inflight or current.worker_id == self.worker_id:
                continue
            task = self._running.get(run_id)
            if task is not None:
                logger.warning("lost the lease of run %s; stopping it", run_id)
                task.cancel()

    async def _requeue_unreleased(self) -> None:
        """The database is back: hand this worker's stopped runs back to the queue now (REQUEUE
        touches only runs still running under this worker's lease; one started here again
        meanwhile is left alone)."""
        if not self._unreleased:
            return
        pending = [run_id for run_id in self._unreleased if run_id not in self._running]
        if pending:
            count = await self.storage.runs.requeue(pending, worker_id=self.worker_id)
            if count:
                logger.info("re-queued %d runs stopped by an outage", count)
                await self.broker.wake_workers()
        self._unreleased.clear()
