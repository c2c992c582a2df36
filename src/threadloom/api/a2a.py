"""`/a2a/{assistant_id}`: each assistant as an A2A agent (JSON-RPC 2.0), and its agent card.

Both generations of method names are answered, as by the reference: A2A 1.0's `SendMessage`,
`SendStreamingMessage`, `GetTask`, `CancelTask`, `ListTasks` (what `a2a-sdk` 1.x sends) in 1.0's
JSON (`ROLE_AGENT`, `TASK_STATE_COMPLETED`, stream events wrapped as `{"statusUpdate": …}`), and
0.3's `message/send`, `message/stream`, `tasks/get`, `tasks/cancel` in 0.3's (`agent`,
`completed`, `kind: "status-update"`, a send's Task unwrapped). A JSON-RPC error is a 200 with
an `error` object; only a missing `Accept` type is an HTTP 400. A send's params are checked by
the `a2a-sdk`'s own models (protobuf for 1.0, pydantic for 0.3: api/a2a_params.py, imported on
the first send, so a server no A2A client sends to never loads the SDK) before services/a2a.py
maps them onto a run; the mapping is described there.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from threadloom.api.deps import get_ctx
from threadloom.api.docs import JSON_RPC, ok, status_only
from threadloom.api.http import JSONResponse
from threadloom.api.json_body import InvalidBody, parse_json
from threadloom.api.sse import EventStreamResponse
from threadloom.errors import Forbidden, Rejected, ThreadloomError
from threadloom.serde import dumps, loads
from threadloom.services import a2a as service
from threadloom.services import a2a_parts
from threadloom.services import a2a_tasks as tasks
from threadloom.services.a2a_parts import A2AError
from threadloom.services.context import ServerContext
from threadloom.services.ids import is_uuid

logger = logging.getLogger("threadloom.a2a")

router = APIRouter(tags=["A2A"], default_response_class=JSONResponse)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601

LEGACY_METHODS = {
    "message/send": "SendMessage",
    "message/stream": "SendStreamingMessage",
    "tasks/get": "GetTask",
    "tasks/cancel": "CancelTask",
}
KNOWN_METHODS = frozenset(
    {
        "SendMessage",
        "SendStreamingMessage",
        "GetTask",
        "CancelTask",
        "ListTasks",
        "GetExtendedAgentCard",
    }
)
_ROLE_TO_LEGACY = {"ROLE_USER": "user", "ROLE_AGENT": "agent"}
_STATE_TO_LEGACY = {
    "TASK_STATE_SUBMITTED": "submitted",
    "TASK_STATE_WORKING": "working",
    "TASK_STATE_COMPLETED": "completed",
    "TASK_STATE_FAILED": "failed",
    "TASK_STATE_CANCELED": "canceled",
    "TASK_STATE_INPUT_REQUIRED": "input-required",
    "TASK_STATE_REJECTED": "rejected",
    "TASK_STATE_AUTH_REQUIRED": "auth-required",
}


# --- rendering ----------------------------------------------------------------------------
def legacy(data: Any) -> Any:
    """A2A 1.0 JSON as 0.3 writes it: lower-case roles and states, a send's Task unwrapped."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key == "role" and isinstance(value, str):
                out[key] = _ROLE_TO_LEGACY.get(value, value)
            elif key == "state" and isinstance(value, str):
                out[key] = _STATE_TO_LEGACY.get(value, value)
            elif key == "result" and isinstance(value, dict) and list(value) == ["task"]:
                out[key] = legacy(value["task"])
            else:
                out[key] = legacy(value)
        return out
    if isinstance(data, list):
        return [legacy(item) for item in data]
    return data


def error_body(code: int, message: str, id_: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}}


def http_error(message: str, status_code: int) -> Response:
    return JSONResponse({"error": message, "detail": message}, status_code=status_code)


def accepts(accept: str, media_type: str) -> bool:
    for item in accept.split(","):
        value = item.split(";", 1)[0].strip().lower()
        if value in ("*/*", media_type) or (
            value.endswith("/*") and media_type.startswith(value[:-1])
        ):
            return True
    return False


# --- incoming params -----------------------------------------------------------------------
def send_params(params: Any, legacy_names: bool) -> dict[str, Any]:
    """A SendMessage's params as A2A 1.0 JSON; parts keep their own keys (`text`, `data`…)."""
    if not isinstance(params, dict):
        raise A2AError(a2a_parts.INVALID_PARAMS, "Invalid params: must be an object")
    message = params.get("message")
    if not message or not isinstance(message, dict):
        raise A2AError(a2a_parts.INVALID_PARAMS, "Missing or invalid 'message' in params")
    service.check_message(params)  # the reference's words for what every message needs
    from threadloom.api import a2a_params  # the a2a-sdk and protobuf: on the first send only

    a2a_params.check_send(params, legacy_names)
    return params


def _background(params: dict[str, Any]) -> bool:
    """A send that asks not to wait: 1.0's `returnImmediately`, 0.3's `blocking: false`."""
    config = params.get("configuration")
    if not isinstance(config, dict):
        return False
    return config.get("returnImmediately") is True or config.get("blocking") is False


# --- streaming ----------------------------------------------------------------------------
def _stream_item(kind: str, body: dict[str, Any], legacy_names: bool, final: bool) -> Any:
    if not legacy_names:
        return {
            {"task": "task", "status": "statusUpdate", "artifact": "artifactUpdate"}[kind]: body
        }
    if kind == "task":
        return legacy(body)
    marker = "status-update" if kind == "status" else "artifact-update"
    head = {"taskId": body["taskId"], "contextId": body["contextId"], "kind": marker}
    out = legacy({**head, **body})
    if kind == "status":
        out["final"] = final
    return out


async def stream_events(
    ctx: ServerContext,
    started: service.Started,
    assistant_id: str,
) -> AsyncIterator[tuple[str, dict[str, Any], bool]]:
    """(kind, body, final) for the task's stream: the task as queued, a working status per
    token of an agent message (its text so far) or per tool result, then the answer as an
    artifact and the final status."""
    yield "task", service.submitted_task(started), False
    ids = {"taskId": started.task_id, "contextId": started.context_id}
    texts: dict[str, str] = {}
    async for batch in ctx.broker.read_batches(started.run.run_id, after=0, follow=True):
        for event in batch:
            if event.event != "messages":
                continue
            chunk = loads(event.data)
            message = chunk[0] if isinstance(chunk, list) and chunk else chunk
            if not isinstance(message, dict):
                continue
            part = _working_part(message, texts)
            if part is None:
                continue
            working = {
                "kind": "message",
                "role": "ROLE_AGENT",
                "parts": [part],
                "messageId": message.get("id") or started.task_id,
                **ids,
            }
            status = {"state": service.WORKING, "message": working, "timestamp": service.now()}
            yield "status", {**ids, "status": status}, False
    output = await service.outcome(ctx, started)
    final = service.final_status(output, started, assistant_id)
    for artifact in final.get("artifacts", []):
        yield "artifact", {**ids, "artifact": artifact, "append": False, "lastChunk": True}, False
    yield "status", {**ids, "status": final["status"]}, True


def _working_part(message: dict[str, Any], texts: dict[str, str]) -> dict[str, Any] | None:
    role = a2a_parts.role_of(message)
    if role == "ROLE_AGENT":
        parts = a2a_parts.content_parts(message.get("content"))
        delta = parts[0]["text"] if parts else ""
        key = str(message.get("id"))
        chunked = str(message.get("type", "")).lower().endswith("chunk")
        texts[key] = texts.get(key, "") + delta if chunked else delta
        return {"kind": "text", "text": texts[key]} if texts[key] else None
    if role is None:
        result = a2a_parts.tool_result(message)
        return a2a_parts.tool_results_part([result]) if result else None
    return None


async def _frames(
    ctx: ServerContext,
    started: service.Started,
    assistant_id: str,
    id_: Any,
    legacy_names: bool,
) -> AsyncIterator[bytes]:
    try:
        async for kind, body, final in stream_events(ctx, started, assistant_id):
            result = _stream_item(kind, body, legacy_names, final)
            yield _sse({"jsonrpc": "2.0", "id": id_, "result": result})
    except Exception:  # the stream has begun: the error goes in it, as a JSON-RPC error
        logger.exception("A2A stream of run %s failed", started.run.run_id)
        yield _sse(error_body(a2a_parts.INTERNAL_ERROR, "Internal server error", id_))


def _sse(payload: Any) -> bytes:
    data = (
        dumps(payload)
        .replace(b"\xc2\x85", b"\\u0085")
        .replace(b"\xe2\x80\xa8", b"\\u2028")
        .replace(b"\xe2\x80\xa9", b"\\u2029")
    )
    return b"event: message\r\ndata: " + data + b"\r\n\r\n"


# --- methods ------------------------------------------------------------------------------
async def call(
    ctx: ServerContext,
    method: str,
    params: Any,
    assistant_id: str,
    headers: Mapping[str, str],
    legacy_names: bool,
) -> dict[str, Any]:
    """`{"result": …}` of a method other than streaming; A2AError for its error."""
    if method == "SendMessage":
        body = send_params(params, legacy_names)
        started = await service.start(
            ctx, assistant_id, body, headers, background=_background(body)
        )
        if started.run.status == "pending" and _background(body):
            return {"result": {"task": service.submitted_task(started)}}
        output = await service.outcome(ctx, started)
        task = await service.finished_task(ctx, started, output, assistant_id)
        return {"result": {"task": task}}
    if not isinstance(params, dict):
        raise A2AError(a2a_parts.INVALID_PARAMS, "Invalid params: must be an object")
    if method == "GetTask":
        return {"result": await tasks.get_task(ctx, assistant_id, params, headers)}
    if method == "CancelTask":
        return {"result": await tasks.cancel_task(ctx, assistant_id, params)}
    if method == "ListTasks":
        return {"result": await tasks.list_tasks(ctx, assistant_id, params, headers)}
    raise A2AError(a2a_parts.UNSUPPORTED_OPERATION, f"{method} is not supported by this server")


@router.post(
    "/a2a/{assistant_id}", summary="A2A JSON-RPC endpoint of an assistant", responses=JSON_RPC
)
async def post_a2a(
    assistant_id: str, request: Request, ctx: ServerContext = Depends(get_ctx)
) -> Response:
    try:
        message = parse_json(await request.body())
    except InvalidBody:
        return JSONResponse(error_body(PARSE_ERROR, "Invalid JSON payload"))
    if not isinstance(message, dict):
        return JSONResponse(error_body(INVALID_REQUEST, "Invalid message format: expected object"))
    id_ = message.get("id")
    if message.get("jsonrpc") != "2.0":
        return JSONResponse(
            error_body(
                INVALID_REQUEST, "Invalid JSON-RPC message: missing or invalid jsonrpc version", id_
            )
        )
    method = message.get("method")
    legacy_names = isinstance(method, str) and method in LEGACY_METHODS
    if isinstance(method, str):
        method = LEGACY_METHODS.get(method, method)
    if id_ is not None and (isinstance(id_, bool) or not isinstance(id_, (str, int, float))):
        return JSONResponse(
            error_body(
                INVALID_REQUEST, "Invalid JSON-RPC request: 'id' must be a string, number, or null"
            )
        )
    if method is not None and not isinstance(method, str):
        return JSONResponse(
            error_body(METHOD_NOT_FOUND, "Method not found: method must be a string", id_)
        )
    if method is not None and method not in KNOWN_METHODS:
        return JSONResponse(error_body(METHOD_NOT_FOUND, f"Method not found: {method}", id_))
    accept = request.headers.get("accept", "")
    if method == "SendStreamingMessage":
        if not accepts(accept, "text/event-stream"):
            return http_error("Accept header must include text/event-stream for streaming", 400)
    elif not accepts(accept, "application/json"):
        return http_error("Accept header must include application/json", 400)
    if id_ is None or not method:
        if id_ is not None and ("result" in message or "error" in message):
            return Response(status_code=202)  # a response to us: nothing to answer
        detail = (
            "Invalid JSON-RPC request: missing 'method' field"
            if id_ is not None
            else "Invalid message format: must be a JSON-RPC request or notification"
        )
        return JSONResponse(error_body(INVALID_REQUEST, detail, id_))
    if not is_uuid(assistant_id):
        return JSONResponse(
            error_body(a2a_parts.INVALID_PARAMS, "Invalid assistant ID: must be a UUID", id_)
        )
    params = message.get("params", {})
    try:
        if method == "SendStreamingMessage":
            body = send_params(params, legacy_names)
            started = await service.start(
                ctx, assistant_id, body, request.headers, background=False
            )
            return EventStreamResponse(
                _frames(ctx, started, started.run.assistant_id, id_, legacy_names),
                heartbeat_seconds=ctx.settings.stream_keepalive_seconds,
            )
        answer = await call(ctx, method, params, assistant_id, request.headers, legacy_names)
    except A2AError as exc:
        answer = {"error": {"code": exc.code, "message": exc.detail}}
    except (Forbidden, Rejected):
        raise  # the caller may not: an HTTP answer, as on every other route
    except ThreadloomError as exc:  # the run could not be created as asked
        answer = {"error": {"code": a2a_parts.INVALID_PARAMS, "message": exc.detail}}
    body_out = {"jsonrpc": "2.0", "id": id_, **answer}
    return JSONResponse(legacy(body_out) if legacy_names else body_out)


@router.delete(
    "/a2a/{assistant_id}",
    summary="A2A session termination (no sessions)",
    responses=status_only(405, "Not offered: the endpoint keeps no sessions"),
)
async def delete_a2a(assistant_id: str) -> Response:
    return Response(status_code=405, headers={"Allow": "GET, POST"})


# --- agent cards --------------------------------------------------------------------------
def base_url(request: Request, assistant_id: str) -> str:
    """Where the API is, as the caller reached it (`X-Forwarded-Proto` honoured)."""
    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    host = request.url.hostname or "localhost"
    port = request.url.port
    path = (
        request.url.path.removesuffix(  # the whole path: under `http.mount_prefix`, the prefix too
            "/.well-known/agent-card.json"
        )
        .removesuffix("/.well-known/agent.json")
        .removesuffix(f"/a2a/{assistant_id}")
        .removesuffix("/")
    )
    default_port = (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
    netloc = host if port is None or default_port else f"{host}:{port}"
    return f"{scheme}://{netloc}{path}"


# an unknown or malformed assistant id is a 400 with a JSON-RPC style error (as the reference)
CARD = ok(dict[str, Any], "The assistant's A2A agent card")


def _card_error(code: int, message: str, status_code: int) -> Response:
    return JSONResponse(
        {"error": {"code": code, "message": message}, "detail": message}, status_code=status_code
    )


async def _card(ctx: ServerContext, request: Request, assistant_id: str | None) -> Response:
    if not assistant_id:
        return _card_error(
            a2a_parts.INVALID_PARAMS, "Missing required query parameter: assistant_id", 400
        )
    try:
        assistant = await service.assistant_of(ctx, assistant_id)
        card = await service.agent_card(ctx, assistant, base_url(request, assistant_id))
    except A2AError as exc:
        message = exc.detail  # "Assistant '…' not found" as it is, a bad id said where
        if not is_uuid(assistant_id):
            message = f"Failed to get assistant '{assistant_id}': {message}"
        return _card_error(exc.code, message, 400)
    return JSONResponse(card)


@router.get(
    "/a2a/{assistant_id}",
    summary="An assistant's agent card (GET on the agent's URL)",
    responses=CARD,
)
@router.get(
    "/a2a/{assistant_id}/.well-known/agent-card.json",
    summary="An assistant's agent card",
    responses=CARD,
)
@router.get(
    "/a2a/{assistant_id}/.well-known/agent.json",
    summary="An assistant's agent card (A2A 0.2 path)",
    include_in_schema=False,
)
async def assistant_card(
    assistant_id: str, request: Request, ctx: ServerContext = Depends(get_ctx)
) -> Response:
    return await _card(ctx, request, assistant_id)


@router.get(
    "/.well-known/agent-card.json", summary="The agent card of `?assistant_id=`", responses=CARD
)
async def card_by_query(
    request: Request, assistant_id: str | None = None, ctx: ServerContext = Depends(get_ctx)
) -> Response:
    return await _card(ctx, request, assistant_id)
