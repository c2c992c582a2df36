"""Status vocabularies: canonical (LangGraph) status + stop_reason → Letta and SeekrFlow, and the
Letta list filters back to canonical clauses (other-apis.md §3.3, conflicts §4.1-4.3)."""

from __future__ import annotations

from threadloom.storage.operations import RunStatusClause
from threadloom.storage.records import Run

LETTA_STATUSES = ("created", "running", "completed", "failed", "cancelled")
LETTA_STOP_REASONS = (
    "end_turn",
    "error",
    "llm_api_error",
    "invalid_llm_response",
    "invalid_tool_call",
    "max_steps",
    "max_tokens_exceeded",
    "no_tool_call",
    "tool_rule",
    "cancelled",
    "insufficient_credits",
    "requires_approval",
    "context_window_overflow_in_system_prompt",
)
_LETTA_COMPLETED_REASONS = frozenset({"end_turn", "max_steps", "tool_rule", "requires_approval"})
_LETTA_FAILED_REASONS = frozenset(
    {
        "error",
        "invalid_tool_call",
        "no_tool_call",
        "invalid_llm_response",
        "llm_api_error",
        "max_tokens_exceeded",
        "context_window_overflow_in_system_prompt",
        "insufficient_credits",
        "timeout",
    }
)
SEEKR_STATUSES = ("queued", "running", "completed", "failed", "cancelled")


def letta_stop_reason(run: Run) -> str | None:
    """Letta has no `timeout` reason: a timed-out run is an `error` (typed in metadata.error)."""
    if run.status in ("pending", "running"):
        return None
    reason = run.stop_reason
    if reason == "timeout" or (reason is None and run.status in ("error", "timeout")):
        return "error"
    if reason is None:
        return {"success": "end_turn", "interrupted": "cancelled"}.get(run.status)
    return reason


def letta_status(run: Run) -> str:
    """Letta pins status to stop_reason (`StopReasonType.run_status`), so max_steps is
    `completed` here although LangGraph reports the recursion limit as `error`."""
    if run.status == "pending":
        return "created"
    if run.status == "running":
        return "running"
    reason = letta_stop_reason(run)
    if reason == "cancelled" or run.status == "interrupted":
        return "cancelled"
    if reason in _LETTA_COMPLETED_REASONS:
        return "completed"
    if reason in _LETTA_FAILED_REASONS or run.status in ("error", "timeout"):
        return "failed"
    return "completed"


def letta_status_clauses(statuses: list[str]) -> list[RunStatusClause]:
    """Letta `statuses=[…]` as canonical clauses (OR-ed); unknown names are the caller's 422."""
    clauses: list[RunStatusClause] = []
    for status in dict.fromkeys(statuses):
        if status == "created":
            clauses.append(RunStatusClause("pending"))
        elif status == "running":
            clauses.append(RunStatusClause("running"))
        elif status == "completed":
            clauses += [RunStatusClause("success"), RunStatusClause("error", "max_steps")]
        elif status == "failed":
            clauses += [
                RunStatusClause("error", "max_steps", exclude_stop_reason=True),
                RunStatusClause("timeout"),
            ]
        elif status == "cancelled":
            clauses.append(RunStatusClause("interrupted"))
        else:
            raise ValueError(status)
    return clauses


def seekr_status(run: Run) -> str:
    """SeekrFlow has no requires_action/incomplete/expired: HITL pauses are `completed`,
    recursion limit and timeout are `failed`, cancel is `cancelled` (its SDK enum's spelling)."""
    return {
        "pending": "queued",
        "running": "running",
        "success": "completed",
        "error": "failed",
        "timeout": "failed",
        "interrupted": "cancelled",
    }.get(run.status, "failed")


def is_active(run: Run) -> bool:
    return run.status in ("pending", "running")
