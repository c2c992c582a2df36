"""The records Threadloom keeps: assistants, threads and runs.

Plain dataclasses shared by every backend and every layer above storage. The API renders them to
the LangGraph, Letta and SeekrFlow shapes; storage only persists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
RunStatus = Literal["pending", "running", "success", "error", "timeout", "interrupted"]
MultitaskStrategy = Literal["reject", "enqueue", "interrupt", "rollback"]
CancelAction = Literal["interrupt", "rollback"]

Durability = Literal["sync", "async", "exit"]
OnDisconnect = Literal["cancel", "continue"]


class RunKwargs(TypedDict, total=False):
    """What a run was asked to do, as LangGraph records it on the run (`Run.kwargs`): the
    request's payload with the assistant's config and context merged in."""

    input: Any
    command: dict[str, Any] | None
    config: dict[str, Any]
    context: dict[str, Any] | None
    stream_mode: list[str]
    interrupt_before: list[str] | str | None
    interrupt_after: list[str] | str | None
    webhook: str | None
    feedback_keys: list[str] | None
    temporary: bool
    subgraphs: bool
    stream_subgraphs: bool  # older records
    resumable: bool
    checkpoint_id: str | None
    checkpoint: dict[str, Any] | None
    checkpoint_during: bool | None
    durability: Durability
    on_disconnect: OnDisconnect
    compat: dict[str, Any]
    """What a Letta/SeekrFlow request asked for that LangGraph has no slot for."""
    protocol: str
    """"v3": started through the thread protocol (`run.start`), streamed as its events."""


THREAD_STATUSES: tuple[str, ...] = ("idle", "busy", "interrupted", "error")
RUN_STATUSES: tuple[str, ...] = ("pending", "running", "success", "error", "timeout", "interrupted")
INFLIGHT_STATUSES: tuple[str, ...] = ("pending", "running")
TERMINAL_STATUSES: tuple[str, ...] = ("success", "error", "timeout", "interrupted")


@dataclass(slots=True)
class Assistant:
    """One assistant at its current version (a version row has the same shape)."""

    assistant_id: str
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    version: int
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class ThreadTTL:
    strategy: Literal["delete", "keep_latest"]
    ttl_minutes: float
    expires_at: datetime | None = None


@dataclass(slots=True)
class Thread:
    thread_id: str
    created_at: datetime
    updated_at: datetime
    state_updated_at: datetime
    metadata: dict[str, Any]
    config: dict[str, Any]
    status: ThreadStatus
    values: Any = None
    interrupts: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    ttl: ThreadTTL | None = None


@dataclass(slots=True)
class Run:
    """The one run record behind the LangGraph, Letta and SeekrFlow views."""

    run_id: str
    thread_id: str
    assistant_id: str
    status: RunStatus
    multitask_strategy: MultitaskStrategy
    metadata: dict[str, Any]
    kwargs: RunKwargs
    created_at: datetime
    updated_at: datetime
    # lifecycle
    started_at: datetime | None = None
    ended_at: datetime | None = None
    attempt: int = 0
    worker_id: str | None = None
    lease_expires_at: datetime | None = None
    stop_reason: str | None = None
    error: dict[str, Any] | None = None
    background: bool = True
    temporary: bool = False
    cancel_requested: dict[str, Any] | None = None
    # measures
    first_token_at: datetime | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    model_snapshot: dict[str, Any] | None = None
    # delivery
    webhook: dict[str, Any] | None = None

    @property
    def inflight(self) -> bool:
        return self.status in INFLIGHT_STATUSES


@dataclass(slots=True)
class QueueStats:
    """The whole queue at one moment (`/metrics`): counts and the waits of due pending runs,
    in seconds (None when no run is waiting)."""

    n_pending: int
    n_running: int
    wait_max: float | None
    wait_median: float | None
    unblocked_wait_max: float | None

    @classmethod
    def at(
        cls,
        now: datetime,
        n_pending: int,
        n_running: int,
        oldest_due: datetime | None,
        median_due: datetime | None,
        oldest_unblocked: datetime | None,
    ) -> QueueStats:
        def wait(created: datetime | None) -> float | None:
            return None if created is None else max(0.0, (now - created).total_seconds())

        return cls(
            n_pending=int(n_pending),
            n_running=int(n_running),
            wait_max=wait(oldest_due),
            wait_median=wait(median_due),
            unblocked_wait_max=wait(oldest_unblocked),
        )

    def as_json(self) -> dict[str, float | int | None]:
        """The reference's `queue` object of `/metrics?format=json`."""
        return {
            "n_pending": self.n_pending,
            "pending_runs_wait_time_max_secs": self.wait_max,
            "pending_runs_wait_time_med_secs": self.wait_median,
            "pending_unblocked_runs_wait_time_max_secs": self.unblocked_wait_max,
            "n_running": self.n_running,
        }


@dataclass(slots=True)
class ThreadSnapshot:
    """What a finished run (or a state update) leaves on its thread, written with the run status."""

    status: ThreadStatus
    values: Any
    interrupts: dict[str, Any]
    error: dict[str, Any] | None = None


# Search totals are counted exactly up to `offset + limit + SEARCH_COUNT_SLACK` matches and
# reported as that cap beyond it: an exact count(*) reads every matching row (45 ms for 10,000
# matching threads of 1M), while paging only needs to know whether more rows exist. 200 keeps
# the count of a large result set within the 10 ms p99 budget at 1M threads (1,000 did not:
# 27 ms p99, its ~1,000 heap pages mostly cold) and is exact for twenty pages of ten.
SEARCH_COUNT_SLACK = 200


# the largest count both databases take as a parameter (SQLite and PostgreSQL bigint)
_MAX_COUNT = 2**63 - 1


def search_count_cap(limit: int, offset: int) -> int:
    """How many matches a search counts at most (read at call time, so tests can lower it);
    never past a 64-bit integer, which an offset at the API's largest (2**63 - 1) would take
    the sum beyond (SQLite then refused the parameter: a 500)."""
    return min(offset + limit + SEARCH_COUNT_SLACK, _MAX_COUNT)


@dataclass(slots=True)
class Page:
    """One page of a search plus the number of matches (for X-Pagination-Total): exact up to
    `search_count_cap(limit, offset)`, that cap (a lower bound) beyond it."""

    items: list[Any]
    total: int


@dataclass(slots=True)
class Cron:
    """A schedule that creates runs: `payload` is what each run is created with (the request's
    body, as the reference keeps it); `auth_user` is its creator's, whom its runs run as."""

    cron_id: str
    assistant_id: str
    thread_id: str | None
    user_id: str | None
    schedule: str
    timezone: str | None
    end_time: datetime | None
    next_run_date: datetime
    payload: dict[str, Any]
    metadata: dict[str, Any]
    on_run_completed: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime
    auth_user: dict[str, Any] | None = None
    # until when a scheduler holds the due firing it claimed (None: nobody does)
    lease_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class CronFiring:
    """One firing of a cron: the slot it was claimed at (`next_run_date` then) and the slot it
    moves to. `RunStore.create_run(firing=…)` advances the cron from `slot` to `next_slot` in
    the run's own transaction, so the run exists if and only if the slot was consumed."""

    cron_id: str
    slot: datetime
    next_slot: datetime
    run_id: str
