"""The rules of a run's life, in one place and free of I/O.

Every backend executes these decisions inside its own transaction (SQLite on its connection,
PostgreSQL after locking the thread row); none of them decides anything itself. A new multitask
strategy or cancel action is a change here, plus tests.

```
            create ──► pending ──claim──► running ──finish──► success | error | timeout
                          │                  │                  | interrupted
        cancel interrupt  │                  │ cancel (flag; the worker stops the graph and
        ──► interrupted   │                  │  finishes it interrupted, or deletes it on
        cancel rollback   │                  │  rollback)
        ──► deleted       ▼                  ▼
```
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from threadloom.errors import Conflict, InvalidInput, NotFound
from threadloom.storage import filters as flt
from threadloom.storage.records import INFLIGHT_STATUSES, TERMINAL_STATUSES, Run, RunStatus

# --- the state machine ----------------------------------------------------------------------

TRANSITIONS: Mapping[str, frozenset[str]] = {
    "pending": frozenset({"running", "interrupted", *TERMINAL_STATUSES}),
    "running": frozenset({"pending", *TERMINAL_STATUSES}),  # pending again: re-queued
    **{status: frozenset() for status in TERMINAL_STATUSES},
}
"""Which status a run may move to from each status (terminal statuses are final)."""


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


# --- creating a run: the multitask plan ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatePlan:
    """What creating a run on a thread does, decided from what the transaction found.

    `insert` False: nothing is written and `existing_run` is the answer (the caller asked not to
    insert beside an inflight run). Otherwise the run is inserted pending, `cancel` lists the
    inflight runs to cancel with `cancel_action`, and the thread is marked busy with
    `thread_metadata` (None: unchanged) — or created when `create_thread`; the run is stored
    with `run_metadata` (see `run_metadata`).
    """

    insert: bool
    create_thread: bool = False
    existing_run: Run | None = None
    cancel: Sequence[Run] = field(default_factory=tuple)
    cancel_action: Literal["interrupt", "rollback"] | None = None
    thread_metadata: dict[str, Any] | None = None
    run_metadata: dict[str, Any] | None = None


def busy_message(thread_id: str, run_id: str) -> str:
    return (
        f"Thread {thread_id} is already running a task (run {run_id}). "
        "Wait for it to finish or choose a different multitask strategy."
    )


def plan_create(
    run: Run,
    *,
    thread_metadata: Mapping[str, Any] | None,
    if_not_exists: str,
    prevent_insert_if_inflight: bool,
    filters: Mapping[str, Any] | None,
    found_metadata: Mapping[str, Any] | None,
    inflight: Sequence[Run] = (),
    assistant_metadata: Mapping[str, Any] | None = None,
) -> CreatePlan:
    """The multitask decision. `found_metadata` is the thread's metadata as the transaction read
    it (None: no such thread), `inflight` its pending and running runs (oldest first).

    Raises NotFound (no thread and `if_not_exists` is not "create", or the caller's filters hide
    it) and Conflict (`reject` beside an inflight run).
    """
    if found_metadata is None:
        if if_not_exists != "create":
            raise NotFound(f"Thread {run.thread_id} not found")
        created = new_thread_metadata(run, thread_metadata)
        return CreatePlan(
            insert=True,
            create_thread=True,
            thread_metadata=created,
            run_metadata=run_metadata(run, assistant_metadata, None),
        )
    if filters and not flt.evaluate(found_metadata, filters):
        raise NotFound(f"Thread {run.thread_id} not found")
    if inflight and run.multitask_strategy == "reject":
        raise Conflict(busy_message(run.thread_id, inflight[0].run_id))
    if inflight and prevent_insert_if_inflight:
        return CreatePlan(insert=False, existing_run=inflight[0])
    action: Literal["interrupt", "rollback"] | None = None
    if inflight and run.multitask_strategy == "interrupt":
        action = "interrupt"
    elif inflight and run.multitask_strategy == "rollback":
        action = "rollback"
    merged = merged_thread_metadata(found_metadata, thread_metadata)
    return CreatePlan(
        insert=True,
        cancel=tuple(inflight) if action else (),
        cancel_action=action,
        thread_metadata=merged,
        run_metadata=run_metadata(
            run, assistant_metadata, merged if merged is not None else found_metadata
        ),
    )


def new_thread_metadata(run: Run, thread_metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """A thread a run creates starts with the run's metadata too (as the reference's), so what
    an auth handler stamped on the run (its owner) is on the thread it made."""
    return {**(thread_metadata or {}), **run.metadata}


def run_metadata(
    run: Run,
    assistant_metadata: Mapping[str, Any] | None,
    thread_metadata: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A run's stored metadata, as the reference's: its assistant's, under its thread's as the
    run leaves it (None: a thread the run creates adds nothing), under what the run was given
    (`run.metadata`: its `metadata` over its config's); `assistant_id` is always the run's. The graph sees it as `config["metadata"]`,
    so its checkpoints carry it too (history can be filtered by a thread's metadata)."""
    return {
        **(assistant_metadata or {}),
        **(thread_metadata or {}),
        **run.metadata,
        "assistant_id": run.assistant_id,
    }


def merged_thread_metadata(
    existing: Mapping[str, Any], given: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """A run's `metadata` for its thread only adds keys the thread lacks; None: no change."""
    missing = {k: v for k, v in (given or {}).items() if k not in existing}
    return {**existing, **missing} if missing else None


# --- cancelling: the cancel plan -----------------------------------------------------------

CancelStep = Literal["delete", "interrupt", "flag"]
"""`delete`: a pending run cancelled with rollback is removed. `interrupt`: a pending run ends
now, interrupted, stop_reason cancelled. `flag`: a running run gets `cancel_requested`; its
worker stops the graph and finishes it (interrupt) or deletes it (rollback)."""


def plan_cancel(run: Run, action: str) -> CancelStep:
    if run.status == "pending":
        return "delete" if action == "rollback" else "interrupt"
    return "flag"


def cancel_request(action: str) -> dict[str, Any]:
    """What is stored in `cancel_requested` (the worker reads the action from it)."""
    return {"action": action}


def deleted_by_cancel(run: Run, action: str) -> Run:
    """The record returned for a pending run that a rollback deleted."""
    run.cancel_requested = cancel_request(action)
    run.stop_reason = "cancelled"
    return run


CancelSelection = tuple[Sequence[str] | None, str | None, str | None]


def cancel_selection(
    run_ids: Sequence[str] | None, thread_id: str | None, status: str | None
) -> CancelSelection | None:
    """Validated criteria of a bulk cancel (`POST /runs/cancel`); None: nothing can match.

    Returns `(run_ids, thread_id, status)` with `status` narrowed to pending/running or None
    ("all" or not given); raises InvalidInput for any other status.
    """
    if run_ids is None and thread_id is None and status is None:
        return None
    if run_ids is not None and not run_ids:
        return None
    if status in INFLIGHT_STATUSES:
        return run_ids, thread_id, status
    if status not in (None, "all"):
        raise InvalidInput(f"Invalid status {status!r}: expected pending, running or all")
    return run_ids, thread_id, None


def deleting_refreshes_thread(status: str) -> bool:
    """Deleting a run changes its thread's status only when the run was inflight (the thread
    was busy because of it); a finished run's thread keeps the status that run left."""
    return status in INFLIGHT_STATUSES


# --- finishing ------------------------------------------------------------------------------


def check_finish(status: str) -> RunStatus:
    """A run finishes only into a terminal status; a run no longer inflight is left alone by
    every backend (its finish returns None)."""
    if status not in TERMINAL_STATUSES:
        raise InvalidInput(f"finish needs a terminal status, got {status!r}")
    return cast(RunStatus, status)


def threads_of(runs: Iterable[Run]) -> list[str]:
    """The distinct threads of some runs, in first-seen order (whose status to refresh)."""
    return list(dict.fromkeys(r.thread_id for r in runs))
