"""Response shapes for the OpenAPI document.

Handlers return plain dicts encoded with orjson (fast, and free to carry extra fields); these
models only describe what comes back, through `responses=`, so /openapi.json is accurate without
validating every response on the hot path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
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
    values: Any
    next: list[str]
    tasks: list[dict[str, Any]]
    metadata: dict[str, Any]
    created_at: str | None
    checkpoint: CheckpointOut
    parent_checkpoint: CheckpointOut | None
    interrupts: list[dict[str, Any]]


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


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Not found"},
    409: {"model": ErrorBody, "description": "Conflict"},
    422: {"model": ErrorBody, "description": "Invalid input"},
}


def ok(model: Any, description: str = "Successful response") -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": description}, **ERRORS}


SSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `event:`, `data:` (JSON) and `id:` lines; "
        "the first event is `metadata` {run_id, attempt}",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
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

CANCEL: dict[int | str, dict[str, Any]] = {
    202: {"description": "Cancellation requested (wait=false)"},
    **WAIT,
}


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
