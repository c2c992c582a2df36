"""The console's line per ended run: one log record on `threadloom.runs`, emitted at run end.

The record's message is a plain, readable line (any handler can print it); its `run` attribute
holds the same facts as fields, which the rich console colours and `--log-format json` writes
as JSON keys. A run that paused on `interrupt()` gets its own wording: it waits for a human.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from threadloom.runtime.executor import ExecutionResult
    from threadloom.runtime.measure import RunMeasures
    from threadloom.storage.records import Run

logger = logging.getLogger("threadloom.runs")

# what the console shows in place of the record's status
PAUSED = "interrupt"


def run_fields(
    run: Run, result: ExecutionResult, measures: RunMeasures, now: datetime | None = None
) -> dict[str, Any]:
    """The facts of one ended attempt, JSON-ready."""
    now = now or datetime.now(UTC)
    started = run.started_at
    first_token = measures.first_token_at or run.first_token_at
    paused = result.status == "success" and result.stop_reason == "requires_approval"
    error = result.error or {}
    fields: dict[str, Any] = {
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "assistant": _assistant_name(run),
        "status": PAUSED if paused else result.status,
        "stop_reason": result.stop_reason,
        "attempt": result.attempt,
        "duration_ms": _ms(now - started) if started else None,
        "ttft_ms": _ms(first_token - started) if started and first_token else None,
        "tokens": measures.usage.get("total_tokens"),
        "error": _error_summary(error) if error else None,
    }
    return fields


def format_line(fields: dict[str, Any]) -> str:
    """`run …1a2b3c4d agent success 1.20s ttft 85ms 42 tok` — short id, then what happened.
    The id's tail: run ids are time-ordered UUIDs, so their heads look alike."""
    parts = [f"run …{str(fields['run_id'])[-8:]}", str(fields["assistant"]), str(fields["status"])]
    if fields.get("duration_ms") is not None:
        parts.append(_duration(fields["duration_ms"]))
    if fields.get("ttft_ms") is not None:
        parts.append(f"ttft {_duration(fields['ttft_ms'])}")
    if fields.get("tokens") is not None:
        parts.append(f"{fields['tokens']} tok")
    if fields.get("attempt", 1) > 1:
        parts.append(f"attempt {fields['attempt']}")
    if fields["status"] == PAUSED:
        parts.append("waiting for input (resume with a command)")
    if fields.get("error"):
        parts.append(f"— {fields['error']}")
    return "  ".join(parts)


def log_run_end(
    run: Run, result: ExecutionResult, measures: RunMeasures, now: datetime | None = None
) -> None:
    """Emit the run's line (cheap when the logger is off: nothing is formatted)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    try:
        fields = run_fields(run, result, measures, now)
    except Exception:  # the console line is never worth failing a run over
        logger.debug("could not describe run %s", run.run_id, exc_info=True)
        return
    level = logging.WARNING if result.status in ("error", "timeout") else logging.INFO
    if not logger.isEnabledFor(level):
        return
    # made directly rather than through logger.log: that walks the stack for the caller's file
    # and line, a third of the cost of the line, and says nothing here
    record = logger.makeRecord(
        logger.name, level, __file__, 0, format_line(fields), (), None, extra={"run": fields}
    )
    logger.handle(record)


def _assistant_name(run: Run) -> str:
    """The graph id the run's merged config names (as the executor reads it), else a short
    assistant id."""
    config = run.kwargs.get("config") or {}
    graph_id = (config.get("configurable") or {}).get("graph_id")
    return str(graph_id) if graph_id else run.assistant_id[:8]


def _error_summary(error: dict[str, Any]) -> str:
    kind = error.get("error") or "Error"
    message = str(error.get("message") or "").strip().splitlines()
    first = message[0] if message else ""
    if len(first) > 120:
        first = first[:117] + "..."
    return f"{kind}: {first}" if first else str(kind)


def _ms(delta: Any) -> int:
    return max(0, round(delta.total_seconds() * 1000))


def _duration(ms: int) -> str:
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f}s"
    minutes, seconds = divmod(ms // 1000, 60)
    return f"{minutes}m{seconds:02d}s"
