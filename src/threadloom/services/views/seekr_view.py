"""The SeekrFlow view: Run (`thread.run`), Thread, ThreadMessage (other-apis.md §2, §3.4).

SeekrFlow requires `model`, `temperature`, `top_p` and `parallel_tool_calls` on every run: they
come from the model snapshot frozen at the run's first LLM call, then from the run's requested
`model_settings`, then from defaults (model falls back to the graph id).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from threadloom.services.views import analytics
from threadloom.services.views.letta_view import SERVER_METADATA, compat_of, error_text
from threadloom.services.views.messages import as_dict, message_id, role_of
from threadloom.services.views.status import is_active, seekr_status
from threadloom.storage.records import Run, Thread


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


def meta_data(run: Run) -> dict[str, Any]:
    meta = {k: v for k, v in (run.metadata or {}).items() if k not in SERVER_METADATA}
    if run.status in ("error", "timeout") and run.error:
        meta["error"] = {**run.error, "text": error_text(run)}
        if run.status == "timeout":
            meta["error"]["type"] = "timeout"
    return meta


def render_run(run: Run, *, graph_id: str | None, run_timeout_seconds: float) -> dict[str, Any]:
    compat = compat_of(run)
    settings = compat.get("model_settings") or {}
    snapshot = run.model_snapshot or {}
    ended = run.ended_at
    status = seekr_status(run)
    usage = None
    if not is_active(run):
        u = analytics.token_usage(run)
        usage = {k: u[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    expires: datetime | None = None
    if is_active(run):
        expires = run.created_at + timedelta(seconds=run_timeout_seconds)
    return {
        "id": run.run_id,
        "object": "thread.run",
        "created_at": run.created_at,
        "agent_id": run.assistant_id,
        "thread_id": run.thread_id,
        "status": status,
        "is_active": is_active(run),
        "started_at": run.started_at,
        "expires_at": expires,
        "cancelled_at": ended if status == "cancelled" else None,
        "failed_at": ended if status == "failed" else None,
        "completed_at": ended if status == "completed" else None,
        "model": analytics.primary_model(run) or graph_id or run.assistant_id,
        "instructions": snapshot.get("instructions"),
        "tools": [t for t in snapshot.get("tools") or () if isinstance(t, dict)],
        "meta_data": meta_data(run),
        "usage": usage,
        "temperature": float(_first(snapshot.get("temperature"), settings.get("temperature"), 1.0)),
        "top_p": float(_first(snapshot.get("top_p"), settings.get("top_p"), 1.0)),
        "max_completion_tokens": _first(snapshot.get("max_tokens"), settings.get("max_tokens")),
        "truncation_strategy": snapshot.get("truncation_strategy") or {},
        "response_format": _first(compat.get("response_format"), "auto"),
        "tool_choice": _first(snapshot.get("tool_choice"), "auto"),
        "parallel_tool_calls": bool(_first(snapshot.get("parallel_tool_calls"), True)),
        # analytics, as in every view (extra fields the SDK ignores)
        "ttft_ns": analytics.ttft_ns(run),
        "total_duration_ns": analytics.total_duration_ns(run),
    }


def render_thread(thread: Thread, active_run_id: str | None) -> dict[str, Any]:
    """A thread is `locked` while it has a pending or running run (LangGraph `busy`)."""
    return {
        "id": thread.thread_id,
        "object": "thread",
        "created_at": thread.created_at,
        "status": "locked" if active_run_id else "available",
        "active_run_id": active_run_id,
        "meta_data": {k: v for k, v in (thread.metadata or {}).items() if k not in SERVER_METADATA},
    }


def _content(message: dict[str, Any], role: str) -> Any:
    content = message.get("content")
    if isinstance(content, str) or content is None:
        return content or ""
    blocks = []
    for block in content:
        if isinstance(block, str):
            block = {"type": "text", "text": block}
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            kind = "output_text" if role == "assistant" else "input_text"
            item: dict[str, Any] = {"type": kind, "text": block.get("text", "")}
            if kind == "output_text":
                item["annotations"] = []
            blocks.append(item)
        else:
            blocks.append(block)
    return blocks


def render_message(
    message: Any, *, thread_id: str, index: int, agent_id: str | None = None
) -> dict[str, Any]:
    msg = as_dict(message)
    role = role_of(msg)
    extra = msg.get("additional_kwargs") or {}
    meta = dict(extra.get("meta_data") or {})
    if msg.get("tool_calls"):
        meta["tool_calls"] = msg["tool_calls"]
    if msg.get("tool_call_id"):
        meta["tool_call_id"] = msg["tool_call_id"]
    return {
        "id": message_id(msg, thread_id, index),
        "object": "thread.message",
        "thread_id": thread_id,
        "role": role,
        "content": _content(msg, role),
        "agent_id": agent_id if role == "assistant" else None,
        "run_id": extra.get("run_id"),
        "meta_data": meta,
    }


def to_langchain(
    role: str, content: Any, *, message_id: str, meta_data: dict[str, Any]
) -> dict[str, Any]:
    """A SeekrFlow message as the dict LangGraph's `add_messages` turns into a message."""
    blocks: Any = content
    if isinstance(content, list):
        blocks = [
            {"type": "text", "text": b.get("text", "")}
            if isinstance(b, dict) and b.get("type") in ("input_text", "output_text")
            else b
            for b in content
        ]
    kind = {"user": "human", "assistant": "ai", "system": "system"}.get(role, "human")
    out: dict[str, Any] = {"type": kind, "content": blocks, "id": message_id}
    if meta_data:
        out["additional_kwargs"] = {"meta_data": meta_data}
    return out
