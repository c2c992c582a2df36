"""`/threads`: conversations, their state and its history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response

from threadloom.api import render
from threadloom.api.deps import get_ctx, pagination_headers
from threadloom.api.docs import NO_CONTENT, ThreadOut, ThreadStateOut, ok, page_of
from threadloom.api.http import JSONBodyRoute, JSONResponse
from threadloom.api.schemas import (
    HistoryQuery,
    StateCheckpointQuery,
    StateUpdate,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadPrune,
    ThreadSearch,
    dump,
)
from threadloom.services import state as state_service
from threadloom.services import threads as service
from threadloom.services.context import ServerContext

router = APIRouter(
    prefix="/threads",
    tags=["Threads"],
    default_response_class=JSONResponse,
    route_class=JSONBodyRoute,
)


@router.post("", summary="Create a thread", responses=ok(ThreadOut))
async def create_thread(
    body: ThreadCreate = Body(default_factory=ThreadCreate), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    thread = await service.create(
        ctx,
        thread_id=body.thread_id,
        metadata=body.metadata,
        if_exists=body.if_exists,
        ttl=dump(body.ttl),
        supersteps=[s.model_dump() for s in body.supersteps] if body.supersteps else None,
    )
    return render.thread(thread)


@router.post("/search", summary="Search threads", responses=page_of(ThreadOut))
async def search_threads(
    response: Response,
    body: ThreadSearch = Body(default_factory=ThreadSearch),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    page = await service.search(
        ctx,
        ids=body.ids,
        metadata=body.metadata,
        values=body.values,
        status=body.status,
        limit=body.limit,
        offset=body.offset,
        sort_by=body.sort_by,
        sort_order=body.sort_order,
    )
    pagination_headers(response, total=page.total, offset=body.offset, count=len(page.items))
    items = [render.thread(t) for t in page.items]
    if body.extract:
        for item in items:
            item["extracted"] = render.extract(item, body.extract)
    fields: list[str] | None = [str(f) for f in body.select] if body.select else None
    if fields and body.extract:
        fields.append("extracted")
    return render.select(items, fields)


@router.post("/count", summary="Count threads", responses=ok(int))
async def count_threads(
    body: ThreadCount = Body(default_factory=ThreadCount), ctx: ServerContext = Depends(get_ctx)
) -> int:
    return await service.count(ctx, metadata=body.metadata, values=body.values, status=body.status)


@router.post(
    "/prune",
    summary="Delete threads, or keep only their latest checkpoint",
    responses=ok(dict[str, int]),
)
async def prune_threads(body: ThreadPrune, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return {"pruned_count": await service.prune(ctx, body.thread_ids, body.strategy)}


@router.get("/{thread_id}", summary="Get a thread", responses=ok(ThreadOut))
async def get_thread(
    thread_id: str,
    include: str | None = Query(None, description="Comma-separated extras: ttl"),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    extras = {part.strip() for part in (include or "").split(",") if part.strip()}
    return render.thread(await service.get(ctx, thread_id), include_ttl="ttl" in extras)


@router.patch(
    "/{thread_id}",
    summary="Merge metadata into a thread, or change its TTL",
    responses=ok(ThreadOut),
)
async def patch_thread(
    thread_id: str,
    body: ThreadPatch = Body(default_factory=ThreadPatch),
    prefer: str | None = Header(None),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    thread = await service.update(ctx, thread_id, metadata=body.metadata, ttl=dump(body.ttl))
    if prefer and "return=minimal" in prefer:
        return Response(status_code=204)
    return render.thread(thread)


@router.delete(
    "/{thread_id}",
    status_code=204,
    summary="Delete a thread, its runs and checkpoints",
    responses=NO_CONTENT,
)
async def delete_thread(thread_id: str, ctx: ServerContext = Depends(get_ctx)) -> Response:
    await service.delete(ctx, thread_id)
    return Response(status_code=204)


@router.post(
    "/{thread_id}/copy", summary="Copy a thread with all its checkpoints", responses=ok(ThreadOut)
)
async def copy_thread(thread_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return render.thread(await service.copy(ctx, thread_id))


@router.get("/{thread_id}/state", summary="Latest state of a thread", responses=ok(ThreadStateOut))
async def get_state(
    thread_id: str, subgraphs: bool = False, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    thread = await service.get(ctx, thread_id)
    return await state_service.get_state(ctx, thread, subgraphs=subgraphs)


@router.post(
    "/{thread_id}/state",
    summary="Update a thread's state (writes a checkpoint)",
    responses=ok(dict[str, Any]),
)
async def update_state(
    thread_id: str, body: StateUpdate, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    thread = await service.get(ctx, thread_id)
    checkpoint = dump(body.checkpoint) or {}
    if body.checkpoint_id:
        checkpoint["checkpoint_id"] = body.checkpoint_id
    return await state_service.update_state(
        ctx, thread, values=body.values, as_node=body.as_node, checkpoint=checkpoint or None
    )


@router.post(
    "/{thread_id}/state/checkpoint",
    summary="State at a checkpoint (namespace-aware)",
    responses=ok(ThreadStateOut),
)
async def get_state_at_checkpoint_post(
    thread_id: str, body: StateCheckpointQuery, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    thread = await service.get(ctx, thread_id)
    return await state_service.get_state(
        ctx, thread, checkpoint=dump(body.checkpoint), subgraphs=body.subgraphs
    )


@router.get(
    "/{thread_id}/state/{checkpoint_id}",
    summary="State at a checkpoint",
    responses=ok(ThreadStateOut),
)
async def get_state_at_checkpoint(
    thread_id: str,
    checkpoint_id: str,
    subgraphs: bool = False,
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    thread = await service.get(ctx, thread_id)
    return await state_service.get_state(
        ctx, thread, checkpoint={"checkpoint_id": checkpoint_id}, subgraphs=subgraphs
    )


@router.get(
    "/{thread_id}/history",
    summary="Checkpoint history, newest first",
    responses=ok(list[ThreadStateOut]),
)
async def get_history(
    thread_id: str,
    limit: int = Query(
        1, ge=0, le=1000, description="How many, newest first (default: the latest only; 0: none)"
    ),
    before: str | None = Query(None, description="Checkpoint id to list before"),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    thread = await service.get(ctx, thread_id)
    return await state_service.history(
        ctx,
        thread,
        limit=limit,
        before={"checkpoint_id": before} if before else None,
        metadata=None,
        checkpoint=None,
    )


@router.post(
    "/{thread_id}/history",
    summary="Checkpoint history with filters",
    responses=ok(list[ThreadStateOut]),
)
async def post_history(
    thread_id: str,
    body: HistoryQuery = Body(default_factory=HistoryQuery),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    thread = await service.get(ctx, thread_id)
    before = body.before
    before_cfg = {"checkpoint_id": before} if isinstance(before, str) else dump(before)
    return await state_service.history(
        ctx,
        thread,
        limit=body.limit,
        before=before_cfg,
        metadata=body.metadata,
        checkpoint=dump(body.checkpoint),
    )
