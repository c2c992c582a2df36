"""The Letta v1 runs API over Threadloom runs: list (keyset), retrieve, usage, steps, messages,
stream resume, agent message sends and cancel (other-apis.md §1; decisions in docs/compat.md).

Agents are assistants (`agent-<uuid>`, a bare uuid or a graph id). An agent-direct send runs on
the agent's deterministic default thread, so consecutive sends share one conversation.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from threadloom.errors import Conflict, Gone, InvalidInput, NotFound, Unprocessable
from threadloom.serde import utcnow
from threadloom.services import assistants as assistant_service
from threadloom.services import cancel as cancel_service
from threadloom.services import runs as run_service
from threadloom.services.context import ServerContext
from threadloom.services.run_messages import run_messages
from threadloom.services.views import letta_view as view
from threadloom.services.views.status import (
    LETTA_STATUSES,
    LETTA_STOP_REASONS,
    letta_status,
    letta_status_clauses,
)
from threadloom.services.views.streams import LettaStream
from threadloom.services.webhook_policy import validate_webhook_url
from threadloom.storage.operations import RunCursor, RunStatusClause
from threadloom.storage.records import Run

Order = Literal["asc", "desc"]
LETTA_STREAM_MODES = ["messages-tuple", "values"]


# --- ids ------------------------------------------------------------------------------------
def parse_run_id(raw: str) -> str:
    """`run-<uuid>` or `<uuid>`; anything else is a 400, as Letta answers a bad prefix."""
    value = view.strip_prefix(raw.strip(), "run-")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidInput(f"Invalid run id {raw!r}: expected 'run-<uuid>'") from None


def resolve_agent(ctx: ServerContext, raw: str) -> str:
    """`agent-<uuid>`, a bare uuid or a graph id → assistant id."""
    value = view.strip_prefix(raw.strip(), "agent-")
    try:
        return assistant_service.resolve_id(ctx, value)
    except Unprocessable:
        raise InvalidInput(
            f"Invalid agent id {raw!r}: expected 'agent-<uuid>', a uuid or a graph id"
        ) from None


def default_thread_id(assistant_id: str) -> str:
    """The thread agent-direct sends use (Letta's "default" conversation)."""
    return str(uuid.uuid5(uuid.UUID(assistant_id), "default"))


def render(run: Run) -> dict[str, Any]:
    return view.render_run(run, default_thread_id=default_thread_id(run.assistant_id))


async def get_run(ctx: ServerContext, raw_run_id: str) -> Run:
    run = await ctx.storage.runs.get(parse_run_id(raw_run_id))
    if run is None:
        raise NotFound(f"Run {raw_run_id} not found")
    return run


# --- list -----------------------------------------------------------------------------------
async def _cursor(ctx: ServerContext, raw: str | None) -> RunCursor | None:
    """A cursor run id → its keyset position; an unknown id is ignored (as Letta does)."""
    if not raw:
        return None
    run = await ctx.storage.runs.get(parse_run_id(raw))
    return None if run is None else RunCursor(run.created_at, run.run_id)


async def list_runs(
    ctx: ServerContext,
    *,
    agent_id: str | None = None,
    agent_ids: list[str] | None = None,
    statuses: list[str] | None = None,
    active: bool = False,
    background: bool | None = None,
    stop_reason: str | None = None,
    conversation_id: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = 100,
    order: Order = "desc",
    ascending: bool | None = None,
) -> list[dict[str, Any]]:
    """`after`/`before` are relative to the chosen order (the documented, OpenAI-style meaning),
    so the SDK's auto-pager walks forward with `after=<last id>` and stops on an empty page."""
    if ascending is not None:
        order = "asc" if ascending else "desc"
    assistants: list[str] | None = None
    if agent_id or agent_ids:
        assistants = [resolve_agent(ctx, a) for a in [*(agent_ids or []), agent_id] if a]
    clauses: list[RunStatusClause] | None = None
    if statuses:
        bad = [s for s in statuses if s not in LETTA_STATUSES]
        if bad:
            raise Unprocessable(
                f"Invalid statuses {bad}: expected any of {', '.join(LETTA_STATUSES)}"
            )
        clauses = letta_status_clauses(statuses)
    elif active:
        clauses = letta_status_clauses(["created", "running"])
    if stop_reason is not None and stop_reason not in LETTA_STOP_REASONS:
        raise Unprocessable(f"Invalid stop_reason {stop_reason!r}")
    thread_id = None
    if conversation_id:
        try:
            thread_id = str(uuid.UUID(view.strip_prefix(conversation_id, "conv-")))
        except ValueError:
            return []
    after_cursor = await _cursor(ctx, after)
    before_cursor = await _cursor(ctx, before)
    query: dict[str, Any] = {
        "assistant_ids": assistants,
        "thread_id": thread_id,
        "status_clauses": clauses,
        "stop_reason": stop_reason,
        "background": background,
        "limit": limit,
    }
    if before_cursor is not None and after_cursor is None:
        # the `limit` runs just before the cursor: read backwards, then restore list order
        flipped: Order = "asc" if order == "desc" else "desc"
        runs = await ctx.storage.runs.search_all(**query, order=flipped, after=before_cursor)
        runs.reverse()
    else:
        runs = await ctx.storage.runs.search_all(
            **query, order=order, after=after_cursor, before=before_cursor
        )
    return [render(r) for r in runs]


# --- one run --------------------------------------------------------------------------------
def _page(
    items: list[dict[str, Any]],
    *,
    after: str | None,
    before: str | None,
    limit: int,
    order: Order,
) -> list[dict[str, Any]]:
    """Cursor paging over a small in-memory list (a run's steps or messages), order-relative."""
    ordered = items if order == "asc" else list(reversed(items))
    ids = [item["id"] for item in ordered]
    start, end = 0, len(ordered)
    if after and after in ids:
        start = ids.index(after) + 1
        while start < end and ids[start] == after:  # messages sharing an id
            start += 1
    if before and before in ids:
        end = ids.index(before)
    window = ordered[start:end]
    if before and not after:
        return window[-limit:]
    return window[:limit]


async def steps(
    ctx: ServerContext,
    raw_run_id: str,
    *,
    after: str | None,
    before: str | None,
    limit: int,
    order: Order,
) -> list[dict[str, Any]]:
    run = await get_run(ctx, raw_run_id)
    return _page(view.render_steps(run), after=after, before=before, limit=limit, order=order)


async def messages(
    ctx: ServerContext,
    raw_run_id: str,
    *,
    after: str | None,
    before: str | None,
    limit: int,
    order: Order,
) -> list[dict[str, Any]]:
    run = await get_run(ctx, raw_run_id)
    rendered = view.render_messages(run, await run_messages(ctx.storage, run))
    return _page(rendered, after=after, before=before, limit=limit, order=order)


async def usage(ctx: ServerContext, raw_run_id: str) -> dict[str, Any]:
    return view.render_usage(await get_run(ctx, raw_run_id))


# --- streams --------------------------------------------------------------------------------
async def check_resumable(ctx: ServerContext, run: Run) -> None:
    """400 for a run that was not created in background mode; 410 once its event log is past
    retention (`resumable_stream_ttl_seconds`)."""
    if not run.background:
        raise InvalidInput(f"Run {view.run_id(run.run_id)} was not created in background mode")
    if not run.inflight and not await ctx.broker.is_finished(run.run_id):
        raise Gone(
            f"Run {view.run_id(run.run_id)} can no longer be streamed: its events are past the "
            f"{ctx.settings.resumable_stream_ttl_seconds:g}s retention"
        )


async def stream_chunks(
    ctx: ServerContext, run: Run, *, starting_after: int = 0
) -> AsyncIterator[list[dict[str, Any]]]:
    """Letta chunks for events with seq > `starting_after`, live until the run ends, then the
    stop_reason and usage_statistics chunks (the transport adds `data: [DONE]`)."""
    renderer = LettaStream(run, now=utcnow())
    renderer.last_seq = max(starting_after, 0)
    async for batch in ctx.broker.read_batches(run.run_id, after=max(starting_after, 0)):
        out: list[dict[str, Any]] = []
        for event in batch:
            out.extend(renderer.feed(event.seq, event.event, event.data))
        if out:
            yield out
    final = await ctx.storage.runs.get(run.run_id) or run
    yield [c for c in renderer.finish(final) if c["seq_id"] > starting_after]


# --- sends ----------------------------------------------------------------------------------
def _input_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("messages")
    if raw is None and body.get("input") is not None:
        value = body["input"]
        raw = [{"role": "user", "content": value}]
    if not raw:
        raise Unprocessable("Provide `messages` or `input`")
    out = []
    for item in raw:
        if not isinstance(item, dict) or "content" not in item:
            raise Unprocessable("Each message needs a `role` and `content`")
        role = item.get("role") or "user"
        if role not in ("user", "system", "assistant"):
            raise Unprocessable(f"Unsupported message role {role!r}")
        message: dict[str, Any] = {"role": role, "content": item["content"]}
        if item.get("otid"):
            message["id"] = str(item["otid"])
        out.append(message)
    return out


async def send(
    ctx: ServerContext,
    raw_agent_id: str,
    body: dict[str, Any],
    *,
    background: bool,
    callback_url: str | None = None,
) -> Run:
    """Create a run on the agent's default thread (enqueued behind any inflight one)."""
    assistant_id = resolve_agent(ctx, raw_agent_id)
    messages_in = _input_messages(body)
    if callback_url:
        await asyncio.to_thread(validate_webhook_url, callback_url, ctx.settings)
    config: dict[str, Any] = {}
    max_steps = body.get("max_steps")
    if max_steps is not None:
        if not isinstance(max_steps, int) or max_steps < 1:
            raise Unprocessable("max_steps must be a positive integer")
        config["recursion_limit"] = 2 * max_steps + 1  # a step = model call + its tool calls
    request_config = {
        k: body[k]
        for k in (
            "use_assistant_message",
            "assistant_message_tool_name",
            "assistant_message_tool_kwarg",
            "include_return_message_types",
        )
        if body.get(k) is not None
    }
    payload: dict[str, Any] = {
        "assistant_id": assistant_id,
        "input": {"messages": messages_in},
        "stream_mode": LETTA_STREAM_MODES,
        "multitask_strategy": "enqueue",
        "if_not_exists": "create",
        "config": config,
        "webhook": callback_url,
        "metadata": {},
    }
    compat = {"origin": "letta", "request_config": request_config, "max_steps": max_steps}
    return await run_service.create_run(
        ctx,
        payload,
        thread_id=default_thread_id(assistant_id),
        background=background,
        need_values=True,
        compat=compat,
    )


async def send_and_wait(
    ctx: ServerContext, raw_agent_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Synchronous send: wait for the run to end, return a LettaResponse."""
    run = await send(ctx, raw_agent_id, body, background=False)
    await run_service.final_output(ctx, run)
    final = await ctx.storage.runs.get(run.run_id) or run
    return view.letta_response(final, await run_messages(ctx.storage, final))


async def cancel(
    ctx: ServerContext, raw_agent_id: str, run_ids: list[str] | None
) -> dict[str, str]:
    """`{run-id: "cancelled" | <final status>}`; 409 when the agent has nothing active."""
    assistant_id = resolve_agent(ctx, raw_agent_id)
    if run_ids:
        targets = []
        for raw in run_ids:
            run = await get_run(ctx, raw)
            if run.assistant_id != assistant_id:
                raise NotFound(f"Run {raw} not found for agent {raw_agent_id}")
            targets.append(run)
    else:
        targets = await ctx.storage.runs.search_all(
            assistant_ids=[assistant_id],
            status_clauses=letta_status_clauses(["created", "running"]),
            limit=100,
        )
        if not targets:
            raise Conflict(f"Agent {raw_agent_id} has no active run to cancel")
    result: dict[str, str] = {}
    inflight = [r for r in targets if r.inflight]
    affected = []
    if inflight:
        affected = await cancel_service.request(
            ctx, action="interrupt", run_ids=[r.run_id for r in inflight]
        )
    done = {r.run_id for r in affected}
    for run in targets:
        result[view.run_id(run.run_id)] = "cancelled" if run.run_id in done else letta_status(run)
    return result
