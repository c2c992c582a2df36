"""Response shapes for the OpenAPI document.

Handlers return plain dicts encoded with orjson (fast, and free to carry extra fields); these
models only describe what comes back, through `responses=`, so /openapi.json is accurate without
validating every response on the hot path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, create_model

from threadloom.api.http import OPEN_PATHS


class ErrorResponse(BaseModel):
    detail: str


class AssistantOut(BaseModel):
    assistant_id: str
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any]
    version: int
    name: str
    description: str | None


class ThreadOut(BaseModel):
    thread_id: str
    created_at: datetime
    updated_at: datetime
    state_updated_at: datetime
    metadata: dict[str, Any]
    config: dict[str, Any]
    status: str
    values: Any
    interrupts: dict[str, Any]
    error: Any = None
    ttl: dict[str, Any] | None = None
    extracted: dict[str, Any] | None = None


class CheckpointOut(BaseModel):
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str | None
    checkpoint_map: dict[str, Any] | None = None


class ThreadStateOut(BaseModel):
    """A thread's state; on a thread with no checkpoint yet `metadata`, `created_at` and the
    checkpoints are null."""

    values: Any
    next: list[str]
    tasks: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    created_at: str | None
    checkpoint: CheckpointOut | None
    parent_checkpoint: CheckpointOut | None
    interrupts: list[dict[str, Any]]
    checkpoint_id: str | None = None
    parent_checkpoint_id: str | None = None


class RunOut(BaseModel):
    run_id: str
    thread_id: str
    assistant_id: str
    created_at: datetime
    updated_at: datetime
    status: str
    metadata: dict[str, Any]
    kwargs: dict[str, Any]
    multitask_strategy: str
    attempt: int
    started_at: datetime | None
    ended_at: datetime | None
    stop_reason: str | None
    error: dict[str, Any] | None
    background: bool
    usage: dict[str, Any] | None
    ttft_ns: int | None
    total_duration_ns: int | None


class CronOut(BaseModel):
    cron_id: str
    assistant_id: str
    thread_id: str | None
    user_id: str
    end_time: datetime | None
    schedule: str
    timezone: str | None
    payload: dict[str, Any]
    next_run_date: datetime | None
    metadata: dict[str, Any]
    on_run_completed: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime


class OkOut(BaseModel):
    ok: bool
    services: dict[str, str] | None = None


class InfoOut(BaseModel):
    version: str
    server: str
    langgraph_py_version: str | None
    flags: dict[str, bool]
    host: dict[str, Any]
    storage: str
    graphs: list[str]


def fields_of(model: type[BaseModel]) -> type[BaseModel]:
    """`model` with no field required: a search's `select` answers only the fields it names
    (the types still hold for those it sends)."""
    fields: dict[str, Any] = {
        name: (info.annotation, None) for name, info in model.model_fields.items()
    }
    return create_model(f"{model.__name__}Fields", __doc__=model.__doc__, **fields)


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Impossible request"},
    404: {"model": ErrorResponse, "description": "Not found"},
    409: {"model": ErrorResponse, "description": "Conflict"},
    422: {"model": ErrorResponse, "description": "Invalid input"},
}

PAGINATION: dict[str, Any] = {
    "X-Pagination-Total": {
        "description": "How many items match, over all pages",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "X-Pagination-Next": {
        "description": "The offset of the next page (absent on the last page)",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}


def ok(
    model: Any, description: str = "Successful response", *, headers: dict[str, Any] | None = None
) -> dict[int | str, dict[str, Any]]:
    success: dict[str, Any] = {"model": model, "description": description}
    if headers:
        success["headers"] = headers
    return {200: success, **ERRORS}


def page_of(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """A search's answer: a list of (possibly `select`-ed) items with pagination headers."""
    return ok(list[fields_of(model)], headers=PAGINATION)  # type: ignore[misc]


# One event of a stream, as OpenAPI 3.1 has `schema` describe each event of text/event-stream
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
    "required": ["event", "data"],
}

# Letta's and SeekrFlow's streams: `data:` lines only, the last one `[DONE]`
DATA_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {"data": {"type": "string"}},
    "required": ["data"],
}

SSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `event:`, `data:` (JSON) and `id:` lines; "
        "the first event is `metadata` {run_id, attempt}",
        "content": {"text/event-stream": {"schema": SSE_EVENT}},
    },
    **ERRORS,
}

DATA_SSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events of `data:` lines (JSON objects), then `data: [DONE]`",
        "content": {"text/event-stream": {"schema": DATA_EVENT}},
    },
    **ERRORS,
}

WAIT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": 'The run\'s final values, `{"__interrupt__": [...]}` or '
        '`{"__error__": {error, message}}`; newline keep-alives precede it',
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    **ERRORS,
}

NO_CONTENT: dict[int | str, dict[str, Any]] = {204: {"description": "Done"}, **ERRORS}

# JSON-RPC endpoints (MCP, A2A): every call answers 200 with a JSON-RPC envelope; a message
# that is a response or a notification 202; a message that is not JSON-RPC at all 400
JSON_RPC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A JSON-RPC response (`result` or `error`), as JSON or, for a "
        "streaming method, Server-Sent Events of responses",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/event-stream": {"schema": SSE_EVENT},
        },
    },
    202: {"description": "Accepted: the message was a notification or a response"},
    **ERRORS,
}


def status_only(code: int, description: str) -> dict[int | str, dict[str, Any]]:
    """An operation that always answers one bodiless status (a method a protocol reserves)."""
    return {code: {"description": description}}


CANCEL: dict[int | str, dict[str, Any]] = {
    202: {"description": "Cancellation requested (wait=false)"},
    **WAIT,
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


def describe_errors(document: dict[str, Any], *, authenticated: bool) -> dict[str, Any]:
    """The errors every operation can answer, in the one shape they all have (`{"detail": str}`,
    api/http.py): 422 for invalid input (FastAPI would document its own list-of-errors body,
    which the server never sends), 503 while a backing service is away, 413 where a body is
    read, and 401/403 when keys or custom auth guard the API."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorResponse"] = ErrorResponse.model_json_schema()
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            codes = {"422": "Invalid input", "503": "A backing service is unavailable"}
            if "requestBody" in operation:
                codes["413"] = "Request body too large"
            if authenticated and path not in OPEN_PATHS:
                codes["401"] = "Missing or invalid credentials"
                codes["403"] = "Not allowed"
            for code, description in codes.items():
                known = responses.get(code, {}).get("description")
                if code == "422" or not known:
                    known = description
                responses[code] = _error(known)
    return document


def install_document(app: Any, *, authenticated: bool) -> None:
    """Make /openapi.json carry `describe_errors` (built once, then cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_errors(generate(), authenticated=authenticated)
        return dict(app.openapi_schema)

    app.openapi = openapi


def without_webhooks(app: Any) -> None:
    """With `http.disable_webhooks`, /openapi.json stops offering a `webhook` field (as the
    reference's document does); requests that send one are still accepted and validated."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for component in schema.get("components", {}).get("schemas", {}).values():
                component.get("properties", {}).pop("webhook", None)
            app.openapi_schema = schema
        return dict(app.openapi_schema)

    app.openapi = openapi
