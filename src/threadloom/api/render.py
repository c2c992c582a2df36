"""Records rendered as the LangGraph API's JSON objects (plus `select` projections).

Timestamps are rendered here, as Python's `isoformat` (`…+00:00`, as the reference sends them):
left to FastAPI, a datetime would go through pydantic and come out as `…Z`, which
`datetime.fromisoformat` rejects before Python 3.11.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from threadloom.serde import isoformat
from threadloom.services.views.analytics import analytics_fields
from threadloom.storage.records import Assistant, Run, Thread


def assistant(a: Assistant) -> dict[str, Any]:
    return {
        "assistant_id": a.assistant_id,
        "graph_id": a.graph_id,
        "config": a.config,
        "context": a.context,
        "created_at": isoformat(a.created_at),
        "updated_at": isoformat(a.updated_at),
        "metadata": a.metadata,
        "version": a.version,
        "name": a.name,
        "description": a.description,
    }


def thread(t: Thread, *, include_ttl: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "thread_id": t.thread_id,
        "created_at": isoformat(t.created_at),
        "updated_at": isoformat(t.updated_at),
        "state_updated_at": isoformat(t.state_updated_at),
        "metadata": t.metadata,
        "config": t.config,
        "status": t.status,
        "values": t.values,
        "interrupts": t.interrupts,
        "error": t.error,
    }
    if include_ttl:
        body["ttl"] = (
            {
                "strategy": t.ttl.strategy,
                "ttl_minutes": t.ttl.ttl_minutes,
                "expires_at": isoformat(t.ttl.expires_at),
            }
            if t.ttl
            else None
        )
    return body


def run(r: Run) -> dict[str, Any]:
    """The LangGraph Run object; analytics ride along as extra fields clients ignore."""
    return {
        "run_id": r.run_id,
        "thread_id": r.thread_id,
        "assistant_id": r.assistant_id,
        "created_at": isoformat(r.created_at),
        "updated_at": isoformat(r.updated_at),
        "status": r.status,
        "metadata": r.metadata,
        "kwargs": r.kwargs,
        "multitask_strategy": r.multitask_strategy,
        "attempt": r.attempt,
        "started_at": isoformat(r.started_at),
        "ended_at": isoformat(r.ended_at),
        "stop_reason": r.stop_reason,
        "error": r.error,
        "background": r.background,
        **analytics_fields(r),
    }


def select(items: Iterable[dict[str, Any]], fields: list[str] | None) -> list[dict[str, Any]]:
    if not fields:
        return list(items)
    return [{k: item.get(k) for k in fields} for item in items]


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


def extract(body: dict[str, Any], paths: dict[str, str]) -> dict[str, Any]:
    """`extract {alias: "values.messages[-1].content"}`: pull values out of a thread."""
    out: dict[str, Any] = {}
    for alias, path in paths.items():
        value: Any = body
        for name, index in _SEGMENT.findall(path):
            if value is None:
                break
            if name:
                value = value.get(name) if isinstance(value, dict) else None
            else:
                i = int(index)
                value = (
                    value[i] if isinstance(value, list) and -len(value) <= i < len(value) else None
                )
        out[alias] = value
    return out
