"""The SeekrFlow agents API over Threadloom threads and runs: threads, thread messages (the
thread's `messages` state), runs on a thread, cancel, streams (other-apis.md §2).

An `agent_id` is an assistant id or graph id; `default_agent` is the project's first graph.
Runs created here reject a second run on a busy thread (SeekrFlow's `locked` thread).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from threadloom.errors import InvalidInput, NotFound, Unprocessable
from threadloom.graphs.registry import system_assistant_id
from threadloom.serde import dumps
from threadloom.services import assistants as assistant_service
from threadloom.services import cancel as cancel_service
from threadloom.services import runs as run_service
from threadloom.services import state as state_service
from threadloom.services import threads as thread_service
from threadloom.services.context import ServerContext
from threadloom.services.ids import new_id, parse_uuid
from threadloom.services.run_messages import run_messages
from threadloom.services.views import seekr_view as view
from threadloom.services.views.streams import VercelStream
from threadloom.storage.records import Run, Thread

Order = Literal["asc", "desc"]
SEEKR_STREAM_MODES = ["messages-tuple", "values"]
MESSAGE_ROLES = ("user", "assistant", "system")


def resolve_agent(ctx: ServerContext, raw: str | None) -> str:
    value = (raw or "default_agent").strip()
    if value == "default_agent":
        if not ctx.registry.graph_ids:
            raise NotFound("No graphs are loaded, so there is no default agent")
        return system_assistant_id(ctx.registry.graph_ids[0])
    if value.startswith("agent-"):
        value = value[len("agent-") :]
    return assistant_service.resolve_id(ctx, value)


async def _graph_ids(ctx: ServerContext, runs: list[Run]) -> dict[str, str | None]:
    """assistant id → graph id, for the `model` fallback (one read per distinct assistant)."""
    out: dict[str, str | None] = {}
    for assistant_id in {r.assistant_id for r in runs}:
        assistant = await ctx.storage.assistants.get(assistant_id)
        out[assistant_id] = assistant.graph_id if assistant else None
    return out


async def render_runs(ctx: ServerContext, runs: list[Run]) -> list[dict[str, Any]]:
    graphs = await _graph_ids(ctx, runs)
    timeout = ctx.settings.run_timeout_seconds
    return [
        view.render_run(r, graph_id=graphs.get(r.assistant_id), run_timeout_seconds=timeout)
        for r in runs
    ]


# --- threads --------------------------------------------------------------------------------
async def _active_run_id(ctx: ServerContext, thread_id: str) -> str | None:
    inflight = await ctx.storage.runs.inflight(thread_id)
    running = [r for r in inflight if r.status == "running"]
    return (running or inflight)[0].run_id if inflight else None


async def render_thread(ctx: ServerContext, thread: Thread) -> dict[str, Any]:
    active = await _active_run_id(ctx, thread.thread_id) if thread.status == "busy" else None
    return view.render_thread(thread, active)


async def create_thread(ctx: ServerContext, meta_data: dict[str, Any] | None) -> dict[str, Any]:
    thread = await thread_service.create(
        ctx, thread_id=None, metadata=meta_data, if_exists="raise", ttl=None, supersteps=None
    )
    return await render_thread(ctx, thread)


async def list_threads(
    ctx: ServerContext, *, limit: int, order: Order, offset: int
) -> list[dict[str, Any]]:
    if limit == 0:
        return []
    page = await thread_service.search(
        ctx,
        ids=None,
        metadata=None,
        values=None,
        status=None,
        limit=limit,
        offset=offset,
        sort_by="created_at",
        sort_order=order,
    )
    return [await render_thread(ctx, t) for t in page.items]


async def get_thread(ctx: ServerContext, thread_id: str) -> Thread:
    return await thread_service.get(ctx, thread_id)


async def delete_thread(ctx: ServerContext, thread_id: str) -> dict[str, Any]:
    await thread_service.delete(ctx, thread_id)
    return {"deleted": True}


# --- messages -------------------------------------------------------------------------------
def _messages(thread: Thread) -> list[Any]:
    values = thread.values if isinstance(thread.values, dict) else {}
    messages = values.get("messages")
    return list(messages) if isinstance(messages, list) else []


async def list_messages(
    ctx: ServerContext, thread_id: str, *, limit: int, order: Order, offset: int
) -> list[dict[str, Any]]:
    thread = await get_thread(ctx, thread_id)
    agent = thread.metadata.get("assistant_id")
    rendered = [
        view.render_message(m, thread_id=thread.thread_id, index=i, agent_id=agent)
        for i, m in enumerate(_messages(thread))
    ]
    if order == "desc":
        rendered.reverse()
    return rendered[offset : offset + limit]


async def get_message(ctx: ServerContext, thread_id: str, message_id: str) -> dict[str, Any]:
    for message in await list_messages(ctx, thread_id, limit=1_000_000, order="asc", offset=0):
        if message["id"] == message_id:
            return message
    raise NotFound(f"Message {message_id} not found in thread {thread_id}")


async def add_message(
    ctx: ServerContext,
    thread_id: str,
    *,
    role: str,
    content: Any,
    message_id: str | None,
    meta_data: dict[str, Any] | None,
) -> dict[str, Any]:
    """Append to the thread's `messages` state (a thread no graph has touched yet is bound to
    the default agent's graph first, so the update has reducers to go through)."""
    if role not in MESSAGE_ROLES:
        raise Unprocessable(
            f"Unsupported role {role!r}: expected one of {', '.join(MESSAGE_ROLES)}"
        )
    if not isinstance(content, (str, list)):
        raise Unprocessable("content must be a string or a list of content parts")
    thread = await get_thread(ctx, thread_id)
    if not thread.metadata.get("graph_id"):
        # the server's default agent, not one the caller reads: unguarded under custom auth
        assistant = await assistant_service.get_for_run(ctx, resolve_agent(ctx, None))
        thread = await thread_service.update(
            ctx,
            thread.thread_id,
            metadata={"graph_id": assistant.graph_id, "assistant_id": assistant.assistant_id},
            ttl=None,
        )
    mid = message_id or new_id()
    message = view.to_langchain(role, content, message_id=mid, meta_data=meta_data or {})
    await state_service.update_state(
        ctx, thread, values={"messages": [message]}, as_node=None, checkpoint=None
    )
    return await get_message(ctx, thread.thread_id, mid)


# --- runs -----------------------------------------------------------------------------------
async def create_run(
    ctx: ServerContext, thread_id: str, body: dict[str, Any], *, background: bool = True
) -> Run:
    assistant_id = resolve_agent(ctx, body.get("agent_id"))
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise Unprocessable("metadata must be an object of strings")
    settings = body.get("model_settings") or {}
    if not isinstance(settings, dict):
        raise Unprocessable("model_settings must be an object")
    config: dict[str, Any] = {}
    payload: dict[str, Any] = {
        "assistant_id": assistant_id,
        "input": {"messages": []},
        "stream_mode": SEEKR_STREAM_MODES,
        "multitask_strategy": "reject",
        "metadata": metadata,
        "config": config,
    }
    compat = {
        "origin": "seekrflow",
        "model_settings": settings,
        "response_format": body.get("response_format"),
        "group": body.get("group"),
    }
    return await run_service.create_run(
        ctx,
        payload,
        thread_id=parse_uuid(thread_id, "thread_id"),
        background=background,
        compat=compat,
    )


async def list_runs(
    ctx: ServerContext, thread_id: str, *, limit: int, order: Order, offset: int
) -> list[dict[str, Any]]:
    tid = parse_uuid(thread_id, "thread_id")
    await thread_service.get(ctx, tid)
    if limit == 0:
        return []
    runs = await ctx.storage.runs.search_all(thread_id=tid, order=order, limit=limit, offset=offset)
    return await render_runs(ctx, runs)


async def get_run(ctx: ServerContext, thread_id: str, run_id: str) -> Run:
    return await run_service.get(ctx, run_id, thread_id=thread_id)


async def cancel(ctx: ServerContext, thread_id: str, run_id: str) -> dict[str, str]:
    """`{"status": "canceled", "run_id"}` (SeekrFlow's spelling); a run that already ended is
    left alone and its final status reported instead."""
    run = await get_run(ctx, thread_id, run_id)
    if run.inflight:
        affected = await cancel_service.request(
            ctx, action="interrupt", run_ids=[run.run_id], thread_id=run.thread_id
        )
        if affected:
            return {"status": "canceled", "run_id": run.run_id}
        run = await get_run(ctx, thread_id, run_id)
    rendered = await render_runs(ctx, [run])
    return {"status": rendered[0]["status"], "run_id": run.run_id}


async def vercel_events(ctx: ServerContext, run: Run) -> AsyncIterator[list[dict[str, Any]]]:
    """The run's output as UI-message-stream parts: replayed from the start, then live. Past
    the event log's retention the run's messages are rendered from its checkpoints instead."""
    renderer = VercelStream(run)
    yield renderer.start()
    if run.inflight or await ctx.broker.is_finished(run.run_id):
        async for batch in ctx.broker.read_batches(run.run_id):
            out: list[dict[str, Any]] = []
            for event in batch:
                out.extend(renderer.feed(event.seq, event.event, event.data))
            if out:
                yield out
    else:
        out = []
        for index, message in enumerate(await run_messages(ctx.storage, run)):
            out.extend(renderer.feed(index + 1, "messages", dumps([message, {}])))
        yield out
    final = await ctx.storage.runs.get(run.run_id) or run
    yield renderer.finish(final)


def check_order(order: str) -> Order:
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be 'asc' or 'desc'")
    return order  # type: ignore[return-value]
