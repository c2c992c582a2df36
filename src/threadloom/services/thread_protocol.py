"""The thread protocol's commands (`POST /threads/{id}/commands`, and in-band on the WebSocket):
`run.start`, `input.respond`, `agent.getTree`. Runs start and resume through the ordinary
`services.runs.create_run` (multitask rules, custom auth, the run's merged config), marked to
stream protocol events.

Field names are the SDK's (snake case: `assistant_id`, `interrupt_id`, `run_id`) — where the
spec's camel case and the client differ the client wins; the spec's spelling is accepted too.
A command's failure is an error envelope (`{"type": "error", "id", "error": <code>, "message"}`)
with one of the protocol's error codes; only a message that is not a command at all is a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threadloom.errors import Conflict, Forbidden, NotFound, Rejected, ThreadloomError
from threadloom.serde import loads
from threadloom.services import runs as run_service
from threadloom.services import threads as thread_service
from threadloom.services.context import ServerContext
from threadloom.services.ids import parse_uuid
from threadloom.storage.records import INFLIGHT_STATUSES

COMMANDS = frozenset(
    {
        "run.start",
        "input.respond",
        "agent.getTree",
        "subscription.subscribe",
        "subscription.unsubscribe",
        "subscription.reconnect",
    }
)
SUBSCRIPTION_COMMANDS = frozenset(c for c in COMMANDS if c.startswith("subscription."))
MULTITASK = frozenset({"reject", "rollback", "interrupt", "enqueue"})


class CommandError(Exception):
    """A command that fails with one of the protocol's error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotACommand(Exception):
    """The message is not a protocol command (no integer id or string method): a 400."""

    message = "Protocol commands must include an integer id and string method."


def success(command_id: int, result: dict[str, Any], seq: int = 0) -> dict[str, Any]:
    return {"type": "success", "id": command_id, "result": result, "meta": _meta(seq)}


def error(command_id: int | None, code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "id": command_id, "error": code, "message": message}


def _meta(seq: int) -> dict[str, Any]:
    # `applied_through_seq` is what the SDK reads; 0 (as the reference) keeps a new stream's
    # replay whole
    return {"applied_through_seq": seq}


def parse_command(raw: bytes | str | Any) -> dict[str, Any]:
    """A command envelope from JSON text (or an already decoded value)."""
    if isinstance(raw, bytes | str):
        try:
            raw = loads(raw)
        except ValueError:
            raise NotACommand from None
    if not isinstance(raw, dict):
        raise NotACommand
    command_id = raw.get("id")
    if not isinstance(command_id, int) or isinstance(command_id, bool) or command_id < 0:
        raise NotACommand
    if not isinstance(raw.get("method"), str):
        raise NotACommand
    params = raw.get("params")
    if params is not None and not isinstance(params, dict):
        raise NotACommand
    return raw


def _get(params: Mapping[str, Any], snake: str, camel: str) -> Any:
    value = params.get(snake)
    return params.get(camel) if value is None else value


async def handle(
    ctx: ServerContext,
    thread_id: str,
    command: dict[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The response to one command (subscription commands are the WebSocket's own)."""
    command_id: int = command["id"]
    method: str = command["method"]
    params: dict[str, Any] = command.get("params") or {}
    try:
        if method not in COMMANDS:
            raise CommandError("unknown_command", f"Unknown protocol command: {method}")
        try:
            thread_id = str(parse_uuid(thread_id, "thread_id"))
        except ThreadloomError as exc:
            raise CommandError("invalid_argument", exc.detail) from None
        if method in SUBSCRIPTION_COMMANDS:
            raise CommandError(
                "not_supported",
                f"{method} is served on the WebSocket of /threads/{{thread_id}}/stream/events; "
                "over HTTP each event stream request is its own subscription",
            )
        if method == "run.start":
            result = await _run_start(ctx, thread_id, params, headers)
        elif method == "input.respond":
            result = await _input_respond(ctx, thread_id, params, headers)
        else:
            result = await _agent_tree(ctx, thread_id, params)
    except CommandError as exc:
        return error(command_id, exc.code, exc.message)
    return success(command_id, result)


def _command_error(exc: ThreadloomError) -> CommandError:
    if isinstance(exc, Forbidden) or (isinstance(exc, Rejected) and exc.status_code in (401, 403)):
        return CommandError("permission_denied", exc.detail)
    if isinstance(exc, Conflict):
        return CommandError("unknown_error", exc.detail)
    if 400 <= exc.status_code < 500:
        return CommandError("invalid_argument", exc.detail)
    return CommandError("unknown_error", exc.detail)


def _run_payload(params: Mapping[str, Any], assistant_id: Any) -> dict[str, Any]:
    if not isinstance(assistant_id, str) or not assistant_id:
        raise CommandError("invalid_argument", "run.start requires an assistant_id.")
    payload: dict[str, Any] = {"assistant_id": assistant_id, "if_not_exists": "create"}
    for key in ("config", "metadata"):
        value = params.get(key)
        if value is not None:
            if not isinstance(value, dict):
                raise CommandError("invalid_argument", f"{key} must be an object")
            payload[key] = value
    strategy = _get(params, "multitask_strategy", "multitaskStrategy")
    payload["multitask_strategy"] = strategy if strategy in MULTITASK else "enqueue"
    return payload


async def _create(
    ctx: ServerContext,
    thread_id: str,
    payload: dict[str, Any],
    headers: Mapping[str, str] | None,
) -> str:
    try:
        run = await run_service.create_run(
            ctx,
            payload,
            thread_id=thread_id,
            background=True,
            request_headers=headers,
            protocol="v3",
        )
    except ThreadloomError as exc:
        raise _command_error(exc) from None
    return run.run_id


async def _run_start(
    ctx: ServerContext,
    thread_id: str,
    params: dict[str, Any],
    headers: Mapping[str, str] | None,
) -> dict[str, Any]:
    payload = _run_payload(params, _get(params, "assistant_id", "assistantId"))
    if params.get("input") is not None:
        payload["input"] = params["input"]
    return {"run_id": await _create(ctx, thread_id, payload, headers)}


def _responses(params: dict[str, Any]) -> list[tuple[str, Any]]:
    """`(interrupt id, response)` pairs: one (`interrupt_id`) or a batch (`responses`)."""
    entries = params.get("responses")
    if entries is None:
        entries = [params]
    elif not isinstance(entries, list) or not entries:
        raise CommandError("invalid_argument", "responses must be a non-empty array")
    out: list[tuple[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise CommandError("invalid_argument", "each response must be an object")
        interrupt_id = _get(entry, "interrupt_id", "interruptId")
        if not isinstance(interrupt_id, str) or not interrupt_id:
            raise CommandError("invalid_argument", "input.respond requires an interrupt_id.")
        namespace = entry.get("namespace", [])
        if not isinstance(namespace, list) or not all(isinstance(s, str) for s in namespace):
            raise CommandError("invalid_argument", "namespace must be an array of strings")
        out.append((interrupt_id, entry.get("response")))
    return out


async def _thread(ctx: ServerContext, thread_id: str) -> Any:
    try:
        return await thread_service.get(ctx, thread_id)
    except NotFound:
        raise CommandError("no_such_run", f"Thread {thread_id} has no run to respond to") from None
    except ThreadloomError as exc:
        raise _command_error(exc) from None


async def _input_respond(
    ctx: ServerContext,
    thread_id: str,
    params: dict[str, Any],
    headers: Mapping[str, str] | None,
) -> dict[str, Any]:
    """Resume the interrupts named, in one run: `Command(resume={id: response}, update, goto)`
    on the assistant the thread last ran."""
    answers = _responses(params)
    thread = await _thread(ctx, thread_id)
    pending = {i.get("id") for items in (thread.interrupts or {}).values() for i in items}
    for interrupt_id, _ in answers:
        if interrupt_id not in pending:
            raise CommandError(
                "no_such_interrupt", f"Unknown or already-consumed interrupt: {interrupt_id}"
            )
    assistant_id = (thread.metadata or {}).get("assistant_id")
    payload = _run_payload(params, assistant_id)
    command: dict[str, Any] = {"resume": dict(answers)}
    for key in ("update", "goto"):
        if params.get(key) is not None:
            command[key] = params[key]
    payload["command"] = command
    await _create(ctx, thread_id, payload, headers)
    return {}


async def _agent_tree(ctx: ServerContext, thread_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """The namespaces a run has entered and the state each is in, from its lifecycle events:
    the given `run_id`, else the thread's inflight run."""
    run_id = _get(params, "run_id", "runId")
    if run_id is not None and not isinstance(run_id, str):
        raise CommandError("invalid_argument", "run_id must be a string")
    try:
        if run_id is None:
            inflight = await thread_service.inflight_runs(ctx, thread_id)
            running = [r for r in inflight if r.status in INFLIGHT_STATUSES]
            if not running:
                raise CommandError("no_such_run", "No active run is bound to this thread.")
            run = running[0]
        else:
            run = await run_service.get(ctx, run_id, thread_id=thread_id)
    except NotFound:
        raise CommandError("no_such_run", f"Run {run_id} not found on this thread") from None
    except ThreadloomError as exc:
        raise _command_error(exc) from None
    graph_id = ((run.kwargs.get("config") or {}).get("configurable") or {}).get("graph_id")
    root: dict[str, Any] = {
        "namespace": [],
        "status": "started",
        "graph_name": graph_id or run.assistant_id,
        "children": [],
    }
    nodes: dict[tuple[str, ...], dict[str, Any]] = {(): root}
    async for batch in ctx.broker.read_batches(run.run_id, follow=False):
        for entry in batch:
            if not entry.event.startswith("proto:lifecycle"):
                continue
            event = loads(entry.data)
            namespace = tuple(event.get("namespace") or ())
            data = event.get("data") or {}
            node = nodes.get(namespace)
            if node is None:
                node = {
                    "namespace": list(namespace),
                    "status": "started",
                    "graph_name": data.get("graph_name") or namespace[-1].split(":", 1)[0],
                    "children": [],
                }
                nodes[namespace] = node
                parent = namespace[:-1]
                while parent not in nodes:
                    parent = parent[:-1]
                nodes[parent]["children"].append(node)
            if isinstance(data.get("event"), str):
                node["status"] = data["event"]
    return {"tree": root}
