"""Values the storage operations take and return, beside the records themselves
(`storage/records.py`): what a run's creation did, a worker's claim, a TTL sweep's take, a
slot offer, status clauses and keyset cursors for run lists, and the dashboard's measures.
`storage/base.py` re-exports them with the interface that uses them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from threadloom.storage.records import Run


class RunCreateResult:
    """What `create_run` did: the new run, inflight runs it asked to cancel, and whether the
    backend itself already told the workers (their `WorkerSession`) that a run is due."""

    __slots__ = ("cancelled", "run", "thread_created", "workers_notified")

    def __init__(
        self,
        run: Run,
        thread_created: bool,
        cancelled: list[Run],
        workers_notified: bool = False,
    ) -> None:
        self.run = run
        self.thread_created = thread_created
        self.cancelled = cancelled
        self.workers_notified = workers_notified


@dataclass(frozen=True, slots=True)
class ClaimBatch:
    """What a worker's claim returned: the runs it now holds, and — when it got fewer than it
    asked for — when the next pending run falls due (None: nothing is pending), so it knows
    how long it may sleep without asking again."""

    runs: list[Run]
    next_due_at: datetime | None = None
    offered: int = 0  # free slots put on offer (a backend that hands runs over at insert)
    limit: int = 0  # how many were asked for

    @property
    def full(self) -> bool:
        """As many runs as asked for: more may be due."""
        return len(self.runs) >= self.limit > 0


@dataclass(frozen=True, slots=True)
class SweptThread:
    """One thread a TTL sweep took (`ThreadStore.sweep_expired`)."""

    thread_id: str
    strategy: Literal["delete", "keep_latest"]
    run_ids: list[str]
    """`delete`: the runs deleted with it (their replay buffers are the caller's to drop)."""


@dataclass(frozen=True, slots=True)
class SlotOffer:
    """What a `WorkerSession.end_offer` asks `RunStore.finish` to do in the same statement: put
    the finished run's slot back on offer for `worker_id` (a backend that hands runs over at
    insert; the others never get one)."""

    worker_id: str
    channel: str
    lease_seconds: float


@dataclass(frozen=True, slots=True)
class RunStatusClause:
    """`status = status` and, when `stop_reason` is set, `stop_reason = …` (or `IS NOT` it when
    `exclude_stop_reason`). A list of clauses is OR-ed: the compat views' status vocabularies
    (Letta `completed` = success, or error with stop_reason max_steps) compile to these."""

    status: str
    stop_reason: str | None = None
    exclude_stop_reason: bool = False


@dataclass(frozen=True, slots=True)
class RunCursor:
    """A keyset position in the `(created_at, run_id)` order of runs."""

    created_at: datetime
    run_id: str


@dataclass(frozen=True, slots=True)
class RunMeasure:
    """One run as the dashboard's overview aggregates it: numbers the database computed, so
    thousands of runs cost no JSON decoding here."""

    run_id: str
    created_ms: float  # created_at, in ms since the Unix epoch
    duration_ms: float | None  # created → ended (None while in flight)
    ttft_ms: float | None  # created → first token, else → end of the first step if an LLM call
    status: str
    total_tokens: int


@dataclass(frozen=True, slots=True)
class RunActivity:
    """`RunStore.activity`: recent runs' measures, newest first, and the queue right now."""

    measures: list[RunMeasure]
    pending: int
    running: int
    truncated: bool  # more runs were created since `since` than `limit`
