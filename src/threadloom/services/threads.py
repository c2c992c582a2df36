"""Threads: durable conversations — lifecycle, search, copy and prune."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from threadloom.errors import NotFound
from threadloom.serde import utcnow
from threadloom.services import cancel as cancel_service
from threadloom.services import state as state_service
from threadloom.services.context import ServerContext
from threadloom.services.ids import new_id, parse_uuid
from threadloom.storage.base import Filters
from threadloom.storage.records import Page, Run, Thread, ThreadSnapshot, ThreadTTL


def make_ttl(ttl: dict[str, Any] | None) -> ThreadTTL | None:
    if not ttl:
        return None
    minutes = float(ttl["ttl"])
    return ThreadTTL(
        strategy=ttl.get("strategy") or "delete",
        ttl_minutes=minutes,
        expires_at=utcnow() + timedelta(minutes=minutes),
    )


async def get(ctx: ServerContext, thread_id: str, filters: Filters = None) -> Thread:
    tid = parse_uuid(thread_id, "thread_id")
    thread = await ctx.storage.threads.get(tid, filters=filters)
    if thread is None:
        raise NotFound(f"Thread {thread_id} not found")
    return thread


async def create(
    ctx: ServerContext,
    *,
    thread_id: str | None,
    metadata: dict[str, Any] | None,
    if_exists: str,
    ttl: dict[str, Any] | None,
    supersteps: list[dict[str, Any]] | None,
    filters: Filters = None,
) -> Thread:
    tid = parse_uuid(thread_id, "thread_id") if thread_id else new_id()
    thread = await ctx.storage.threads.create(
        thread_id=tid,
        metadata=dict(metadata or {}),
        if_exists=if_exists,  # type: ignore[arg-type]
        ttl=make_ttl(ttl) or ctx.thread_ttl.for_new_thread(),
        filters=filters,
    )
    if supersteps:
        await state_service.bulk_update(ctx, thread, supersteps)
        thread = await get(ctx, tid)
    return thread


async def update(
    ctx: ServerContext,
    thread_id: str,
    *,
    metadata: dict[str, Any] | None,
    ttl: dict[str, Any] | None,
    filters: Filters = None,
) -> Thread:
    tid = parse_uuid(thread_id, "thread_id")
    thread = await ctx.storage.threads.update(
        tid, metadata=metadata, ttl=make_ttl(ttl), filters=filters
    )
    if thread is None:
        raise NotFound(f"Thread {thread_id} not found")
    return thread


async def delete(ctx: ServerContext, thread_id: str, filters: Filters = None) -> None:
    tid = parse_uuid(thread_id, "thread_id")
    inflight = await ctx.storage.runs.inflight(tid)
    run_ids = await _run_ids(ctx, tid, filters)
    if not await ctx.storage.threads.delete(tid, filters=filters):
        raise NotFound(f"Thread {thread_id} not found")
    # their rows are gone with the thread; stop the work too
    await cancel_service.stop_workers(ctx, inflight)
    await ctx.storage.delete_thread_checkpoints(tid)
    # a deleted thread's runs are gone: their retained logs and outcomes must not answer a
    # `/join` or a stream replay any more (readers still following one are ended)
    for run_id in run_ids:
        await ctx.broker.reset(run_id)


async def _run_ids(ctx: ServerContext, thread_id: str, filters: Filters) -> list[str]:
    """Every run of the thread, read before the thread (and its runs) are deleted."""
    ids: list[str] = []
    page = 1000
    while True:
        runs = await ctx.storage.runs.list(thread_id, limit=page, offset=len(ids), filters=filters)
        if not runs:
            return ids
        ids.extend(run.run_id for run in runs)
        if len(runs) < page:
            return ids


async def search(
    ctx: ServerContext,
    *,
    ids: list[str] | None,
    metadata: dict[str, Any] | None,
    values: dict[str, Any] | None,
    status: str | None,
    limit: int,
    offset: int,
    sort_by: str | None,
    sort_order: str | None,
    filters: Filters = None,
) -> Page:
    return await ctx.storage.threads.search(
        ids=[parse_uuid(i, "thread id in ids") for i in ids] if ids else None,
        metadata=metadata,
        values=values,
        status=status,
        limit=limit,
        offset=offset,
        sort_by=sort_by or "created_at",
        sort_order=sort_order or "desc",  # type: ignore[arg-type]
        filters=filters,
    )


async def count(
    ctx: ServerContext,
    *,
    metadata: dict[str, Any] | None,
    values: dict[str, Any] | None,
    status: str | None,
    filters: Filters = None,
) -> int:
    return await ctx.storage.threads.count(
        metadata=metadata, values=values, status=status, filters=filters
    )


async def copy(ctx: ServerContext, thread_id: str, filters: Filters = None) -> Thread:
    """Fork: a new thread with the same metadata and every checkpoint."""
    source = await get(ctx, thread_id, filters)
    target = await ctx.storage.threads.create(
        thread_id=new_id(), metadata=dict(source.metadata), if_exists="raise"
    )
    await ctx.storage.copy_thread_checkpoints(source.thread_id, target.thread_id)
    status = source.status if source.status != "busy" else "idle"
    copied = await ctx.storage.threads.set_snapshot(
        target.thread_id,
        ThreadSnapshot(
            status=status, values=source.values, interrupts=source.interrupts, error=source.error
        ),
    )
    return copied or target


async def prune(
    ctx: ServerContext, thread_ids: list[str], strategy: str, filters: Filters = None
) -> int:
    pruned = 0
    for raw in thread_ids:
        tid = parse_uuid(raw, "thread_id")
        thread = await ctx.storage.threads.get(tid, filters=filters)
        if thread is None:
            continue
        if strategy == "keep_latest":
            await ctx.storage.prune_thread_checkpoints(tid)
        else:
            await delete(ctx, tid, filters)
        pruned += 1
    return pruned


async def inflight_runs(ctx: ServerContext, thread_id: str) -> list[Run]:
    """The thread's pending and running runs, oldest first (a thread stream follows them)."""
    return await ctx.storage.runs.inflight(thread_id)


async def database_reachable(ctx: ServerContext) -> bool:
    """`GET /ok?check_db=1`: whether the storage answers."""
    try:
        await ctx.storage.ping()
    except Exception:
        return False
    return True
