"""What the dashboard shows that no API route answers: the overview's numbers, the run list
across threads (keyset pages), and a run with everything measured about it.

Everything reads through the request's storage, so custom auth's filters apply as on any
route. The pages themselves render in the browser (api/dashboard.py serves them); this module
returns plain JSON-ready dicts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from threadloom.errors import NotFound, Unprocessable
from threadloom.runtime.broker import StreamEvent
from threadloom.services.context import ServerContext
from threadloom.services.views.analytics import (
    first_output_at,
    ns_between,
    primary_model,
    token_usage,
    total_duration_ns,
    ttft_ns,
)
from threadloom.storage.operations import RunCursor, RunMeasure, RunStatusClause
from threadloom.storage.records import INFLIGHT_STATUSES, RUN_STATUSES, Run

WINDOW = timedelta(hours=1)
BUCKETS = 60  # one a minute over the hour
ACTIVITY_LIMIT = 20_000  # runs of the last hour the overview reads at most
PAGE_LIMIT = 200
FAILED = frozenset({"error", "timeout"})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 3)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q` quantile (0..1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


def _quantiles(values: list[float], *qs: float) -> list[float | None]:
    """Nearest-rank quantiles of `values` with one sort (None for no values)."""
    if not values:
        return [None for _ in qs]
    values.sort()
    n = len(values)
    return [values[max(0, min(n - 1, math.ceil(q * n) - 1))] for q in qs]


def summarize(
    measures: Sequence[RunMeasure],
    *,
    now: datetime,
    pending: int,
    running: int,
    truncated: bool = False,
) -> dict[str, Any]:
    """The overview from the last hour's runs: totals, p50/p95 of duration and TTFT (from
    creation, as every view counts them), and per-minute series for the charts (oldest first).
    `now` is given so the buckets are testable. One pass, locals only: it runs on every
    refresh over every run of the hour."""
    start = now - WINDOW
    runs = [0] * BUCKETS
    failed = [0] * BUCKETS
    tokens_in = [0] * BUCKETS
    duration_series: list[list[float]] = [[] for _ in range(BUCKETS)]
    ttft_series: list[list[float]] = [[] for _ in range(BUCKETS)]
    durations: list[float] = []
    ttfts: list[float] = []
    start_ms = start.timestamp() * 1000
    last_minute_ms = now.timestamp() * 1000 - 60_000
    last_minute = 0
    for m in measures:
        created = m.created_ms
        index = int((created - start_ms) // 60_000)
        if index < 0 or index >= BUCKETS:
            continue
        runs[index] += 1
        tokens_in[index] += m.total_tokens
        if created >= last_minute_ms:
            last_minute += 1
        if m.status in FAILED:
            failed[index] += 1
        duration = m.duration_ms
        if duration is not None:
            durations.append(duration)
            duration_series[index].append(duration)
        ttft = m.ttft_ms
        if ttft is not None:
            ttfts.append(ttft)
            ttft_series[index].append(ttft)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(max(0.0, value), 3)

    d50, d95 = _quantiles(durations, 0.5, 0.95)
    t50, t95 = _quantiles(ttfts, 0.5, 0.95)
    return {
        "now": now.isoformat(),
        "window_seconds": int(WINDOW.total_seconds()),
        "runs": sum(runs),
        "truncated": truncated,
        "runs_per_second": round(last_minute / 60, 3),
        "pending": pending,
        "running": running,
        "errors": sum(failed),
        "tokens": sum(tokens_in),
        "duration_ms": {"p50": ms(d50), "p95": ms(d95)},
        "ttft_ms": {"p50": ms(t50), "p95": ms(t95)},
        "series": {
            "start": start.isoformat(),
            "bucket_seconds": 60,
            "runs": runs,
            "errors": failed,
            "tokens": tokens_in,
            "duration_p50_ms": [ms(_quantiles(d, 0.5)[0]) for d in duration_series],
            "ttft_p50_ms": [ms(_quantiles(t, 0.5)[0]) for t in ttft_series],
        },
    }


class OverviewCache:
    """The last hour's measures, kept between requests so a refresh reads only what changed:
    runs created since the last read, runs in flight, and those that were in flight last time
    (a finished run's measures never change). Rebuilt whole every `REBUILD` (runs deleted
    meanwhile drop out then) and whenever the hour holds more than ACTIVITY_LIMIT runs.

    One per process; not used under custom auth, whose filters may differ per request."""

    REBUILD = timedelta(seconds=60)
    SKEW = timedelta(seconds=5)  # clocks of other API processes may lag this much

    def __init__(self) -> None:
        self.measures: dict[str, RunMeasure] = {}
        self.inflight: set[str] = set()
        self.newest: datetime | None = None
        self.built_at: datetime | None = None
        self.lock = asyncio.Lock()

    async def read(self, ctx: ServerContext, now: datetime) -> tuple[list[RunMeasure], int, int]:
        since = now - WINDOW
        async with self.lock:
            full = (
                self.built_at is None or self.newest is None or now - self.built_at > self.REBUILD
            )
            if full:
                activity = await ctx.storage.runs.activity(since=since, limit=ACTIVITY_LIMIT)
                self.measures = {m.run_id: m for m in activity.measures}
                self.built_at = now
            else:
                assert self.newest is not None
                activity = await ctx.storage.runs.activity(
                    since=since,
                    limit=ACTIVITY_LIMIT,
                    newer_than=self.newest - self.SKEW,
                    recheck=sorted(self.inflight),
                )
                seen = {m.run_id for m in activity.measures}
                for run_id in self.inflight - seen:  # in flight last time, gone now (deleted)
                    self.measures.pop(run_id, None)
                self.measures.update((m.run_id, m) for m in activity.measures)
            if activity.truncated:
                self.built_at = None  # too many to keep: read whole next time
            since_ms = since.timestamp() * 1000
            self.measures = {k: m for k, m in self.measures.items() if m.created_ms >= since_ms}
            self.inflight = {k for k, m in self.measures.items() if m.status in INFLIGHT_STATUSES}
            self.newest = now
            return list(self.measures.values()), activity.pending, activity.running


async def overview(ctx: ServerContext, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    if ctx.caller is not None:  # custom auth: the caller's own filters, nothing shared
        activity = await ctx.storage.runs.activity(since=now - WINDOW, limit=ACTIVITY_LIMIT)
        measures, pending, running = activity.measures, activity.pending, activity.running
        truncated = activity.truncated
    else:
        cache: OverviewCache = ctx.extras.setdefault("dashboard_overview", OverviewCache())
        measures, pending, running = await cache.read(ctx, now)
        truncated = len(measures) >= ACTIVITY_LIMIT
    return summarize(measures, now=now, pending=pending, running=running, truncated=truncated)


# --- the run list --------------------------------------------------------------------------


def encode_cursor(run: Run) -> str:
    raw = f"{run.created_at.isoformat()}|{run.run_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> RunCursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        created, run_id = raw.split("|", 1)
        at = datetime.fromisoformat(created)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise Unprocessable(f"Invalid cursor {token!r}") from exc
    if at.tzinfo is None:
        raise Unprocessable(f"Invalid cursor {token!r}")
    return RunCursor(at, run_id)


def _time(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Unprocessable(f"Invalid {name} {value!r}: expected an ISO 8601 time") from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def run_summary(run: Run) -> dict[str, Any]:
    """One row of the run list."""
    usage = token_usage(run)
    return {
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "assistant_id": run.assistant_id,
        "status": run.status,
        "stop_reason": run.stop_reason,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "ttft_ms": _ms(ttft_ns(run)),
        "duration_ms": _ms(total_duration_ns(run)),
        "total_tokens": usage["total_tokens"],
        "error": (run.error or {}).get("message") if run.error else None,
    }


async def list_runs(
    ctx: ServerContext,
    *,
    status: str | None = None,
    assistant_id: str | None = None,
    thread_id: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Newest first, one keyset page: `next` is the cursor of the page after this one (None on
    the last). The time filters are keyset bounds too, so every page costs what the first does."""
    if status is not None and status not in RUN_STATUSES:
        raise Unprocessable(f"Invalid status {status!r}: expected one of {', '.join(RUN_STATUSES)}")
    if not 1 <= limit <= PAGE_LIMIT:
        raise Unprocessable(f"Invalid limit {limit}: expected 1 to {PAGE_LIMIT}")
    after = decode_cursor(cursor) if cursor else None
    until = _time(created_before, "created_before")
    since = _time(created_after, "created_after")
    if until is not None:
        bound = RunCursor(until, "")  # strictly older than `until`
        if after is None or (bound.created_at, bound.run_id) < (after.created_at, after.run_id):
            after = bound
    runs = await ctx.storage.runs.search_all(
        assistant_ids=[assistant_id] if assistant_id else None,
        thread_id=thread_id or None,
        status_clauses=[RunStatusClause(status)] if status else None,
        order="desc",
        after=after,
        before=RunCursor(since, "") if since is not None else None,
        limit=limit + 1,
    )
    more = len(runs) > limit
    runs = runs[:limit]
    return {
        "runs": [run_summary(r) for r in runs],
        "next": encode_cursor(runs[-1]) if more and runs else None,
    }


# --- one run -------------------------------------------------------------------------------


def _decoded(data: bytes | None) -> Any:
    return orjson.loads(data) if data else None


async def run_detail(ctx: ServerContext, run_id: str) -> dict[str, Any]:
    """Everything measured about a run: its timeline, usage, steps, input and (when its log is
    still kept) output or error as the stream ended."""
    run = await ctx.storage.runs.get(run_id)
    if run is None:
        raise NotFound(f"Run {run_id} not found")
    outcome = None
    if not run.inflight:
        outcome = await ctx.broker.outcome(run_id, follow=False)
    kwargs = run.kwargs or {}
    return {
        **run_summary(run),
        "metadata": run.metadata,
        "multitask_strategy": run.multitask_strategy,
        "attempt": run.attempt,
        "background": run.background,
        "error_detail": run.error,
        "cancel_requested": run.cancel_requested,
        "queue_wait_ms": _ms(ns_between(run.created_at, run.started_at)),
        "first_token_at": _iso(first_output_at(run)),
        "usage": token_usage(run),
        "model": primary_model(run),
        "steps": run.steps or [],
        "input": kwargs.get("input"),
        "command": kwargs.get("command"),
        "stream_mode": kwargs.get("stream_mode"),
        "output": _decoded(outcome.values) if outcome else None,
        "output_error": _decoded(outcome.error) if outcome else None,
        "log_kept": bool(outcome and outcome.seen),
    }


async def run_events(ctx: ServerContext, run_id: str) -> AsyncIterator[list[StreamEvent]]:
    """The run's whole event log from its first event, then live while the run is in flight
    (the API's join stream replays only resumable runs; the dashboard shows every run's log
    while it is kept). Raises NotFound before anything is streamed."""
    run = await ctx.storage.runs.get(run_id)
    if run is None:
        raise NotFound(f"Run {run_id} not found")
    if not run.inflight and not await ctx.broker.is_finished(run_id):
        return _nothing()  # the log is gone (expired, or the server restarted)
    return ctx.broker.read_batches(run_id, after=0, follow=run.inflight)


async def _nothing() -> AsyncIterator[list[StreamEvent]]:
    return
    yield
