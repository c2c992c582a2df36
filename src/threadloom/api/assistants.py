"""`/assistants`: create, read, version and introspect assistants."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Response

from threadloom.api import render
from threadloom.api.deps import get_ctx, pagination_headers
from threadloom.api.docs import NO_CONTENT, AssistantOut, ok, page_of
from threadloom.api.http import JSONBodyRoute, JSONResponse
from threadloom.api.schemas import (
    AssistantCount,
    AssistantCreate,
    AssistantLatest,
    AssistantPatch,
    AssistantSearch,
    AssistantVersions,
    dump,
)
from threadloom.errors import Unprocessable
from threadloom.services import assistants as service
from threadloom.services.context import ServerContext

router = APIRouter(
    prefix="/assistants",
    tags=["Assistants"],
    default_response_class=JSONResponse,
    route_class=JSONBodyRoute,
)


@router.post("", summary="Create an assistant", responses=ok(AssistantOut))
async def create_assistant(body: AssistantCreate, ctx: ServerContext = Depends(get_ctx)) -> Any:
    assistant = await service.create(
        ctx,
        graph_id=body.graph_id,
        assistant_id=body.assistant_id,
        config=dump(body.config),
        context=body.context,
        metadata=body.metadata,
        name=body.name,
        description=body.description,
        if_exists=body.if_exists,
    )
    return render.assistant(assistant)


@router.post("/search", summary="Search assistants", responses=page_of(AssistantOut))
async def search_assistants(
    response: Response,
    body: AssistantSearch = Body(default_factory=AssistantSearch),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    page = await service.search(
        ctx,
        graph_id=body.graph_id,
        name=body.name,
        metadata=body.metadata,
        limit=body.limit,
        offset=body.offset,
        sort_by=body.sort_by,
        sort_order=body.sort_order,
    )
    pagination_headers(response, total=page.total, offset=body.offset, count=len(page.items))
    return render.select((render.assistant(a) for a in page.items), body.select)  # type: ignore[arg-type]


@router.post("/count", summary="Count assistants", responses=ok(int))
async def count_assistants(
    body: AssistantCount = Body(default_factory=AssistantCount),
    ctx: ServerContext = Depends(get_ctx),
) -> int:
    return await service.count(ctx, graph_id=body.graph_id, name=body.name, metadata=body.metadata)


@router.get("/{assistant_id}", summary="Get an assistant", responses=ok(AssistantOut))
async def get_assistant(assistant_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return render.assistant(await service.get(ctx, assistant_id))


@router.patch(
    "/{assistant_id}",
    summary="Update an assistant (creates a new version)",
    responses=ok(AssistantOut),
)
async def patch_assistant(
    assistant_id: str, body: AssistantPatch, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    assistant = await service.update(
        ctx,
        assistant_id,
        graph_id=body.graph_id,
        config=dump(body.config),
        context=body.context,
        metadata=body.metadata,
        name=body.name,
        description=body.description,
    )
    return render.assistant(assistant)


@router.delete(
    "/{assistant_id}",
    status_code=204,
    summary="Delete an assistant and its versions",
    responses=NO_CONTENT,
)
async def delete_assistant(
    assistant_id: str,
    delete_threads: bool = Query(False, description="Also delete threads this assistant ran on"),
    ctx: ServerContext = Depends(get_ctx),
) -> Response:
    await service.delete(ctx, assistant_id, delete_threads=delete_threads)
    return Response(status_code=204)


@router.get(
    "/{assistant_id}/graph",
    summary="Drawable graph (nodes and edges)",
    responses=ok(dict[str, Any]),
)
async def get_graph(
    assistant_id: str,
    xray: str = Query("false", description="true/false, or a depth > 0"),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    lowered = xray.strip().lower()
    depth: bool | int
    if lowered in ("true", "1", "yes"):
        depth = True
    elif lowered in ("false", "0", "no", ""):
        depth = False
    elif lowered.isdigit() and int(lowered) > 0:
        depth = int(lowered)
    else:
        raise Unprocessable("xray must be a boolean or a positive integer")
    return await service.graph(ctx, assistant_id, xray=depth)


@router.get(
    "/{assistant_id}/schemas",
    summary="Input, output, state, config and context schemas",
    responses=ok(dict[str, Any]),
)
async def get_schemas(assistant_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return await service.schemas(ctx, assistant_id)


@router.get(
    "/{assistant_id}/subgraphs",
    summary="Schemas of the graph's subgraphs",
    responses=ok(dict[str, Any]),
)
async def get_subgraphs(
    assistant_id: str, recurse: bool = False, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    return await service.subgraphs(ctx, assistant_id, namespace=None, recurse=recurse)


@router.get(
    "/{assistant_id}/subgraphs/{namespace}",
    summary="Schemas of one subgraph",
    responses=ok(dict[str, Any]),
)
async def get_subgraph(
    assistant_id: str, namespace: str, recurse: bool = False, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    return await service.subgraphs(ctx, assistant_id, namespace=namespace, recurse=recurse)


@router.post(
    "/{assistant_id}/versions",
    summary="List an assistant's versions",
    responses=ok(list[AssistantOut]),
)
async def list_versions(
    assistant_id: str,
    body: AssistantVersions = Body(default_factory=AssistantVersions),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    found = await service.versions(
        ctx, assistant_id, metadata=body.metadata, limit=body.limit, offset=body.offset
    )
    return [render.assistant(a) for a in found]


@router.post(
    "/{assistant_id}/latest", summary="Make a version the current one", responses=ok(AssistantOut)
)
async def set_latest(
    assistant_id: str,
    body: AssistantLatest | None = Body(default=None),
    version: int | None = Query(None, ge=1),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    chosen = body.version if body is not None else version
    if chosen is None:
        raise Unprocessable('version is required (JSON body {"version": n})')
    return render.assistant(await service.set_latest(ctx, assistant_id, chosen))
