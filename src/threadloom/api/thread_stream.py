"""`GET /threads/{id}/stream`: one long-lived stream of everything that happens on a thread.

Multiplexes the events of each run as it starts (ending each with a `run_done` metadata event)
and `state_update` events when someone writes the thread's state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Query

from threadloom.api.deps import get_ctx
from threadloom.api.docs import SSE
from threadloom.api.http import JSONBodyRoute, JSONResponse
from threadloom.api.runs import parse_last_event_id
from threadloom.api.sse import EventStreamResponse, encode_event, encode_events
from threadloom.errors import Unprocessable
from threadloom.services import threads as thread_service
from threadloom.services.context import ServerContext

router = APIRouter(tags=["Threads"], default_response_class=JSONResponse, route_class=JSONBodyRoute)

THREAD_MODES = frozenset({"run_modes", "lifecycle", "state_update"})
QUEUE_FRAMES = 1024  # frames buffered for a slow reader before older ones are dropped


class _Mux:
    """Bounded frame queue fed by one task per run plus the notice listener."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=QUEUE_FRAMES)

    def put(self, frame: bytes) -> None:
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(frame)


async def thread_frames(
    ctx: ServerContext, thread_id: str, modes: frozenset[str], after: int
) -> AsyncIterator[bytes]:
    mux = _Mux()
    followers: dict[str, asyncio.Task[None]] = {}

    async def follow(run_id: str, start_after: int) -> None:
        if "run_modes" in modes:
            async for batch in ctx.broker.read_batches(run_id, after=start_after):
                mux.put(encode_events(batch))
        elif "lifecycle" in modes:
            mux.put(encode_event("metadata", {"status": "run_started", "run_id": run_id}))
            async for _ in ctx.broker.read_batches(run_id, after=start_after):
                pass
        if modes & {"run_modes", "lifecycle"}:
            mux.put(encode_event("metadata", {"status": "run_done", "run_id": run_id}))

    def start(run_id: str, start_after: int = 0) -> None:
        if run_id not in followers:
            followers[run_id] = asyncio.ensure_future(follow(run_id, start_after))

    async def listen() -> None:
        async for notice in ctx.broker.thread_notices(thread_id):
            if notice.kind == "run_started" and notice.run_id:
                start(notice.run_id)
            elif notice.kind == "state_update" and "state_update" in modes:
                mux.put(encode_event("state_update", notice.data))

    listener = asyncio.ensure_future(listen())
    await asyncio.sleep(0)  # let the listener subscribe before looking at inflight runs
    for run in await thread_service.inflight_runs(ctx, thread_id):
        start(run.run_id, after)
    try:
        while True:
            yield await mux.queue.get()
    finally:
        listener.cancel()
        for task in followers.values():
            task.cancel()


@router.get(
    "/threads/{thread_id}/stream",
    summary="Stream every run and state update of a thread",
    responses=SSE,
)
async def stream_thread(
    thread_id: str,
    stream_modes: str | None = Query(
        None, description="Comma-separated: run_modes, lifecycle, state_update"
    ),
    stream_mode: list[str] | None = Query(None, description="Alias the Python SDK sends"),
    last_event_id: str | None = Header(None),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    thread = await thread_service.get(ctx, thread_id)
    requested: list[str] = []
    for raw in [stream_modes, *(stream_mode or [])]:
        if raw:
            requested.extend(
                part.strip() for part in raw.strip("[]").replace('"', "").split(",") if part.strip()
            )
    unknown = set(requested) - THREAD_MODES
    if unknown:
        raise Unprocessable(f"Unknown thread stream mode(s): {', '.join(sorted(unknown))}")
    modes = frozenset(requested) or frozenset({"run_modes"})
    return EventStreamResponse(
        thread_frames(ctx, thread.thread_id, modes, parse_last_event_id(last_event_id) or 0),
        heartbeat_seconds=ctx.settings.stream_keepalive_seconds,
    )


__all__ = ["router"]
