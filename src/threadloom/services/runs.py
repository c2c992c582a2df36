"""Where a run is queued: creating runs (multitask rules), reading, listing and deleting them,
and waiting for their outcome. Cancelling is `services.cancel`.

Every run — background, streamed, waited, stateless — is written `pending` and executed by a
worker; these functions never execute graphs themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from threadloom.errors import Conflict, InvalidInput, NotFound, Unprocessable
from threadloom.serde import loads, utcnow
from threadloom.services import assistants as assistant_service
from threadloom.services import cancel, run_headers
from threadloom.services.context import ServerContext
from threadloom.services.ids import is_uuid, new_id, parse_uuid
from threadloom.storage.base import Filters
from threadloom.storage.errors import StaleAssistant
from threadloom.storage.records import Assistant, CronFiring, Run, RunKwargs
from threadloom.telemetry import tracing
from threadloom.telemetry.metrics import METRICS

# a cached assistant that changed is re-read and the run rebuilt; this many times at most
_STALE_ASSISTANT_RETRIES = 2

RESERVED_METADATA = ("thread_id", "assistant_id", "run_id", "cron_id", "graph_id")
RESERVED_CONFIGURABLE = (
    "langgraph_auth_user",
    "langgraph_auth_user_id",
    "langgraph_auth_permissions",
    "langgraph_request_id",
    "__after_seconds__",
    "__request_start_time_ms__",
    "__context_provided__",
    "__pregel_node_finished",
)


def _clean_configurable(configurable: dict[str, Any] | None) -> dict[str, Any]:
    return {
        k: v
        for k, v in (configurable or {}).items()
        if k not in RESERVED_CONFIGURABLE
        and not k.startswith("__langsmith_")
        and not k.startswith("__otel_")
    }


def _stream_modes(value: Any) -> list[str]:
    if value is None:
        return ["values"]
    modes = [value] if isinstance(value, str) else list(value)
    return list(dict.fromkeys(modes)) or ["values"]


async def create_run(
    ctx: ServerContext,
    payload: dict[str, Any],
    *,
    thread_id: str | None,
    background: bool,
    need_values: bool = False,
    request_headers: Mapping[str, str] | None = None,
    filters: Filters = None,
    compat: dict[str, Any] | None = None,
    durable: bool = True,
    protocol: str | None = None,
    firing: CronFiring | None = None,
) -> Run:
    """Validate a run-create payload, insert the run `pending` and wake a worker.

    `thread_id=None` makes a stateless run on a new thread. `need_values` makes sure the
    `values` mode is streamed (wait/join results are built from it). `compat` is kept as
    `kwargs.compat`: what a Letta/SeekrFlow request asked for that LangGraph has no slot for.
    `durable=False` for `/wait`: its client hears of the run only when it has ended (see
    `RunStore.create_run`). `protocol="v3"`: a run started through the thread protocol,
    which streams the protocol's events (runtime/protocol_events.py).
    `firing`: the cron firing this run is (its id is the firing's,
    and the cron advances in the run's transaction: `services/crons.fire`).
    """
    webhook = payload.get("webhook")
    if webhook:
        from threadloom.services.webhook_policy import check_webhook

        await check_webhook(webhook, ctx.settings)
    for attempt in range(_STALE_ASSISTANT_RETRIES + 1):
        assistant = await assistant_service.get_for_run(ctx, payload["assistant_id"])
        run, if_not_exists = _new_run(
            ctx,
            payload,
            assistant,
            thread_id,
            background,
            need_values,
            request_headers,
            compat,
            firing.run_id if firing is not None else None,
        )
        if protocol is not None:
            run.kwargs["protocol"] = protocol
        try:
            result = await ctx.storage.runs.create_run(
                run,
                if_not_exists=if_not_exists,
                thread_metadata={
                    "graph_id": assistant.graph_id,
                    "assistant_id": assistant.assistant_id,
                },
                filters=filters,
                durable=durable,
                assistant=assistant,
                # a thread the run creates expires as one created by POST /threads would
                # (a stateless run's goes with the run)
                thread_ttl=None if run.temporary else ctx.thread_ttl.for_new_thread(),
                firing=firing,
            )
            break
        except StaleAssistant:  # changed since this process cached it: build again
            if attempt == _STALE_ASSISTANT_RETRIES:
                raise Conflict(
                    f"Assistant {assistant.assistant_id} kept changing while the run was being "
                    "created; try again"
                ) from None
    METRICS.graph(assistant.graph_id)[0].inc()
    # the runs a multitask `interrupt` / `rollback` displaced
    await cancel.dispatch(ctx, result.cancelled, cancel.cancel_action(run.multitask_strategy))
    if not result.workers_notified:  # the worker announces the run to thread streams as it starts
        await ctx.broker.wake_workers()
    return result.run


def _new_run(
    ctx: ServerContext,
    payload: dict[str, Any],
    assistant: Assistant,
    thread_id: str | None,
    background: bool,
    need_values: bool,
    request_headers: Mapping[str, str] | None,
    compat: dict[str, Any] | None,
    run_id: str | None = None,
) -> tuple[Run, Literal["reject", "create"]]:
    """The run record a payload asks for, built on `assistant` (not yet written)."""
    stateless = thread_id is None
    if_not_exists: Literal["reject", "create"]
    command = payload.get("command")
    if stateless:
        if command and command.get("resume") is not None:
            raise InvalidInput(
                "Cannot resume a stateless run: must provide a thread_id when resuming"
            )
        for key in ("checkpoint", "checkpoint_id"):
            if payload.get(key):
                raise InvalidInput(f"Stateless runs do not take {key}")
        tid = new_id()
        if_not_exists = "create"
    else:
        tid = parse_uuid(thread_id, "thread_id")  # type: ignore[arg-type]
        if_not_exists = payload.get("if_not_exists") or "reject"
        if payload.get("checkpoint_id") and not is_uuid(payload["checkpoint_id"]):
            raise Unprocessable("Invalid checkpoint ID")

    run_config = dict(payload.get("config") or {})
    run_configurable = _clean_configurable(run_config.get("configurable"))
    run_context = payload.get("context")
    if run_configurable and run_context:
        raise InvalidInput(
            "Cannot specify both configurable and context. Prefer setting context alone."
        )

    run_id = run_id or new_id()
    stream_mode = _stream_modes(payload.get("stream_mode"))
    if need_values and "values" not in stream_mode:
        stream_mode.append("values")
    durability = payload.get("durability")
    if durability is None and payload.get("checkpoint_during") is not None:
        durability = "async" if payload["checkpoint_during"] else "exit"

    # assistant config <- run config; context mirrors configurable (the reference's rule)
    base_config = dict(assistant.config)
    tags = [*base_config.get("tags", []), *run_config.get("tags", [])] or None
    context = {**assistant.context, **(run_context or run_configurable)}
    configurable = {
        **base_config.get("configurable", {}),
        **context,
        **run_configurable,
        **run_headers.configurable_headers(request_headers, ctx.header_patterns),
        "run_id": run_id,
        "thread_id": tid,
        "graph_id": assistant.graph_id,
        "assistant_id": assistant.assistant_id,
    }
    checkpoint = payload.get("checkpoint")
    checkpoint_id = payload.get("checkpoint_id") or (checkpoint or {}).get("checkpoint_id")
    if checkpoint:
        configurable.update(
            {k: v for k, v in checkpoint.items() if v is not None and k != "thread_id"}
        )
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    request_id = run_headers.request_id(request_headers)
    configurable["langgraph_request_id"] = request_id
    if tracing.TRACER is not None:  # the run's span joins the creating request's trace
        configurable.update(tracing.run_carrier())
    if ctx.header_patterns.admits("x-request-id"):  # the reference's request id header
        configurable.setdefault("x-request-id", request_id)
    if ctx.caller is not None:  # custom auth: the graph sees who asked (runtime/run_config.py)
        configurable["langgraph_auth_user"] = ctx.caller.user.to_json()
        configurable["langgraph_auth_user_id"] = ctx.caller.user.identity
        configurable["langgraph_auth_permissions"] = list(ctx.caller.permissions)
    config: dict[str, Any] = {
        **{k: v for k, v in base_config.items() if k != "configurable"},
        **{k: v for k, v in run_config.items() if k not in ("configurable", "tags")},
        "configurable": configurable,
    }
    if tags:
        config["tags"] = tags

    # what the run was given: its `metadata` over its config's (storage adds the assistant's
    # and the thread's under these: `run_rules.run_metadata`)
    config_metadata = run_config.get("metadata")
    given = {
        **(config_metadata if isinstance(config_metadata, dict) else {}),
        **(payload.get("metadata") or {}),
    }
    metadata = {k: v for k, v in given.items() if k not in RESERVED_METADATA}
    metadata["assistant_id"] = assistant.assistant_id

    webhook = payload.get("webhook")

    on_completion = payload.get("on_completion") or "delete"
    temporary = stateless and on_completion == "delete"
    kwargs: RunKwargs = {
        "input": payload.get("input"),
        "command": command,
        "config": config,
        "context": context,
        "stream_mode": stream_mode,
        "interrupt_before": payload.get("interrupt_before"),
        "interrupt_after": payload.get("interrupt_after"),
        "webhook": webhook,
        "feedback_keys": payload.get("feedback_keys"),
        "temporary": temporary,
        "subgraphs": bool(payload.get("stream_subgraphs")),
        "resumable": bool(payload.get("stream_resumable")),
        "checkpoint_id": checkpoint_id,
        "durability": durability or "async",
        "on_disconnect": payload.get("on_disconnect") or "continue",
    }
    if compat:
        kwargs["compat"] = compat
    now = utcnow()
    after = payload.get("after_seconds") or 0
    run = Run(
        run_id=run_id,
        thread_id=tid,
        assistant_id=assistant.assistant_id,
        status="pending",
        multitask_strategy=(
            "reject" if stateless else payload.get("multitask_strategy") or "enqueue"
        ),
        metadata=metadata,
        kwargs=kwargs,
        created_at=now + timedelta(seconds=after) if after else now,
        updated_at=now,
        background=background,
        temporary=temporary,
        webhook={"url": webhook, "attempts": []} if webhook else None,
    )
    return run, if_not_exists


async def get(
    ctx: ServerContext, run_id: str, *, thread_id: str | None = None, filters: Filters = None
) -> Run:
    rid = parse_uuid(run_id, "run_id")
    tid = parse_uuid(thread_id, "thread_id") if thread_id else None
    run = await ctx.storage.runs.get(rid, thread_id=tid, filters=filters)
    if run is None:
        raise NotFound(f"Run {run_id} not found")
    return run


async def stream_of(ctx: ServerContext, run_id: str) -> tuple[str, Run | None]:
    """(run id, the run) of a run whose stream is asked for by id alone. A stateless run
    deleted at its end (None) still has its events for `resumable_stream_ttl_seconds`."""
    rid = parse_uuid(run_id, "run_id")
    run = await ctx.storage.runs.get(rid)
    if run is not None:
        return rid, run
    # a run no longer stored has no thread to authorize against: under custom auth it is gone
    if ctx.caller is None and await ctx.broker.is_finished(rid):
        return rid, None
    raise NotFound(f"Run {run_id} not found")


async def list_runs(
    ctx: ServerContext,
    thread_id: str,
    *,
    limit: int,
    offset: int,
    status: str | None,
    filters: Filters = None,
) -> list[Run]:
    tid = parse_uuid(thread_id, "thread_id")
    runs = await ctx.storage.runs.list(
        tid, limit=limit, offset=offset, status=status, filters=filters
    )
    if runs is None:
        raise NotFound(f"Thread {thread_id} not found")
    return runs


async def delete(ctx: ServerContext, thread_id: str, run_id: str, filters: Filters = None) -> None:
    run = await get(ctx, run_id, thread_id=thread_id, filters=filters)
    if run.inflight:
        await cancel.request(ctx, action="rollback", run_ids=[run.run_id], thread_id=run.thread_id)
        return
    await ctx.storage.runs.delete(run.run_id, thread_id=run.thread_id, filters=filters)
    await ctx.storage.delete_run_checkpoints(run.thread_id, run.run_id)
    await ctx.broker.reset(run.run_id)


async def output_of_deleted(ctx: ServerContext, run_id: str) -> dict[str, Any] | Any:
    """What `/join` answers for a run no longer stored — a stateless run goes with its thread
    when it ends — from the outcome kept beside its events (`resumable_stream_ttl_seconds`):
    the SDK rejoins a cut `/wait` there, and the run may have ended meanwhile."""
    rid = parse_uuid(run_id, "run_id")
    # a run still stored was looked for on the wrong thread: that stays a 404
    # (under custom auth a run no longer stored has no thread to authorize against: gone)
    outcome = (
        None
        if ctx.caller is not None or await ctx.storage.runs.get(rid)
        else await ctx.broker.outcome(rid, follow=False)
    )
    if outcome is None:
        raise NotFound(f"Run {run_id} not found")
    if outcome.error is not None:
        return {"__error__": loads(outcome.error)}
    return loads(outcome.values) if outcome.values is not None else {}


async def final_output(ctx: ServerContext, run: Run) -> dict[str, Any] | Any:
    """What /wait and /join return: last values, `__interrupt__`, or `__error__`.

    Waits for the run's outcome (its last values and error, kept when its event log ends);
    falls back to the stored thread and run when the log is gone (run finished long ago, or on
    another machine past retention).
    """
    outcome = await ctx.broker.outcome(run.run_id, follow=run.inflight)
    seen = outcome is not None and outcome.seen
    if outcome is not None and outcome.error is not None:
        return {"__error__": loads(outcome.error)}
    if outcome is not None and outcome.values is not None:
        return loads(outcome.values)
    # nothing streamed: read what the run left behind
    current = await ctx.storage.runs.get(run.run_id)
    if current is not None and current.error and current.status in ("error", "timeout"):
        return {"__error__": current.error}
    thread = await ctx.storage.threads.get(run.thread_id)
    if thread is None:
        return {} if not seen else None
    if thread.interrupts and thread.status == "interrupted":
        return {"__interrupt__": [i for group in thread.interrupts.values() for i in group]}
    if thread.status == "error" and thread.error:
        return {"__error__": thread.error}
    return thread.values if thread.values is not None else {}
