"""Run analytics every view shows: time to first token, duration, token usage, steps.

One definition for all three APIs (other-apis.md §3.4): durations count from `created_at`
(request time, queue wait included, as Letta does), so `ttft_ns` and `total_duration_ns` agree
wherever a run is read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from threadloom.serde import isoformat
from threadloom.storage.records import Run


def ns_between(start: datetime | None, end: datetime | None) -> int | None:
    """Nanoseconds from `start` to `end` (never negative), or None if either is unknown."""
    if start is None or end is None:
        return None
    delta = end - start
    return max(0, (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000)


def first_output_at(run: Run) -> datetime | None:
    """When the first token arrived: the first streamed non-empty token or tool-call delta
    (runtime.measure), else — the model was not streamed, so the whole reply is its first
    token — the end of the first LLM call that produced output."""
    if run.first_token_at is not None:
        return run.first_token_at
    for step in run.steps or ():
        if step.get("type") != "llm" or step.get("error") or not step.get("ended_at"):
            continue
        output = (step.get("usage") or {}).get("output_tokens")
        if output is not None and output <= 0:
            continue
        try:
            return datetime.fromisoformat(str(step["ended_at"]))
        except ValueError:
            return None
    return None


def ttft_ns(run: Run) -> int | None:
    """Created → first output token (see `first_output_at`)."""
    return ns_between(run.created_at, first_output_at(run))


def total_duration_ns(run: Run) -> int | None:
    """Created → terminal write; None while the run is in flight."""
    return ns_between(run.created_at, run.ended_at)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


def token_usage(run: Run) -> dict[str, int]:
    """The run's summed LangChain `usage_metadata` in OpenAI-style names (0 when unreported)."""
    usage = run.usage or {}
    prompt = _int(usage.get("input_tokens"))
    completion = _int(usage.get("output_tokens"))
    total = _int(usage.get("total_tokens")) or prompt + completion
    inputs = usage.get("input_token_details") or {}
    outputs = usage.get("output_token_details") or {}
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "cache_read_tokens": _int(inputs.get("cache_read")),
        "cache_creation_tokens": _int(inputs.get("cache_creation")),
        "reasoning_tokens": _int(outputs.get("reasoning")),
        "step_count": sum(1 for s in run.steps or () if s.get("type") == "llm"),
    }


def primary_model(run: Run) -> str | None:
    """The model frozen at the first LLM call, else the first step's model."""
    snapshot = run.model_snapshot or {}
    if snapshot.get("model"):
        return str(snapshot["model"])
    for step in run.steps or ():
        if step.get("model"):
            return str(step["model"])
    return None


def analytics_fields(run: Run) -> dict[str, Any]:
    """Extra fields added to the LangGraph run object (clients ignore unknown fields)."""
    usage = token_usage(run) if run.usage else None
    return {
        "ttft_ns": ttft_ns(run),
        "total_duration_ns": total_duration_ns(run),
        "usage": usage,
        "usage_metadata": run.usage or None,
        "step_count": len(run.steps or ()),
        "model": primary_model(run),
        "first_token_at": isoformat(first_output_at(run)),
        "webhook": run.webhook,
    }
