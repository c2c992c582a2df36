"""Run endpoints: on a thread (`/threads/{id}/runs/...`) and stateless (`/runs/...`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response

from threadloom.api import render
from threadloom.api.deps import get_ctx
from threadloom.api.docs import CANCEL, NO_CONTENT, SSE, WAIT, RunOut, fields_of, ok
from threadloom.api.http import JSONBodyRoute, JSONResponse
from threadloom.api.schemas import MAX_INT64, BulkCancel, RunCreate
from threadloom.api.sse import EventStreamResponse, KeepAliveJSONResponse, encode_events
from threadloom.errors import InvalidInput, NotFound, Unprocessable
from threadloom.services import cancel as cancel_service
from threadloom.services import runs as service
from threadloom.services.context import ServerContext
from threadloom.services.run_streams import (
    JoinPlan,
    is_resumable,
    lost_position_event,
    mode_filter,
    plan_join,
)
from threadloom.storage.records import Run

router = APIRouter(
    tags=["Thread Runs"], default_response_class=JSONResponse, route_class=JSONBodyRoute
)
stateless = APIRouter(
    prefix="/runs",
    tags=["Stateless Runs"],
    default_response_class=JSONResponse,
    route_class=JSONBodyRoute,
)

MAX_LIST_LIMIT = 1000
"""The largest page `GET /threads/{id}/runs` gives (api/run_list_fast_path.py reads it too)."""

RunStatusName = Literal["pending", "running", "error", "success", "timeout", "interrupted"]
RunSelect = Literal[
    "run_id",
    "thread_id",
    "assistant_id",
    "created_at",
    "updated_at",
    "status",
    "metadata",
    "kwargs",
    "multitask_strategy",
]
CANCEL_ACTION_DOC = "`interrupt` or `rollback`; any other value is taken as `interrupt`"


def _payload(body: RunCreate) -> dict[str, Any]:
    return body.model_dump(exclude_none=True)


def _run_path(run: Run, stateful: bool) -> str:
    if stateful:
        return f"/threads/{run.thread_id}/runs/{run.run_id}"
    return f"/runs/{run.run_id}"


def parse_stream_modes(raw: list[str] | None) -> list[str] | None:
    """`stream_mode` arrives as one value, a JSON array string, or repeated parameters."""
    if not raw:
        return None
    modes: list[str] = []
    for item in raw:
        text = item.strip()
        if text.startswith("["):
            try:
                modes.extend(str(m) for m in orjson.loads(text))
            except orjson.JSONDecodeError:
                raise Unprocessable(f"stream_mode is not a valid JSON array: {item!r}") from None
        else:
            modes.extend(part.strip() for part in text.split(",") if part.strip())
    return modes or None


def parse_last_event_id(value: str | None) -> int | None:
    """The seq a `Last-Event-ID` header names (0: from the start); None without one."""
    if not value:
        return None
    if value in ("-", "-1", "0"):
        return 0
    tail = value.rsplit("-", 1)[-1] if not value.isdigit() else value
    if not tail.isdigit():
        raise Unprocessable(f"Invalid Last-Event-ID {value!r}")
    return int(tail)


async def run_frames(
    ctx: ServerContext,
    run_id: str,
    *,
    after: int = 0,
    follow: bool = True,
    modes: frozenset[str] | None = None,
    with_ids: bool = False,
) -> AsyncIterator[bytes]:
    first = after > 0  # a resume: the log must still hold the event after `after`
    async for batch in ctx.broker.read_batches(run_id, after=after, follow=follow):
        if first:
            first = False
            lost = lost_position_event(batch, after)
            if lost is not None:
                yield encode_events([lost], with_ids=False)
                return
        if modes is not None:
            batch = [e for e in batch if e.event.split("|", 1)[0] in modes]
        if batch:
            yield encode_events(batch, with_ids=with_ids)


async def join_frames(
    ctx: ServerContext, run_id: str, plan: JoinPlan, modes: frozenset[str] | None
) -> AsyncIterator[bytes]:
    if plan.after is None:
        return
    async for frame in run_frames(
        ctx, run_id, after=plan.after, follow=plan.follow, modes=modes, with_ids=plan.with_ids
    ):
        yield frame


def _cancel_on_disconnect(ctx: ServerContext, run: Run) -> Any:
    async def cancel() -> None:
        await cancel_service.interrupt_run(ctx, run)

    return cancel


def _headers(run: Run, stateful: bool, location_suffix: str) -> dict[str, str]:
    path = _run_path(run, stateful)
    return {"Location": f"{path}/{location_suffix}", "Content-Location": path}


async def _create(
    ctx: ServerContext,
    headers: Mapping[str, str],
    body: RunCreate,
    thread_id: str | None,
    *,
    background: bool,
    need_values: bool = False,
    durable: bool = True,
) -> Run:
    return await service.create_run(
        ctx,
        _payload(body),
        thread_id=thread_id,
        background=background,
        need_values=need_values,
        durable=durable,
        request_headers=headers,
    )


# --- creating a run: one function per response shape, of (ctx, body, thread_id, the request's
# headers, lower-case names);
# the FastAPI endpoints below call them, and so does the hot path (api/hot_path.py)
async def respond_created(
    ctx: ServerContext, body: RunCreate, thread_id: str | None, headers: Mapping[str, str]
) -> Response:
    """A background run: its record."""
    run = await _create(ctx, headers, body, thread_id, background=True)
    stateful = thread_id is not None
    return JSONResponse(render.run(run), headers={"Content-Location": _run_path(run, stateful)})


async def respond_stream(
    ctx: ServerContext, body: RunCreate, thread_id: str | None, headers: Mapping[str, str]
) -> Response:
    """A run whose events stream back as server-sent events."""
    run = await _create(ctx, headers, body, thread_id, background=False)
    on_disconnect = _cancel_on_disconnect(ctx, run) if body.on_disconnect == "cancel" else None
    return EventStreamResponse(
        run_frames(ctx, run.run_id, with_ids=is_resumable(run.kwargs)),
        headers=_headers(run, thread_id is not None, "stream"),
        heartbeat_seconds=ctx.settings.stream_keepalive_seconds,
        on_disconnect=on_disconnect,
    )


async def respond_wait(
    ctx: ServerContext, body: RunCreate, thread_id: str | None, headers: Mapping[str, str]
) -> Response:
    """A run whose final output is the response (kept alive while it runs)."""
    run = await _create(
        ctx, headers, body, thread_id, background=False, need_values=True, durable=False
    )
    on_disconnect = _cancel_on_disconnect(ctx, run) if body.on_disconnect == "cancel" else None
    return KeepAliveJSONResponse(
        lambda: service.final_output(ctx, run),
        headers=_headers(run, True, "join"),  # stateless too: the temporary thread's path
        heartbeat_seconds=ctx.settings.stream_keepalive_seconds,
        on_disconnect=on_disconnect,
    )


def _headers_of(request: Request) -> Mapping[str, str]:
    return request.headers  # Starlette's: lower-case names


# --- runs on a thread ---------------------------------------------------------------------
@router.post("/threads/{thread_id}/runs", summary="Create a background run", responses=ok(RunOut))
async def create_run(
    thread_id: str, body: RunCreate, request: Request, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    return await respond_created(ctx, body, thread_id, _headers_of(request))


@router.post(
    "/threads/{thread_id}/runs/stream", summary="Create a run and stream its output", responses=SSE
)
async def stream_run(
    thread_id: str, body: RunCreate, request: Request, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    return await respond_stream(ctx, body, thread_id, _headers_of(request))


@router.post(
    "/threads/{thread_id}/runs/wait", summary="Create a run and wait for its output", responses=WAIT
)
async def wait_run(
    thread_id: str, body: RunCreate, request: Request, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    return await respond_wait(ctx, body, thread_id, _headers_of(request))


@router.get(
    "/threads/{thread_id}/runs",
    summary="List a thread's runs, newest first",
    responses=ok(list[fields_of(RunOut)]),  # type: ignore[misc]
)
async def list_runs(
    thread_id: str,
    limit: int = Query(10, ge=0, le=MAX_LIST_LIMIT),  # 0: a valid, empty page (as the reference)
    offset: int = Query(0, ge=0, le=MAX_INT64),
    status: RunStatusName | None = Query(None),
    select: list[RunSelect] | None = Query(None),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    runs = await service.list_runs(ctx, thread_id, limit=limit, offset=offset, status=status)
    return render.select((render.run(r) for r in runs), list(select) if select else None)


@router.get("/threads/{thread_id}/runs/{run_id}", summary="Get a run", responses=ok(RunOut))
async def get_run(thread_id: str, run_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return render.run(await service.get(ctx, run_id, thread_id=thread_id))


@router.delete(
    "/threads/{thread_id}/runs/{run_id}",
    status_code=204,
    summary="Delete a run",
    responses=NO_CONTENT,
)
async def delete_run(
    thread_id: str, run_id: str, ctx: ServerContext = Depends(get_ctx)
) -> Response:
    await service.delete(ctx, thread_id, run_id)
    return Response(status_code=204)


@router.get(
    "/threads/{thread_id}/runs/{run_id}/join",
    summary="Wait for a run and return its output",
    responses=WAIT,
)
async def join_run(
    thread_id: str,
    run_id: str,
    cancel_on_disconnect: bool = False,
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    try:
        run = await service.get(ctx, run_id, thread_id=thread_id)
    except NotFound:  # a stateless run that ended and went with its thread, perhaps
        output = await service.output_of_deleted(ctx, run_id)
        path = f"/threads/{thread_id}/runs/{run_id}"
        return JSONResponse(output, headers={"Location": f"{path}/join", "Content-Location": path})
    return KeepAliveJSONResponse(
        lambda: service.final_output(ctx, run),
        headers=_headers(run, True, "join"),
        heartbeat_seconds=ctx.settings.stream_keepalive_seconds,
        on_disconnect=_cancel_on_disconnect(ctx, run) if cancel_on_disconnect else None,
    )


@router.get(
    "/threads/{thread_id}/runs/{run_id}/stream", summary="Join a run's stream", responses=SSE
)
async def join_stream(
    thread_id: str,
    run_id: str,
    stream_mode: list[str] | None = Query(None),
    cancel_on_disconnect: bool = False,
    last_event_id: str | None = Header(None),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    run = await service.get(ctx, run_id, thread_id=thread_id)
    modes = mode_filter(parse_stream_modes(stream_mode))
    plan = await plan_join(
        ctx,
        run.run_id,
        resumable=is_resumable(run.kwargs),
        inflight=run.inflight,
        last_event_id=parse_last_event_id(last_event_id),
    )
    return EventStreamResponse(
        join_frames(ctx, run.run_id, plan, modes),
        headers=_headers(run, True, "stream"),
        heartbeat_seconds=ctx.settings.stream_keepalive_seconds,
        on_disconnect=_cancel_on_disconnect(ctx, run) if cancel_on_disconnect else None,
    )


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", summary="Cancel a run", responses=CANCEL)
async def cancel_run(
    thread_id: str,
    run_id: str,
    wait: bool = False,
    action: str = Query("interrupt", description=CANCEL_ACTION_DOC),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    run = await service.get(ctx, run_id, thread_id=thread_id)
    await cancel_service.cancel_run(ctx, run, action=cancel_service.cancel_action(action))
    if not wait:
        return Response(status_code=202)
    return KeepAliveJSONResponse(
        lambda: service.final_output(ctx, run),
        headers=_headers(run, True, "join"),
        heartbeat_seconds=ctx.settings.stream_keepalive_seconds,
    )


# --- stateless runs -----------------------------------------------------------------------
@stateless.post("", summary="Create a background run on a new thread", responses=ok(RunOut))
async def create_stateless(
    body: RunCreate, request: Request, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    return await respond_created(ctx, body, None, _headers_of(request))


@stateless.post(
    "/stream", summary="Create a run on a new thread and stream its output", responses=SSE
)
async def stream_stateless(
    body: RunCreate, request: Request, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    return await respond_stream(ctx, body, None, _headers_of(request))


@stateless.post(
    "/wait", summary="Create a run on a new thread and wait for its output", responses=WAIT
)
async def wait_stateless(
    body: RunCreate, request: Request, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    return await respond_wait(ctx, body, None, _headers_of(request))


@stateless.post(
    "/batch", summary="Create many background runs on new threads", responses=ok(list[RunOut])
)
async def batch_stateless(
    request: Request, body: list[RunCreate] = Body(...), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    if not body:
        raise InvalidInput("Batch is empty")
    headers = _headers_of(request)
    runs = [await _create(ctx, headers, item, None, background=True) for item in body]
    return [render.run(r) for r in runs]


@stateless.get("/{run_id}/stream", summary="Join a run's stream by its id", responses=SSE)
async def join_stream_by_id(
    run_id: str,
    stream_mode: list[str] | None = Query(None),
    last_event_id: str | None = Header(None),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    """Where a stateless `/runs/stream` response points its `Location`: the SDKs reconnect here
    (with `Last-Event-ID`) when a stream is cut. A stateless run deleted at its end is served
    from its retained events while they last."""
    modes = mode_filter(parse_stream_modes(stream_mode))
    after = parse_last_event_id(last_event_id)
    rid, run = await service.stream_of(ctx, run_id)
    # a run deleted at its end: a client that kept the last `id:` it saw had a resumable one
    resumable = is_resumable(run.kwargs) if run is not None else after is not None
    plan = await plan_join(
        ctx,
        rid,
        resumable=resumable,
        inflight=run is not None and run.inflight,
        last_event_id=after,
    )
    return EventStreamResponse(
        join_frames(ctx, rid, plan, modes),
        headers={"Location": f"/runs/{rid}/stream"},
        heartbeat_seconds=ctx.settings.stream_keepalive_seconds,
    )


@stateless.post(
    "/cancel",
    status_code=204,
    summary="Cancel runs by status, or by thread and ids",
    responses=NO_CONTENT,
)
async def cancel_many(
    body: BulkCancel,
    action: str = Query("interrupt", description=CANCEL_ACTION_DOC),
    ctx: ServerContext = Depends(get_ctx),
) -> Response:
    await cancel_service.cancel_many(
        ctx,
        status=body.status,
        thread_id=body.thread_id,
        run_ids=body.run_ids,
        action=cancel_service.cancel_action(action),
    )
    return Response(status_code=204)
