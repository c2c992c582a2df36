"""Letta v1 routes: `/v1/runs/...` over Threadloom runs, and the agent message endpoints that
create them. Handlers parse and render; `services.letta_operations` does the work."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query

from threadloom.api.compat.common import require_api_key, sse_data
from threadloom.api.deps import get_ctx
from threadloom.api.http import JSONResponse, JSONRoute
from threadloom.errors import Unprocessable
from threadloom.services import letta_operations as service
from threadloom.services.context import ServerContext

router = APIRouter(
    prefix="/v1",
    tags=["Letta"],
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


# --- runs -----------------------------------------------------------------------------------
@router.get("/runs/", summary="List runs (Letta)")
@router.get("/runs", include_in_schema=False)
async def list_runs(
    agent_id: str | None = None,
    agent_ids: list[str] | None = Query(None),
    statuses: list[str] | None = Query(None),
    active: bool = False,
    background: bool | None = None,
    stop_reason: str | None = None,
    conversation_id: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    order: Order = "desc",
    order_by: Literal["created_at"] = "created_at",
    ascending: bool | None = None,
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    return await service.list_runs(
        ctx,
        agent_id=agent_id,
        agent_ids=agent_ids,
        statuses=statuses,
        active=active,
        background=background,
        stop_reason=stop_reason,
        conversation_id=conversation_id,
        after=after,
        before=before,
        limit=limit,
        order=order,
        ascending=ascending,
    )


@router.get("/runs/active", summary="Active runs (deprecated Letta route)")
async def active_runs(ctx: ServerContext = Depends(get_ctx)) -> Any:
    return await service.list_runs(ctx, active=True)


@router.get("/runs/{run_id}", summary="Retrieve a run (Letta)")
async def get_run(run_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return service.render(await service.get_run(ctx, run_id))


@router.get("/runs/{run_id}/usage", summary="A run's token usage (Letta)")
async def run_usage(run_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return await service.usage(ctx, run_id)


@router.get("/runs/{run_id}/steps", summary="A run's LLM and tool calls (Letta)")
async def run_steps(
    run_id: str,
    after: str | None = None,
    before: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    order: Order = "desc",
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    return await service.steps(ctx, run_id, after=after, before=before, limit=limit, order=order)


@router.get("/runs/{run_id}/messages", summary="Messages a run produced (Letta)")
async def run_messages(
    run_id: str,
    after: str | None = None,
    before: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    order: Order = "asc",
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    return await service.messages(ctx, run_id, after=after, before=before, limit=limit, order=order)


@router.post("/runs/{run_id}/stream", summary="Resume a background run's stream (Letta)")
async def resume_stream(
    run_id: str, body: Any = Body(None), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    data = _object(body)
    starting_after = data.get("starting_after") or 0
    if not isinstance(starting_after, int) or starting_after < 0:
        raise Unprocessable("starting_after must be a non-negative integer")
    run = await service.get_run(ctx, run_id)
    await service.check_resumable(ctx, run)
    return sse_data(service.stream_chunks(ctx, run, starting_after=starting_after))


# --- agent messages (run creation) ----------------------------------------------------------
@router.post("/agents/{agent_id}/messages", summary="Send messages and wait (Letta)")
async def send_messages(
    agent_id: str, body: Any = Body(None), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    data = _object(body)
    if data.get("streaming"):
        return await _stream(ctx, agent_id, data)
    return await service.send_and_wait(ctx, agent_id, data)


@router.post("/agents/{agent_id}/messages/stream", summary="Send messages and stream (Letta)")
async def stream_messages(
    agent_id: str, body: Any = Body(None), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    return await _stream(ctx, agent_id, _object(body))


async def _stream(ctx: ServerContext, agent_id: str, data: dict[str, Any]) -> Any:
    run = await service.send(ctx, agent_id, data, background=bool(data.get("background")))
    return sse_data(service.stream_chunks(ctx, run))


@router.post("/agents/{agent_id}/messages/async", summary="Send messages in the background (Letta)")
async def send_async(
    agent_id: str, body: Any = Body(None), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    data = _object(body)
    callback_url = data.get("callback_url")
    if callback_url is not None and not isinstance(callback_url, str):
        raise Unprocessable("callback_url must be a string")
    run = await service.send(ctx, agent_id, data, background=True, callback_url=callback_url)
    return service.render(run)


@router.post("/agents/{agent_id}/messages/cancel", summary="Cancel an agent's runs (Letta)")
async def cancel(
    agent_id: str, body: Any = Body(None), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    run_ids = _object(body).get("run_ids")
    if run_ids is not None and (
        not isinstance(run_ids, list) or not all(isinstance(r, str) for r in run_ids)
    ):
        raise Unprocessable("run_ids must be a list of run ids")
    return await service.cancel(ctx, agent_id, run_ids)
