"""An assistant as an A2A agent: messages in, tasks out, over the ordinary run path.

The mapping, as the reference makes it:
- an A2A *context* is a thread (`contextId` = `thread_id`; a message without one starts a new
  thread), a *task* is a run on it, its id `"{context_id}:{run_id}"` so it names both;
- a message's text parts become human messages in the input's `messages` (the graph's input
  schema must have that field), its data parts are merged into the input; file parts are refused;
- a task's state follows its run (pending → submitted, running → working, success →
  completed, or input-required when the run left the thread interrupted, error/timeout →
  failed, interrupted — a cancelled run — → canceled);
- the reply is the last agent message of the turn (an artifact "Assistant Response"); the
  history is the thread's messages as A2A messages, each stamped with the task that added it
  (the human message carries a `task_start_id` in `additional_kwargs.a2a`, the run the same
  id in its metadata, and the messages after it belong to that run's task).

Objects here are A2A 1.0 JSON (`ROLE_AGENT`, `TASK_STATE_COMPLETED`, camelCase) with the `kind`
markers 0.3 clients need; api/a2a.py renders them for the protocol version a request speaks.
The parts and messages themselves are mapped in services/a2a_parts.py; tasks are read,
cancelled and listed in services/a2a_tasks.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from threadloom.errors import NotFound
from threadloom.serde import loads
from threadloom.services import assistants as assistant_service
from threadloom.services import runs as run_service
from threadloom.services import threads as thread_service
from threadloom.services.a2a_parts import (
    CONTENT_TYPE_NOT_SUPPORTED,
    FILE_KEYS,
    INVALID_PARAMS,
    TASK_NOT_FOUND,
    UNSUPPORTED_OPERATION,
    A2AError,
    agent_message,
    history,
    interrupt_artifact,
    reply_parts,
    response_artifact,
    run_input,
)
from threadloom.services.context import ServerContext
from threadloom.services.ids import is_uuid
from threadloom.storage.records import Assistant, Run

MAX_HISTORY_LENGTH = 10
RUN_SCAN_LIMIT = 1000
MODES = ["application/json", "text/plain"]
HISTORY_SCOPE_EXTENSION = "https://langchain.com/a2a/extensions/history-scope/v1"
HISTORY_SCOPE_HEADER = "LangGraph-A2A-History-Scope"

SUBMITTED = "TASK_STATE_SUBMITTED"
WORKING = "TASK_STATE_WORKING"
COMPLETED = "TASK_STATE_COMPLETED"
FAILED = "TASK_STATE_FAILED"
CANCELED = "TASK_STATE_CANCELED"
INPUT_REQUIRED = "TASK_STATE_INPUT_REQUIRED"
TERMINAL = frozenset({COMPLETED, FAILED, CANCELED, "TASK_STATE_REJECTED"})
_RUN_STATES = {
    "pending": SUBMITTED,
    "running": WORKING,
    "success": COMPLETED,
    "interrupted": CANCELED,  # a cancelled run; an interrupt() pause ends the run `success`
    "error": FAILED,
    "timeout": FAILED,
}


def now() -> str:
    return datetime.now(UTC).isoformat()


def task_id_of(context_id: str, run_id: str) -> str:
    return f"{context_id}:{run_id}"


def parse_task_id(task_id: str) -> tuple[str, str]:
    """(context_id, run_id); a bare run id has no context (the caller's `contextId` gives it)."""
    context_id, _, run_id = task_id.rpartition(":")
    return context_id, run_id


def state_of(run: Run, thread_interrupted: bool) -> str:
    if run.status == "success" and thread_interrupted:
        return INPUT_REQUIRED
    return _RUN_STATES.get(run.status, SUBMITTED)


def check_history_length(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise A2AError(INVALID_PARAMS, "historyLength must be a non-negative integer")
    if value > MAX_HISTORY_LENGTH:
        raise A2AError(INVALID_PARAMS, f"historyLength cannot exceed {MAX_HISTORY_LENGTH}")
    return value


def check_history_scope(value: Any, headers: Mapping[str, str]) -> str:
    scope = value if value is not None else headers.get(HISTORY_SCOPE_HEADER.lower(), "context")
    if scope not in ("context", "task"):
        raise A2AError(INVALID_PARAMS, "historyScope must be 'context' or 'task'")
    return str(scope)


# --- the assistant ------------------------------------------------------------------------
async def assistant_of(ctx: ServerContext, assistant_id: str) -> Assistant:
    """The assistant the path names (a UUID, as the reference requires)."""
    if not is_uuid(assistant_id):
        raise A2AError(INVALID_PARAMS, "Invalid assistant ID: must be a UUID")
    try:
        return await assistant_service.get(ctx, assistant_id)
    except NotFound:
        raise A2AError(INVALID_PARAMS, f"Assistant '{assistant_id}' not found") from None


async def input_schema_of(ctx: ServerContext, assistant: Assistant) -> dict[str, Any]:
    schemas = await assistant_service.schemas(ctx, assistant.assistant_id)
    return schemas.get("input_schema") or schemas.get("state_schema") or {}


async def agent_card(ctx: ServerContext, assistant: Assistant, base_url: str) -> dict[str, Any]:
    """The agent card: one agent per assistant, one skill (the assistant itself)."""
    import threadloom

    schema = await input_schema_of(ctx, assistant)
    properties = schema.get("properties") or {}
    description = assistant.description or f"{assistant.name} assistant"
    url = f"{base_url}/a2a/{assistant.assistant_id}"
    return {
        "name": assistant.name,
        "description": description,
        "url": url,
        "supportedInterfaces": [
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
        ],
        "capabilities": {
            "streaming": True,
            "pushNotifications": False,
            "stateTransitionHistory": False,
            "extensions": [
                {
                    "uri": HISTORY_SCOPE_EXTENSION,
                    "description": "Choose task-only or full-context response history",
                    "required": False,
                    "params": {
                        "header": HISTORY_SCOPE_HEADER,
                        "values": ["context", "task"],
                        "default": "context",
                        "methods": ["SendMessage", "GetTask", "ListTasks"],
                    },
                }
            ],
        },
        "defaultInputModes": list(MODES),
        "defaultOutputModes": list(MODES),
        "skills": [
            {
                "id": f"{assistant.assistant_id}-main",
                "name": f"{assistant.name} Capabilities",
                "description": description,
                "tags": ["assistant", "langgraph"],
                "examples": [],
                "inputModes": list(MODES),
                "outputModes": list(MODES),
                "metadata": {
                    "inputSchema": {
                        "required": schema.get("required", []),
                        "properties": sorted(properties),
                        "supportsA2A": "messages" in properties,
                    }
                },
            }
        ],
        "version": threadloom.__version__,
    }


async def check_supports_messages(
    ctx: ServerContext, assistant: Assistant, parts: list[dict[str, Any]]
) -> None:
    if not any(k in p for p in parts for k in ("text", *FILE_KEYS)):
        return
    schema = await input_schema_of(ctx, assistant)
    properties = schema.get("properties") or {}
    if "messages" not in properties:
        raise A2AError(
            INVALID_PARAMS,
            f"Assistant '{assistant.assistant_id}' (graph '{assistant.graph_id}') does not "
            "support A2A conversational messages. Graph input schema must include a "
            "'messages' field to accept text or file parts. "
            f"Available input fields: {list(properties)}",
        )


# --- tasks --------------------------------------------------------------------------------
@dataclass(slots=True)
class Task:
    task_id: str
    context_id: str
    run: Run
    state: str
    task_ids: dict[str, str] = field(default_factory=dict)  # task_start_id -> task id


async def context_runs(ctx: ServerContext, context_id: str) -> list[Run]:
    return await run_service.list_runs(ctx, context_id, limit=RUN_SCAN_LIMIT, offset=0, status=None)


def task_ids_by_start(runs: list[Run], context_id: str, assistant_id: str) -> dict[str, str]:
    out = {}
    for run in runs:
        a2a = run.metadata.get("a2a") if isinstance(run.metadata, dict) else None
        start = a2a.get("task_start_id") if isinstance(a2a, dict) else None
        if run.assistant_id == assistant_id and isinstance(start, str) and start:
            out[start] = task_id_of(context_id, run.run_id)
    return out


async def resolve_task(
    ctx: ServerContext, task_id: str, context_id: str | None, assistant_id: str
) -> Task | None:
    """The task an id names, on this assistant; None when there is none (or the caller may
    not see it)."""
    parsed_context, run_id = parse_task_id(task_id)
    if parsed_context and context_id and parsed_context != context_id:
        return None
    context = context_id or parsed_context
    if not context or not is_uuid(context) or not is_uuid(run_id):
        return None
    try:
        run = await run_service.get(ctx, run_id, thread_id=context)
        thread = await thread_service.get(ctx, context)
    except NotFound:
        return None
    if run.assistant_id != assistant_id:
        return None
    if a2a_meta(run).get("task_id") not in (None, task_id):
        return None  # a run continuing another task
    runs = await context_runs(ctx, context)  # newest first
    # the task's latest run: a resume or a cancel continues the task in a run of its own
    latest = next(
        (
            r
            for r in runs
            if r.assistant_id == assistant_id
            and (r.run_id == run.run_id or a2a_meta(r).get("task_id") == task_id)
        ),
        run,
    )
    interrupted = bool(runs) and runs[0].run_id == latest.run_id and thread.status == "interrupted"
    return Task(
        task_id,
        context,
        latest,
        state_of(latest, interrupted),
        task_ids_by_start(runs, context, assistant_id),
    )


def a2a_meta(run: Run) -> dict[str, Any]:
    a2a = run.metadata.get("a2a") if isinstance(run.metadata, dict) else None
    return a2a if isinstance(a2a, dict) else {}


# --- sending ------------------------------------------------------------------------------
@dataclass(slots=True)
class Started:
    """A message's run, created and queued."""

    run: Run
    task_id: str
    context_id: str
    task_ids: dict[str, str]
    run_input: dict[str, Any] | None
    history_length: int | None
    history_scope: str
    user_message: dict[str, Any]


def _resume_value(parts: list[dict[str, Any]]) -> Any:
    datas = [p["data"] for p in parts if "data" in p]
    texts = [p["text"] for p in parts if "text" in p]
    if datas and not texts:
        return datas[0] if len(datas) == 1 else datas
    return "\n".join(texts) if texts else None


def check_message(params: dict[str, Any]) -> dict[str, Any]:
    """The params' message, once it has what every message needs."""
    message = params.get("message")
    if not isinstance(message, dict) or not message:
        raise A2AError(INVALID_PARAMS, "Missing 'message' in params")
    message_id = message.get("messageId")
    if not message_id or not isinstance(message_id, str):
        raise A2AError(INVALID_PARAMS, "Missing required 'messageId' in message")
    role = message.get("role")
    if not role or role == "ROLE_UNSPECIFIED":
        raise A2AError(INVALID_PARAMS, "Missing required 'role' in message")
    parts = message.get("parts", [])
    if not isinstance(parts, list):
        raise A2AError(INVALID_PARAMS, "Invalid params: 'parts' must be an array")
    if not parts:
        raise A2AError(INVALID_PARAMS, "Message must contain at least one part")
    if not all(isinstance(p, dict) for p in parts):
        raise A2AError(
            CONTENT_TYPE_NOT_SUPPORTED,
            "Each message part must be an object. "
            "A2A agents support 'text', 'data', and 'file' parts only.",
        )
    return {**message, "parts": parts}


async def start(
    ctx: ServerContext,
    assistant_id: str,
    params: dict[str, Any],
    request_headers: Mapping[str, str],
    *,
    background: bool,
) -> Started:
    """Validate a SendMessage's params (A2A 1.0 JSON) and create its run."""
    configuration = params.get("configuration") or {}
    if not isinstance(configuration, dict):
        raise A2AError(INVALID_PARAMS, "Invalid params: 'configuration' must be an object")
    length = check_history_length(configuration.get("historyLength"))
    scope = check_history_scope(configuration.get("historyScope"), request_headers)
    message = check_message(params)
    message_id, role, parts = message["messageId"], message["role"], message["parts"]
    assistant = await assistant_of(ctx, assistant_id)
    await check_supports_messages(ctx, assistant, parts)
    context_id = message.get("contextId")
    existing = message.get("taskId")
    if context_id is not None and not isinstance(context_id, str):
        raise A2AError(INVALID_PARAMS, "contextId must be a string")
    if existing is not None and not isinstance(existing, str):
        raise A2AError(INVALID_PARAMS, "taskId must be a string")
    if context_id is not None and not is_uuid(context_id):
        raise A2AError(INVALID_PARAMS, "Failed to create run: Invalid thread ID")

    command: dict[str, Any] | None = None
    task_start_id: str | None = str(uuid.uuid4())
    task_ids: dict[str, str] = {}
    if existing:  # a message into an open task: the answer an interrupted run waits for
        task = await resolve_task(ctx, existing, context_id, assistant.assistant_id)
        if task is None:
            raise A2AError(TASK_NOT_FOUND, f"Task not found: {existing}")
        if task.state in TERMINAL:
            raise A2AError(UNSUPPORTED_OPERATION, "A terminal task cannot accept another message")
        context_id, task_start_id, task_ids = task.context_id, None, task.task_ids
        if task.state == INPUT_REQUIRED:
            command = {"resume": _resume_value(parts)}
    user_input = None if command else run_input(parts, _role(role), message_id, task_start_id)
    payload: dict[str, Any] = {
        "assistant_id": assistant.assistant_id,
        "if_not_exists": "create",
        "metadata": {
            "a2a": {"task_start_id": task_start_id} if task_start_id else {"task_id": existing}
        },
        "stream_mode": ["values", "messages-tuple"],
    }
    if command is not None:
        payload["command"] = command
    else:
        payload["input"] = user_input
    if isinstance(params.get("context"), dict):
        payload["context"] = params["context"]
    thread = context_id or str(uuid.uuid4())
    try:
        run = await run_service.create_run(
            ctx,
            payload,
            thread_id=thread,
            background=background,
            need_values=True,
            request_headers=request_headers,
        )
    except NotFound as exc:
        raise A2AError(INVALID_PARAMS, exc.detail) from None
    task_id = existing or task_id_of(run.thread_id, run.run_id)
    if not existing:  # the earlier tasks of the context, for the history's provenance
        runs = await context_runs(ctx, run.thread_id)
        task_ids = task_ids_by_start(runs, run.thread_id, assistant.assistant_id)
    if task_start_id:
        task_ids = {**task_ids, task_start_id: task_id}
    return Started(
        run,
        task_id,
        run.thread_id,
        task_ids,
        user_input,
        length,
        scope,
        {
            "kind": "message",
            "messageId": message_id,
            "role": _role(role),
            "parts": parts,
            "taskId": task_id,
            "contextId": run.thread_id,
        },
    )


def _role(role: Any) -> str:
    return {"user": "ROLE_USER", "agent": "ROLE_AGENT"}.get(role, role)


async def outcome(ctx: ServerContext, started: Started) -> Any:
    """The run's final output (values, `__interrupt__` or `__error__`), waited for."""
    return await run_service.final_output(ctx, started.run)


async def context_messages(ctx: ServerContext, context_id: str) -> list[Any]:
    try:
        thread = await thread_service.get(ctx, context_id)
    except NotFound:
        return []
    values = thread.values if isinstance(thread.values, dict) else {}
    messages = values.get("messages")
    return messages if isinstance(messages, list) else []


async def finished_task(
    ctx: ServerContext, started: Started, output: Any, assistant_id: str
) -> dict[str, Any]:
    """The Task a SendMessage answers once its run has ended."""
    if isinstance(output, (bytes, str)):
        output = loads(output)
    values = output if isinstance(output, dict) else {}
    messages = values.get("messages")
    if not isinstance(messages, list):
        messages = await context_messages(ctx, started.context_id)
    task: dict[str, Any] = {"kind": "task", "id": started.task_id, "contextId": started.context_id}
    if started.history_length != 0:
        task["history"] = history(
            messages,
            started.task_id,
            started.context_id,
            task_ids=started.task_ids,
            length=started.history_length,
            scope=started.history_scope,
        )
    task.update(final_status(output, started, assistant_id))
    return task


def final_status(output: Any, started: Started, assistant_id: str) -> dict[str, Any]:
    """`status` (and `artifacts`) of a task whose run ended with `output`."""
    if isinstance(output, dict) and "__error__" in output:
        error = output["__error__"]
        kind = error.get("error") if isinstance(error, dict) else error
        return {
            "status": {
                "state": FAILED,
                "message": agent_message(
                    f"Error executing assistant: {kind}", started.task_id, started.context_id
                ),
                "timestamp": now(),
            }
        }
    if isinstance(output, dict) and "__interrupt__" in output:
        return {
            "status": {"state": INPUT_REQUIRED, "timestamp": now()},
            "artifacts": [interrupt_artifact(output["__interrupt__"])],
        }
    return {
        "status": {"state": COMPLETED, "timestamp": now()},
        "artifacts": [response_artifact(reply_parts(output), assistant_id)],
    }


def submitted_task(started: Started) -> dict[str, Any]:
    """The Task as it stands when its run is queued (the first event of a stream)."""
    task: dict[str, Any] = {
        "kind": "task",
        "id": started.task_id,
        "contextId": started.context_id,
        "history": [started.user_message],
        "status": {"state": SUBMITTED, "timestamp": now()},
    }
    return task
