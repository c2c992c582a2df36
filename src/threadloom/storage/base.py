"""The storage interface every backend implements (SQLite embedded, PostgreSQL cluster).

Services talk only to this interface. Every read, search, update and delete takes an optional
`filters` argument: a metadata filter (see `storage.filters`) that custom auth passes down; a row
that does not match it is treated as missing.

Invariants every backend keeps (the contract suite in tests/contract checks them):
- a run is written `pending` before `create_run` returns;
- the inflight check of a multitask strategy and the insert happen in one transaction;
- `claim_runs` never hands out a run whose thread already has a running run;
- a run's status, stop_reason, ended_at and its thread's snapshot change in one transaction.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

from threadloom.storage.operations import (
    ClaimBatch,
    RunActivity,
    RunCreateResult,
    RunCursor,
    RunStatusClause,
    SlotOffer,
    SweptThread,
)
from threadloom.storage.records import (
    Assistant,
    Cron,
    CronFiring,
    Page,
    QueueStats,
    Run,
    Thread,
    ThreadSnapshot,
    ThreadTTL,
)

if TYPE_CHECKING:
    from threadloom.storage.thread_hints import ThreadHints
    from threadloom.storage.worker_session import WorkerSession

Filters = dict[str, Any] | None
SortOrder = Literal["asc", "desc"]


class AssistantStore(abc.ABC):
    @abc.abstractmethod
    async def create(
        self,
        *,
        assistant_id: str,
        graph_id: str,
        config: dict[str, Any],
        context: dict[str, Any],
        metadata: dict[str, Any],
        name: str,
        description: str | None,
        if_exists: Literal["raise", "do_nothing"] = "raise",
    ) -> Assistant:
        """Insert version 1. `raise` → Conflict if the id exists; `do_nothing` → return existing."""

    @abc.abstractmethod
    async def upsert_system(
        self,
        *,
        assistant_id: str,
        graph_id: str,
        name: str,
        description: str | None,
        config: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> Assistant:
        """Create the graph's system assistant (with `config` and `context`), or refresh its
        name/description in place; an existing one keeps its config and context."""

    @abc.abstractmethod
    async def get(self, assistant_id: str, *, filters: Filters = None) -> Assistant | None: ...

    async def get_for_run(self, assistant_id: str) -> Assistant | None:
        """The assistant a new run starts from. A backend may answer from a cache, if its
        `RunStore.create_run(assistant=...)` then checks the answer is still current."""
        return await self.get(assistant_id)

    @abc.abstractmethod
    async def update(
        self,
        assistant_id: str,
        *,
        graph_id: str | None = None,
        config: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        filters: Filters = None,
    ) -> Assistant | None:
        """Write a new version (max+1) from the current one with the given fields replaced
        (metadata is merged) and make it current. None if missing."""

    @abc.abstractmethod
    async def delete(self, assistant_id: str, *, filters: Filters = None) -> bool: ...

    @abc.abstractmethod
    async def search(
        self,
        *,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str = "created_at",
        sort_order: SortOrder = "desc",
        filters: Filters = None,
    ) -> Page:
        """`name` is a case-insensitive substring; `metadata` is containment."""

    @abc.abstractmethod
    async def count(
        self,
        *,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        filters: Filters = None,
    ) -> int: ...

    @abc.abstractmethod
    async def versions(
        self,
        assistant_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        filters: Filters = None,
    ) -> list[Assistant]:
        """All versions, newest first."""

    @abc.abstractmethod
    async def set_latest(
        self, assistant_id: str, version: int, *, filters: Filters = None
    ) -> Assistant | None:
        """Make `version` current. None if the assistant or that version is missing."""


class ThreadStore(abc.ABC):
    @abc.abstractmethod
    async def create(
        self,
        *,
        thread_id: str,
        metadata: dict[str, Any],
        if_exists: Literal["raise", "do_nothing"] = "raise",
        ttl: ThreadTTL | None = None,
        filters: Filters = None,
    ) -> Thread:
        """`raise` → Conflict if it exists; `do_nothing` → return existing (if it matches filters,
        else Conflict)."""

    @abc.abstractmethod
    async def get(self, thread_id: str, *, filters: Filters = None) -> Thread | None: ...

    @abc.abstractmethod
    async def update(
        self,
        thread_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        ttl: ThreadTTL | None = None,
        filters: Filters = None,
    ) -> Thread | None:
        """Shallow-merge metadata, replace ttl. None if missing."""

    @abc.abstractmethod
    async def delete(self, thread_id: str, *, filters: Filters = None) -> bool:
        """Delete the thread and its runs (checkpoints are the checkpointer's, see
        `Storage.delete_thread_checkpoints`)."""

    @abc.abstractmethod
    async def search(
        self,
        *,
        ids: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        status: str | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str = "created_at",
        sort_order: SortOrder = "desc",
        filters: Filters = None,
    ) -> Page: ...

    @abc.abstractmethod
    async def count(
        self,
        *,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        status: str | None = None,
        filters: Filters = None,
    ) -> int: ...

    @abc.abstractmethod
    async def set_snapshot(self, thread_id: str, snapshot: ThreadSnapshot) -> Thread | None:
        """Write status/values/interrupts/error (after a state update or a run); bumps
        state_updated_at. Status becomes `busy` instead if the thread has an inflight run."""

    @abc.abstractmethod
    async def sweep_expired(self, now: datetime, limit: int) -> list[SweptThread]:
        """One transaction: up to `limit` threads whose TTL ran out by `now` and that have no
        pending or running run, oldest expiry first, each taken by exactly one of any number
        of concurrent sweepers. A `delete` thread is deleted there, with its runs and
        checkpoints; a `keep_latest` one gets its expiry pushed one TTL forward (its old
        checkpoints are the caller's to prune, `Storage.prune_thread_checkpoints`).

        Reads never return a `delete` thread whose TTL ran out, swept or not."""


class RunStore(abc.ABC):
    # `finish` wakes the workers itself when another run waits on the thread (PostgreSQL: a
    # NOTIFY at commit); otherwise whoever finishes a run wakes them after it
    finish_wakes_workers: bool = False

    @abc.abstractmethod
    async def create_run(
        self,
        run: Run,
        *,
        if_not_exists: Literal["reject", "create"] = "reject",
        thread_metadata: dict[str, Any] | None = None,
        prevent_insert_if_inflight: bool = False,
        filters: Filters = None,
        durable: bool = True,
        assistant: Assistant | None = None,
        thread_ttl: ThreadTTL | None = None,
        firing: CronFiring | None = None,
    ) -> RunCreateResult:
        """In one transaction: create the thread if missing and `if_not_exists == "create"`
        (with `thread_ttl`)
        (else NotFound); look at the thread's inflight runs; apply `run.multitask_strategy`:
        reject → Conflict naming the blocking run (nothing inserted);
        interrupt / rollback → insert, then request cancel on every inflight run with that
        action (pending ones end at once: interrupt → `interrupted`, rollback → deleted);
        enqueue → insert. Thread metadata gains `thread_metadata` keys it lacks (graph_id,
        assistant_id) and status becomes `busy`. `prevent_insert_if_inflight`: when the thread
        has inflight runs, insert nothing and return the oldest of them as `run` (its run_id
        differs from the one asked for). `filters` apply to an existing thread's metadata.
        `durable=False`: the caller tells its client about the run only once the run has ended
        (a `/wait`), and that end is committed durably after this insert, so the backend need not
        wait for the disk here (a crash before then loses a run nobody was told about).
        `assistant`: what `AssistantStore.get_for_run` gave and the run was built from; a backend
        whose `get_for_run` may be stale raises `StaleAssistant` (writing nothing) when it is no
        longer the current version. `firing`: a cron's firing this run is; the same
        transaction consumes it (`storage/cron_sql.fired`), or raises `FiringTaken` (nothing
        written) when the cron stands at that slot no more."""

    @abc.abstractmethod
    async def get(
        self, run_id: str, *, thread_id: str | None = None, filters: Filters = None
    ) -> Run | None:
        """Filters apply to the run's thread metadata."""

    @abc.abstractmethod
    async def list(
        self,
        thread_id: str,
        *,
        limit: int = 10,
        offset: int = 0,
        status: str | None = None,
        filters: Filters = None,
    ) -> list[Run] | None:
        """Newest first. None if the thread does not exist (or fails filters)."""

    @abc.abstractmethod
    async def search_all(
        self,
        *,
        assistant_ids: Sequence[str] | None = None,
        thread_id: str | None = None,
        status_clauses: Sequence[RunStatusClause] | None = None,
        stop_reason: str | None = None,
        background: bool | None = None,
        order: SortOrder = "desc",
        after: RunCursor | None = None,
        before: RunCursor | None = None,
        limit: int = 100,
        offset: int = 0,
        filters: Filters = None,
    ) -> builtins.list[Run]:
        """Runs across threads in `(created_at, run_id)` order (`order`), for the Letta and
        SeekrFlow lists. Keyset paging: `after` keeps runs strictly after the cursor *in that
        order*, `before` strictly before it, so page N costs what page 1 costs (indexes on
        `(created_at, run_id)` and `(assistant_id, created_at, run_id)`). Clauses are OR-ed;
        every other argument is AND-ed. `filters` apply to the run's thread metadata."""

    @abc.abstractmethod
    async def activity(
        self,
        *,
        since: datetime,
        limit: int = 20_000,
        filters: Filters = None,
        newer_than: datetime | None = None,
        recheck: Sequence[str] = (),
    ) -> RunActivity:
        """The dashboard's overview: the measures of runs created at or after `since` (newest
        first, at most `limit`: a range scan of the `(created_at, run_id)` index), and how
        many runs are pending and running now (partial / status indexes). With `newer_than`,
        only those of them created at or after it, in flight, or named in `recheck` (what a
        caller that keeps the rest needs to bring its copy up to date). `filters` apply to the
        run's thread metadata."""

    @abc.abstractmethod
    async def delete(self, run_id: str, *, thread_id: str, filters: Filters = None) -> bool: ...

    @abc.abstractmethod
    async def inflight(self, thread_id: str) -> builtins.list[Run]:
        """Pending and running runs of a thread, oldest first."""

    # --- the queue -----------------------------------------------------------------------
    @abc.abstractmethod
    async def claim(
        self, *, worker_id: str, limit: int, lease_seconds: float
    ) -> builtins.list[Run]:
        """Take up to `limit` due pending runs, oldest first, at most one per thread and none
        on a thread that already has a running run; mark them running with a lease,
        attempt += 1, started_at set on the first attempt."""

    @abc.abstractmethod
    async def next_due_at(self) -> datetime | None:
        """Earliest created_at of a pending run (for a worker to sleep until then)."""

    async def claim_batch(self, *, worker_id: str, limit: int, lease_seconds: float) -> ClaimBatch:
        """`claim`, plus `next_due_at` when fewer than `limit` runs were claimed: the worker
        loop's one call per wake-up (a backend may answer both in one round trip)."""
        runs = await self.claim(worker_id=worker_id, limit=limit, lease_seconds=lease_seconds)
        if len(runs) >= limit:
            return ClaimBatch(runs, limit=limit)
        return ClaimBatch(runs, await self.next_due_at(), limit=limit)

    @abc.abstractmethod
    async def heartbeat(
        self, *, worker_id: str, run_ids: Sequence[str], lease_seconds: float
    ) -> builtins.list[str]:
        """Extend leases; returns the ids this worker still holds."""

    @abc.abstractmethod
    async def requeue(self, run_ids: Sequence[str], *, worker_id: str | None = None) -> int:
        """Put running runs back to pending (graceful shutdown, startup recovery)."""

    @abc.abstractmethod
    async def queue_stats(self, now: datetime) -> QueueStats:
        """Pending and running counts of the whole queue and the waits of the due pending runs
        (`sql_builders.queue_stats`); read by `/metrics`, never on the run path."""

    @abc.abstractmethod
    async def reap_expired(self, now: datetime) -> builtins.list[Run]:
        """Runs whose lease expired (their worker died) go back to pending; returned."""

    @abc.abstractmethod
    async def finish(
        self,
        run_id: str,
        *,
        status: str,
        stop_reason: str | None,
        error: dict[str, Any] | None,
        thread: ThreadSnapshot | None,
        delete_run: bool = False,
        delete_thread: bool = False,
        offer: SlotOffer | None = None,
    ) -> Run | None:
        """One transaction: the run's terminal status, stop_reason, error, ended_at (only if it
        is still inflight: a second finish is a no-op returning None) and the thread snapshot
        (status `busy` instead if another run is inflight). `delete_run` (rollback) removes the
        run instead; `delete_thread` (stateless, on_completion=delete) removes the thread and its
        checkpoints. `offer`: put the slot the run held back on offer in the same statement
        (see `SlotOffer`)."""

    @abc.abstractmethod
    async def request_cancel(
        self,
        *,
        action: Literal["interrupt", "rollback"] = "interrupt",
        run_ids: Sequence[str] | None = None,
        thread_id: str | None = None,
        status: Literal["pending", "running", "all"] | None = None,
        filters: Filters = None,
    ) -> builtins.list[Run]:
        """Cancel inflight runs selected by ids (optionally within a thread) or by status.
        Pending runs end at once (interrupt → `interrupted` with stop_reason `cancelled`,
        thread snapshot refreshed; rollback → deleted); running ones get `cancel_requested`
        set for their worker. Returns the runs affected as they now are."""

    @abc.abstractmethod
    async def record_progress(
        self,
        run_id: str,
        *,
        first_token_at: datetime | None = None,
        usage: dict[str, Any] | None = None,
        steps: builtins.list[dict[str, Any]] | None = None,
        model_snapshot: dict[str, Any] | None = None,
    ) -> None:
        """Store measures as the run goes; first_token_at is only set once."""

    @abc.abstractmethod
    async def set_webhook(self, run_id: str, webhook: dict[str, Any]) -> None:
        """Record webhook delivery attempts (never touches status)."""


class CronStore(abc.ABC):
    """Crons (`/runs/crons*`). The scheduler's part (`storage/cron_sql.py` has the rule):
    `claim_due` leases the due crons without moving them, and a firing is consumed only with
    its run (`RunStore.create_run(firing=…)`) or by `consume` when no run can be made, so a
    firing happens once however many schedulers run and whichever of them is killed."""

    @abc.abstractmethod
    async def create(self, cron: Cron) -> Cron: ...

    @abc.abstractmethod
    async def get(self, cron_id: str, *, filters: Filters = None) -> Cron | None: ...

    @abc.abstractmethod
    async def update(
        self, cron_id: str, changes: dict[str, Any], *, filters: Filters = None
    ) -> Cron | None: ...

    @abc.abstractmethod
    async def delete(self, cron_id: str, *, filters: Filters = None) -> bool: ...

    @abc.abstractmethod
    async def search(
        self,
        *,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        enabled: bool | None = None,
        metadata: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str = "created_at",
        sort_order: SortOrder = "desc",
        filters: Filters = None,
    ) -> Page: ...

    @abc.abstractmethod
    async def count(
        self,
        *,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        filters: Filters = None,
    ) -> int: ...

    @abc.abstractmethod
    async def claim_due(
        self, now: datetime, limit: int, lease_seconds: float
    ) -> builtins.list[Cron]:
        """Lease up to `limit` crons due at `now` for `lease_seconds` (rows another scheduler
        is claiming are skipped); each comes back with `next_run_date` its claimed slot."""

    @abc.abstractmethod
    async def consume(self, firing: CronFiring) -> bool:
        """Move the cron from `firing.slot` to `firing.next_slot` without a run; False when
        it stands at that slot no more (fired by another, changed, deleted)."""

    @abc.abstractmethod
    async def next_due_at(self) -> datetime | None:
        """When the earliest enabled cron can next be claimed (None: no cron will fire)."""


class Storage(abc.ABC):
    """One backend: repositories plus the LangGraph checkpointer and store sharing its database."""

    assistants: AssistantStore
    threads: ThreadStore
    runs: RunStore
    crons: CronStore
    checkpointer: BaseCheckpointSaver
    store: BaseStore
    thread_hints: ThreadHints
    """What the executor tells `checkpointer` about a run's thread (storage/thread_hints.py)."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and run migrations (idempotent)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise if the database is unreachable."""

    @abc.abstractmethod
    async def sweep_store(self) -> int:
        """Delete the long-term memory items whose TTL has passed; returns how many. Reads never
        see such items anyway; this reclaims their space. Safe to call from many processes at
        once: on a shared database only one sweeps at a time, the others return 0."""

    def worker_session(
        self,
        *,
        worker_id: str,
        lease_seconds: float,
        start_run: Callable[[Run], bool],
        wake: Callable[[], None],
    ) -> WorkerSession:
        """A worker pool's side of the queue (`storage/worker_session.py`): the plain claim
        loop, unless the backend hands runs over at insert."""
        from threadloom.storage.worker_session import WorkerSession

        return WorkerSession(
            self.runs,
            worker_id=worker_id,
            lease_seconds=lease_seconds,
            start_run=start_run,
            wake=wake,
        )

    # --- checkpoint housekeeping the LangGraph savers do not offer ------------------------
    @abc.abstractmethod
    async def delete_thread_checkpoints(self, thread_id: str) -> None: ...

    @abc.abstractmethod
    async def delete_run_checkpoints(self, thread_id: str, run_id: str) -> None:
        """Delete checkpoints (and their writes) whose metadata.run_id is `run_id` (rollback)."""

    @abc.abstractmethod
    async def copy_thread_checkpoints(
        self, source_thread_id: str, target_thread_id: str
    ) -> None: ...

    @abc.abstractmethod
    async def prune_thread_checkpoints(self, thread_id: str) -> None:
        """Keep only the latest checkpoint of each namespace (TTL/prune `keep_latest`)."""
