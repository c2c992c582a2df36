"""Assistants: versioned configurations of a graph, plus the graph introspection Studio reads."""

from __future__ import annotations

from typing import Any

from threadloom.errors import InvalidInput, NotFound, Unprocessable
from threadloom.graphs.registry import system_assistant_id
from threadloom.graphs.schemas import drawable_graph, graph_schemas, subgraph_schemas
from threadloom.services.context import ServerContext
from threadloom.services.ids import is_uuid, new_id, parse_uuid
from threadloom.storage.base import Filters
from threadloom.storage.records import Assistant, Page


def resolve_id(ctx: ServerContext, assistant_id: str) -> str:
    """A graph id stands for its system assistant where the reference takes one: a run's
    `assistant_id` and `/assistants/{id}/graph` (and the Letta / SeekrFlow views). The other
    `/assistants/{id}` routes take UUIDs only (`assistant_uuid`)."""
    if ctx.registry.has(assistant_id):
        return system_assistant_id(assistant_id)
    if is_uuid(assistant_id):
        return parse_uuid(assistant_id, "assistant_id")
    raise Unprocessable(f"Invalid assistant_id: {assistant_id!r} is neither a UUID nor a graph id")


def assistant_uuid(assistant_id: str) -> str:
    """An `/assistants/{id}` path that names a graph is a 422, as the reference answers."""
    return parse_uuid(assistant_id, "assistant_id")


def mirror_config_context(
    config: dict[str, Any] | None, context: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`config.configurable` and `context` carry the same values; fill whichever is missing."""
    config = dict(config or {})
    configurable = config.get("configurable")
    if configurable and context:
        raise InvalidInput(
            "Cannot specify both configurable and context. Prefer setting context alone."
        )
    if configurable:
        context = dict(configurable)
    elif context:
        config["configurable"] = dict(context)
    return config, dict(context or {})


def _require_graph(ctx: ServerContext, graph_id: str) -> None:
    if not ctx.registry.has(graph_id):
        raise NotFound(
            f"Graph {graph_id!r} not found. Known graphs: {', '.join(ctx.registry.graph_ids)}"
        )


async def create(
    ctx: ServerContext,
    *,
    graph_id: str,
    assistant_id: str | None,
    config: dict[str, Any] | None,
    context: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
    name: str | None,
    description: str | None,
    if_exists: str,
    filters: Filters = None,
) -> Assistant:
    _require_graph(ctx, graph_id)
    config, context = mirror_config_context(config, context)
    aid = parse_uuid(assistant_id, "assistant_id") if assistant_id else new_id()
    return await ctx.storage.assistants.create(
        assistant_id=aid,
        graph_id=graph_id,
        config=config,
        context=context,
        metadata=dict(metadata or {}),
        name=name or "Untitled",
        description=description,
        if_exists=if_exists,  # type: ignore[arg-type]
    )


async def get(
    ctx: ServerContext, assistant_id: str, filters: Filters = None, *, by_graph: bool = False
) -> Assistant:
    aid = resolve_id(ctx, assistant_id) if by_graph else assistant_uuid(assistant_id)
    assistant = await ctx.storage.assistants.get(aid, filters=filters)
    if assistant is None:
        raise NotFound(f"Assistant {assistant_id} not found")
    return assistant


async def get_for_run(ctx: ServerContext, assistant_id: str) -> Assistant:
    """The assistant a new run starts from; possibly cached (`RunStore.create_run` re-checks)."""
    aid = resolve_id(ctx, assistant_id)
    assistant = await ctx.storage.assistants.get_for_run(aid)
    if assistant is None:
        raise NotFound(f"Assistant {assistant_id} not found")
    return assistant


async def update(
    ctx: ServerContext,
    assistant_id: str,
    *,
    graph_id: str | None,
    config: dict[str, Any] | None,
    context: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
    name: str | None,
    description: str | None,
    filters: Filters = None,
) -> Assistant:
    aid = assistant_uuid(assistant_id)
    if graph_id is not None:
        _require_graph(ctx, graph_id)
    if config is not None or context is not None:
        config, context = mirror_config_context(config, context)
    updated = await ctx.storage.assistants.update(
        aid,
        graph_id=graph_id,
        config=config,
        context=context,
        metadata=metadata,
        name=name,
        description=description,
        filters=filters,
    )
    if updated is None:
        raise NotFound(f"Assistant {assistant_id} not found")
    return updated


async def delete(
    ctx: ServerContext, assistant_id: str, *, delete_threads: bool, filters: Filters = None
) -> None:
    aid = assistant_uuid(assistant_id)
    if delete_threads:
        # threads created by runs of this assistant carry its id in their metadata
        while True:
            page = await ctx.storage.threads.search(
                metadata={"assistant_id": aid}, limit=100, offset=0
            )
            if not page.items:
                break
            for thread in page.items:
                await ctx.storage.threads.delete(thread.thread_id)
                await ctx.storage.delete_thread_checkpoints(thread.thread_id)
    if not await ctx.storage.assistants.delete(aid, filters=filters):
        raise NotFound(f"Assistant {assistant_id} not found")


async def search(
    ctx: ServerContext,
    *,
    graph_id: str | None,
    name: str | None,
    metadata: dict[str, Any] | None,
    limit: int,
    offset: int,
    sort_by: str | None,
    sort_order: str | None,
    filters: Filters = None,
) -> Page:
    return await ctx.storage.assistants.search(
        graph_id=graph_id,
        name=name,
        metadata=metadata,
        limit=limit,
        offset=offset,
        sort_by=sort_by or "created_at",
        sort_order=sort_order or "desc",  # type: ignore[arg-type]
        filters=filters,
    )


async def count(
    ctx: ServerContext,
    *,
    graph_id: str | None,
    name: str | None,
    metadata: dict[str, Any] | None,
    filters: Filters = None,
) -> int:
    return await ctx.storage.assistants.count(
        graph_id=graph_id, name=name, metadata=metadata, filters=filters
    )


async def versions(
    ctx: ServerContext,
    assistant_id: str,
    *,
    metadata: dict[str, Any] | None,
    limit: int,
    offset: int,
    filters: Filters = None,
) -> list[Assistant]:
    aid = assistant_uuid(assistant_id)
    found = await ctx.storage.assistants.versions(
        aid, metadata=metadata, limit=limit, offset=offset, filters=filters
    )
    if not found and await ctx.storage.assistants.get(aid, filters=filters) is None:
        raise NotFound(f"Assistant {assistant_id} not found")
    return found


async def set_latest(
    ctx: ServerContext, assistant_id: str, version: int, filters: Filters = None
) -> Assistant:
    aid = assistant_uuid(assistant_id)
    assistant = await ctx.storage.assistants.set_latest(aid, version, filters=filters)
    if assistant is None:
        raise NotFound(f"Assistant {assistant_id} version {version} not found")
    return assistant


async def _graph_for(ctx: ServerContext, assistant: Assistant, access: str) -> Any:
    config = {
        **assistant.config,
        "configurable": {**assistant.config.get("configurable", {}), **assistant.context},
    }
    return ctx.registry.build(
        assistant.graph_id,
        config,
        checkpointer=ctx.storage.checkpointer,
        store=ctx.storage.store,
        access_context=access,
    )


async def schemas(ctx: ServerContext, assistant_id: str, filters: Filters = None) -> dict[str, Any]:
    assistant = await get(ctx, assistant_id, filters)
    async with await _graph_for(ctx, assistant, "assistants.read") as graph:
        return {"graph_id": assistant.graph_id, **graph_schemas(graph)}


async def graph(
    ctx: ServerContext, assistant_id: str, *, xray: bool | int, filters: Filters = None
) -> dict[str, Any]:
    assistant = await get(ctx, assistant_id, filters, by_graph=True)
    async with await _graph_for(ctx, assistant, "assistants.read") as built:
        try:
            return drawable_graph(built, xray)
        except Exception as exc:  # a graph that cannot be drawn is the graph's problem
            raise Unprocessable(f"Graph {assistant.graph_id!r} cannot be drawn: {exc}") from None


async def subgraphs(
    ctx: ServerContext,
    assistant_id: str,
    *,
    namespace: str | None,
    recurse: bool,
    filters: Filters = None,
) -> dict[str, Any]:
    assistant = await get(ctx, assistant_id, filters)
    async with await _graph_for(ctx, assistant, "assistants.read") as built:
        return subgraph_schemas(built, namespace, recurse)
