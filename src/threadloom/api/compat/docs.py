"""Response shapes of the Letta and SeekrFlow views, for /openapi.json.

Like api/docs.py these only describe what the handlers send (services/views/letta.py and
seekr.py build the dicts); a field added there belongs here too, which the schemathesis run in
tests/e2e/test_schemathesis.py checks against real responses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from threadloom.api.docs import DATA_SSE, ok


class LettaRun(BaseModel):
    id: str
    agent_id: str
    background: bool | None
    base_template_id: str | None
    callback_url: str | None
    callback_sent_at: datetime | None
    callback_status_code: int | None
    callback_error: str | None
    completed_at: datetime | None
    conversation_id: str | None
    created_at: datetime
    metadata: dict[str, Any]
    request_config: dict[str, Any]
    status: str
    stop_reason: str | None
    total_duration_ns: int | None
    ttft_ns: int | None


class LettaUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: dict[str, int | None]
    completion_tokens_details: dict[str, int | None]


class LettaStep(BaseModel):
    id: str
    run_id: str
    agent_id: str
    kind: str
    name: str | None
    model: str | None
    tool_call_id: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cached_input_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    status: str
    error_type: str | None
    started_at: Any
    completed_at: Any
    duration_ns: int | None


class LettaMessage(BaseModel):
    """One of Letta's message types (`user_message`, `assistant_message`, `tool_call_message`,
    `tool_return_message`, `system_message`): the fields all share, and those of its type."""

    model_config = ConfigDict(extra="allow")

    id: str
    date: datetime
    run_id: str
    seq_id: int | None
    message_type: str


class LettaStopReason(BaseModel):
    message_type: str
    stop_reason: str | None


class LettaResponse(BaseModel):
    messages: list[LettaMessage]
    stop_reason: LettaStopReason
    usage: dict[str, Any]


class SeekrRun(BaseModel):
    id: str
    object: str
    created_at: datetime
    agent_id: str
    thread_id: str
    status: str
    is_active: bool
    started_at: datetime | None
    expires_at: datetime | None
    cancelled_at: datetime | None
    failed_at: datetime | None
    completed_at: datetime | None
    model: str
    instructions: Any
    tools: list[dict[str, Any]]
    meta_data: dict[str, Any]
    usage: dict[str, int] | None
    temperature: float
    top_p: float
    max_completion_tokens: int | None
    truncation_strategy: dict[str, Any]
    response_format: Any
    tool_choice: Any
    parallel_tool_calls: bool
    ttft_ns: int | None
    total_duration_ns: int | None


class SeekrRunQueued(BaseModel):
    run_id: str
    thread_id: str
    status: str
    group: Any


class SeekrRunCancelled(BaseModel):
    run_id: str
    status: str


class SeekrThread(BaseModel):
    id: str
    object: str
    created_at: datetime
    status: str
    active_run_id: str | None
    meta_data: dict[str, Any]


class SeekrMessage(BaseModel):
    id: str
    object: str
    thread_id: str
    role: str
    content: Any
    agent_id: str | None
    run_id: str | None
    meta_data: dict[str, Any]


class Deleted(BaseModel):
    deleted: bool


__all__ = [
    "DATA_SSE",
    "Deleted",
    "LettaMessage",
    "LettaResponse",
    "LettaRun",
    "LettaStep",
    "LettaUsage",
    "SeekrMessage",
    "SeekrRun",
    "SeekrRunCancelled",
    "SeekrRunQueued",
    "SeekrThread",
    "ok",
]
