"""SeekrFlow agent-runtime routes: `/v1/threads`, thread messages and thread runs. Handlers parse
and render; `services.seekr_operations` does the work. Both `/v1/threads` and `/v1/threads/` answer (the
SDK uses the trailing slash)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query

from threadloom.api.compat.common import require_api_key, sse_data
from threadloom.api.deps import get_ctx
from threadloom.api.http import JSONResponse, JSONRoute
from threadloom.api.schemas import MAX_INT64
from threadloom.errors import Unprocessable
from threadloom.services import seekr_operations as service
from threadloom.services.context import ServerContext

router = APIRouter(
    prefix="/v1/threads",
    tags=["SeekrFlow"],
    default_response_class=JSONResponse,
    route_class=JSONRoute,
    dependencies=[Depends(require_api_key)],
)

Order = Literal["asc", "desc"]


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise Unprocessable("Request body must be a JSON object")
    return body


# --- threads --------------------------------------------------------------------------------
@router.post("", summary="Create a thread (SeekrFlow)")
@router.post("/", include_in_schema=False)
async def create_thread(body: Any = Body(None), ctx: ServerContext = Depends(get_ctx)) -> Any:
    meta = _object(body).get("meta_data")
    if meta is not None and not isinstance(meta, dict):
        raise Unprocessable("meta_data must be an object")
    return await service.create_thread(ctx, meta)


@router.get("", summary="List threads (SeekrFlow)")
@router.get("/", include_in_schema=False)
async def list_threads(
    limit: int = Query(20, ge=0, le=1000),
    order: Order = "desc",
    offset: int = Query(0, ge=0, le=MAX_INT64),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    return await service.list_threads(ctx, limit=limit, order=order, offset=offset)


@router.get("/{thread_id}", summary="Get a thread (SeekrFlow)")
async def get_thread(thread_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return await service.render_thread(ctx, await service.get_thread(ctx, thread_id))


@router.delete("/{thread_id}", summary="Delete a thread (SeekrFlow)")
async def delete_thread(thread_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return await service.delete_thread(ctx, thread_id)


# --- messages -------------------------------------------------------------------------------
@router.get("/{thread_id}/messages", summary="List a thread's messages (SeekrFlow)")
async def list_messages(
    thread_id: str,
    limit: int = Query(20, ge=0, le=1000),
    order: Order = "desc",
    offset: int = Query(0, ge=0, le=MAX_INT64),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    return await service.list_messages(ctx, thread_id, limit=limit, order=order, offset=offset)


@router.post("/{thread_id}/messages", summary="Add a message to a thread (SeekrFlow)")
async def add_message(
    thread_id: str, body: Any = Body(None), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    data = _object(body)
    meta = data.get("meta_data")
    if meta is not None and not isinstance(meta, dict):
        raise Unprocessable("meta_data must be an object")
    message_id = data.get("id")
    return await service.add_message(
        ctx,
        thread_id,
        role=str(data.get("role") or "user"),
        content=data.get("content"),
        message_id=message_id if isinstance(message_id, str) and message_id else None,
        meta_data=meta,
    )


@router.get("/{thread_id}/messages/{message_id}", summary="Get a thread message (SeekrFlow)")
async def get_message(
    thread_id: str, message_id: str, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    return await service.get_message(ctx, thread_id, message_id)


# --- runs -----------------------------------------------------------------------------------
@router.post("/{thread_id}/runs", summary="Create a run (SeekrFlow)")
async def create_run(
    thread_id: str, body: Any = Body(None), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    data = _object(body)
    run = await service.create_run(ctx, thread_id, data)
    return {
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "status": "queued",
        "group": data.get("group"),
    }


@router.post("/{thread_id}/runs/stream", summary="Create a run and stream it (SeekrFlow)")
@router.post("/{thread_id}/runs/stream/vercel", summary="Create a run, AI SDK stream (SeekrFlow)")
async def stream_run(
    thread_id: str, body: Any = Body(None), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    run = await service.create_run(ctx, thread_id, _object(body), background=False)
    return sse_data(service.vercel_events(ctx, run))


@router.get("/{thread_id}/runs", summary="List a thread's runs (SeekrFlow)")
async def list_runs(
    thread_id: str,
    limit: int = Query(20, ge=0, le=1000),
    order: Order = "desc",
    offset: int = Query(0, ge=0, le=MAX_INT64),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    return await service.list_runs(ctx, thread_id, limit=limit, order=order, offset=offset)


@router.get("/{thread_id}/runs/{run_id}", summary="Get a run (SeekrFlow)")
async def get_run(thread_id: str, run_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    run = await service.get_run(ctx, thread_id, run_id)
    return (await service.render_runs(ctx, [run]))[0]


@router.post("/{thread_id}/runs/{run_id}/cancel", summary="Cancel a run (SeekrFlow)")
async def cancel_run(
    thread_id: str, run_id: str, body: Any = Body(None), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    _object(body)  # the SDK sends a RunRequest; nothing in it changes the cancel
    return await service.cancel(ctx, thread_id, run_id)


@router.get("/{thread_id}/runs/{run_id}/attach", summary="Attach to a run's output (SeekrFlow)")
async def attach(thread_id: str, run_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    run = await service.get_run(ctx, thread_id, run_id)
    return sse_data(service.vercel_events(ctx, run))
