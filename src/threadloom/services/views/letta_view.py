"""The Letta v1 view of runs: Run, usage, steps, messages, stream chunks and callback payloads
(other-apis.md §1, §3.4). Ids carry Letta's prefixes (`run-`, `agent-`, `step-`, `message-`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from threadloom.services.views import analytics
from threadloom.services.views.messages import (
    arguments_json,
    as_dict,
    message_id,
    role_of,
    text_of,
    tool_calls_of,
)
from threadloom.services.views.status import letta_status, letta_stop_reason
from threadloom.storage.records import Run

SERVER_METADATA = frozenset({"assistant_id", "graph_id", "thread_id", "run_id"})
DEFAULT_REQUEST_CONFIG: dict[str, Any] = {
    "use_assistant_message": True,
    "assistant_message_tool_name": "send_message",
    "assistant_message_tool_kwarg": "message",
    "include_return_message_types": None,
}


def strip_prefix(value: str, prefix: str) -> str:
    """`run-<uuid>` → `<uuid>`; other values unchanged (the caller validates them)."""
    return value[len(prefix) :] if value.startswith(prefix) else value


def run_id(raw: str) -> str:
    return f"run-{raw}"


def agent_id(raw: str) -> str:
    return f"agent-{raw}"


def compat_of(run: Run) -> dict[str, Any]:
    """Origin-specific request echo the LangGraph payload has no slot for (`kwargs.compat`)."""
    value = (run.kwargs or {}).get("compat")
    return value if isinstance(value, dict) else {}


def error_text(run: Run) -> str | None:
    """`metadata.error` as Letta writes it: one string (tools such as lettabot read it)."""
    err = run.error
    if not err:
        return None
    kind = err.get("error") or err.get("type") or "Error"
    message = err.get("message") or ""
    return f"{kind}: {message}" if message else str(kind)


def metadata(run: Run) -> dict[str, Any]:
    meta = {k: v for k, v in (run.metadata or {}).items() if k not in SERVER_METADATA}
    text = error_text(run)
    if text is not None and run.status in ("error", "timeout"):
        meta["error"] = text
        if run.status == "timeout":
            meta["error_type"] = "timeout"
    return meta


def callback_fields(run: Run) -> dict[str, Any]:
    """`callback_*` from the run's webhook delivery record (last attempt wins)."""
    hook = run.webhook or {}
    return {
        "callback_url": hook.get("url"),
        "callback_sent_at": hook.get("sent_at"),
        "callback_status_code": hook.get("status_code"),
        "callback_error": hook.get("error"),
    }


def render_run(run: Run, *, default_thread_id: str | None = None) -> dict[str, Any]:
    compat = compat_of(run)
    return {
        "id": run_id(run.run_id),
        "agent_id": agent_id(run.assistant_id),
        "background": run.background,
        "base_template_id": None,
        **callback_fields(run),
        "completed_at": run.ended_at,
        "conversation_id": None if run.thread_id == default_thread_id else run.thread_id,
        "created_at": run.created_at,
        "metadata": metadata(run),
        "request_config": {**DEFAULT_REQUEST_CONFIG, **(compat.get("request_config") or {})},
        "status": letta_status(run),
        "stop_reason": letta_stop_reason(run),
        "total_duration_ns": analytics.total_duration_ns(run),
        "ttft_ns": analytics.ttft_ns(run),
    }


def render_usage(run: Run) -> dict[str, Any]:
    u = analytics.token_usage(run)
    return {
        "prompt_tokens": u["prompt_tokens"],
        "completion_tokens": u["completion_tokens"],
        "total_tokens": u["total_tokens"],
        "prompt_tokens_details": {
            "cached_tokens": u["cache_read_tokens"],
            "cache_read_tokens": u["cache_read_tokens"],
            "cache_creation_tokens": u["cache_creation_tokens"],
        },
        "completion_tokens_details": {"reasoning_tokens": u["reasoning_tokens"]},
    }


def usage_statistics(run: Run) -> dict[str, Any]:
    u = analytics.token_usage(run)
    return {
        "message_type": "usage_statistics",
        "prompt_tokens": u["prompt_tokens"],
        "completion_tokens": u["completion_tokens"],
        "total_tokens": u["total_tokens"],
        "step_count": u["step_count"],
        "run_ids": [run_id(run.run_id)],
        "cached_input_tokens": u["cache_read_tokens"],
        "cache_write_tokens": u["cache_creation_tokens"],
        "reasoning_tokens": u["reasoning_tokens"],
    }


def step_id(run: Run, index: int) -> str:
    return f"step-{uuid.uuid5(uuid.NAMESPACE_URL, f'{run.run_id}/step/{index}')}"


def render_steps(run: Run) -> list[dict[str, Any]]:
    """LLM and tool calls in the order they ended, with their own timings (extra fields)."""
    steps = []
    for index, step in enumerate(run.steps or ()):
        usage = step.get("usage") or {}
        inputs = usage.get("input_token_details") or {}
        outputs = usage.get("output_token_details") or {}
        failed = bool(step.get("error"))
        steps.append(
            {
                "id": step_id(run, index),
                "run_id": run_id(run.run_id),
                "agent_id": agent_id(run.assistant_id),
                "kind": "llm_call" if step.get("type") == "llm" else "tool_call",
                "name": step.get("name"),
                "model": step.get("model"),
                "tool_call_id": step.get("tool_call_id"),
                "prompt_tokens": usage.get("input_tokens"),
                "completion_tokens": usage.get("output_tokens"),
                "total_tokens": usage.get("total_tokens"),
                "cached_input_tokens": inputs.get("cache_read"),
                "cache_write_tokens": inputs.get("cache_creation"),
                "reasoning_tokens": outputs.get("reasoning"),
                "status": "failed" if failed else "success",
                "error_type": step.get("error"),
                "started_at": step.get("started_at"),
                "completed_at": step.get("ended_at"),
                "duration_ns": step.get("duration_ns"),
            }
        )
    return steps


def _letta_message_id(raw: str) -> str:
    return raw if raw.startswith("message-") else f"message-{raw}"


def render_message(
    message: Any, *, run: Run, index: int, date: datetime, seq_id: int | None = None
) -> list[dict[str, Any]]:
    """One LangChain message as Letta messages: an AI message with text and tool calls becomes
    an assistant_message and a tool_call_message sharing its id, as Letta does."""
    msg = as_dict(message)
    mid = _letta_message_id(message_id(msg, run.run_id, index))
    base = {"id": mid, "date": date, "run_id": run_id(run.run_id), "seq_id": seq_id}
    role = role_of(msg)
    out: list[dict[str, Any]] = []
    if role == "user":
        out.append({**base, "message_type": "user_message", "content": msg.get("content") or ""})
    elif role == "system":
        out.append(
            {**base, "message_type": "system_message", "content": text_of(msg.get("content"))}
        )
    elif role == "tool":
        status = "error" if msg.get("status") == "error" else "success"
        out.append(
            {
                **base,
                "message_type": "tool_return_message",
                "tool_call_id": msg.get("tool_call_id") or "",
                "tool_return": text_of(msg.get("content")),
                "status": status,
                "name": msg.get("name"),
            }
        )
    else:
        text = text_of(msg.get("content"))
        if text:
            out.append({**base, "message_type": "assistant_message", "content": text})
        calls = [
            {
                "name": c.get("name") or "",
                "arguments": arguments_json(c.get("args")),
                "tool_call_id": c.get("id") or "",
            }
            for c in tool_calls_of(msg)
        ]
        if calls:
            out.append(
                {
                    **base,
                    "message_type": "tool_call_message",
                    "tool_call": calls[0],
                    "tool_calls": calls,
                }
            )
    return out


def render_messages(run: Run, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    date = run.ended_at or run.updated_at or run.created_at
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        when = run.created_at if role_of(message) == "user" else date
        out.extend(render_message(message, run=run, index=index, date=when))
    return out


def letta_response(run: Run, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """What `POST /v1/agents/{id}/messages` returns (and a callback's `metadata.result`)."""
    return {
        "messages": render_messages(run, messages),
        "stop_reason": {"message_type": "stop_reason", "stop_reason": letta_stop_reason(run)},
        "usage": usage_statistics(run),
    }


def callback_payload(run: Run, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Letta's completion callback body: `{run_id, status, completed_at, metadata{…, result}}`."""
    return {
        "run_id": run_id(run.run_id),
        "status": letta_status(run),
        "completed_at": run.ended_at,
        "metadata": {**metadata(run), "result": letta_response(run, messages)},
    }
