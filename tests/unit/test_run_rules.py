"""The run rules, alone: what each multitask strategy, cancel action and finish decides."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from threadloom import run_rules as rules
from threadloom.errors import Conflict, InvalidInput, NotFound
from threadloom.storage.records import RUN_STATUSES, TERMINAL_STATUSES, Run


def _run(status: str = "pending", strategy: str = "reject", run_id: str = "r1") -> Run:
    now = datetime.now(UTC)
    return Run(
        run_id=run_id,
        thread_id="t1",
        assistant_id="a1",
        status=status,
        multitask_strategy=strategy,
        metadata={},
        kwargs={},
        created_at=now,
        updated_at=now,
    )


def _plan(run: Run, **kw: Any) -> rules.CreatePlan:
    args: dict[str, Any] = {
        "thread_metadata": None,
        "if_not_exists": "reject",
        "prevent_insert_if_inflight": False,
        "filters": None,
        "found_metadata": {},
        "inflight": (),
    }
    return rules.plan_create(run, **{**args, **kw})


def test_missing_thread_is_not_found_unless_asked_to_create() -> None:
    with pytest.raises(NotFound):
        _plan(_run(), found_metadata=None)
    plan = _plan(_run(), found_metadata=None, if_not_exists="create", thread_metadata={"u": 1})
    assert plan.insert and plan.create_thread and plan.thread_metadata == {"u": 1}


def test_filters_hide_a_thread_as_not_found() -> None:
    with pytest.raises(NotFound):
        _plan(_run(), found_metadata={"owner": "b"}, filters={"owner": "a"})
    assert _plan(_run(), found_metadata={"owner": "a"}, filters={"owner": "a"}).insert


def test_reject_beside_an_inflight_run_is_a_conflict_naming_it() -> None:
    with pytest.raises(Conflict, match="run busy-1"):
        _plan(_run(strategy="reject"), inflight=[_run("running", run_id="busy-1")])


def test_enqueue_inserts_and_cancels_nothing() -> None:
    plan = _plan(_run(strategy="enqueue"), inflight=[_run("running", run_id="other")])
    assert plan.insert and plan.cancel == () and plan.cancel_action is None


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
def test_interrupt_and_rollback_cancel_every_inflight_run(strategy: str) -> None:
    inflight = [_run("running", run_id="a"), _run("pending", run_id="b")]
    plan = _plan(_run(strategy=strategy), inflight=inflight)
    assert plan.insert and plan.cancel_action == strategy
    assert [r.run_id for r in plan.cancel] == ["a", "b"]


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
def test_interrupt_and_rollback_on_an_idle_thread_cancel_nothing(strategy: str) -> None:
    plan = _plan(_run(strategy=strategy))
    assert plan.insert and plan.cancel_action is None


def test_prevent_insert_if_inflight_answers_the_inflight_run() -> None:
    busy = _run("running", run_id="busy")
    plan = _plan(_run(strategy="enqueue"), prevent_insert_if_inflight=True, inflight=[busy])
    assert not plan.insert and plan.existing_run is busy


def test_a_run_only_adds_thread_metadata_keys_the_thread_lacks() -> None:
    plan = _plan(_run(), found_metadata={"a": 1}, thread_metadata={"a": 2, "b": 3})
    assert plan.thread_metadata == {"a": 1, "b": 3}
    assert _plan(_run(), found_metadata={"a": 1}, thread_metadata={"a": 2}).thread_metadata is None


@pytest.mark.parametrize(
    ("status", "action", "step"),
    [
        ("pending", "interrupt", "interrupt"),
        ("pending", "rollback", "delete"),
        ("running", "interrupt", "flag"),
        ("running", "rollback", "flag"),
    ],
)
def test_cancel_plan(status: str, action: str, step: str) -> None:
    assert rules.plan_cancel(_run(status), action) == step


def test_a_rollback_deleted_run_reads_as_cancelled() -> None:
    run = rules.deleted_by_cancel(_run(), "rollback")
    assert run.stop_reason == "cancelled" and run.cancel_requested == {"action": "rollback"}


def test_bulk_cancel_selection() -> None:
    assert rules.cancel_selection(None, None, None) is None
    assert rules.cancel_selection([], None, None) is None
    assert rules.cancel_selection(["r"], None, "all") == (["r"], None, None)
    assert rules.cancel_selection(None, "t", "running") == (None, "t", "running")
    with pytest.raises(InvalidInput):
        rules.cancel_selection(None, "t", "success")


@pytest.mark.parametrize("status", RUN_STATUSES)
def test_finish_takes_terminal_statuses_only(status: str) -> None:
    if status in TERMINAL_STATUSES:
        rules.check_finish(status)
    else:
        with pytest.raises(InvalidInput):
            rules.check_finish(status)


def test_terminal_statuses_are_final() -> None:
    for terminal in TERMINAL_STATUSES:
        assert not any(rules.can_move(terminal, target) for target in RUN_STATUSES)
    assert rules.can_move("pending", "running") and rules.can_move("running", "success")
    assert rules.can_move("running", "pending")  # re-queued after a lost lease
    assert not rules.can_move("pending", "pending")


def test_a_thread_the_filters_hide_is_not_found_even_when_busy() -> None:
    """A caller that may not see the thread learns nothing about its runs (404, not 409)."""
    with pytest.raises(NotFound):
        _plan(
            _run(strategy="reject"),
            found_metadata={"owner": "b"},
            filters={"owner": "a"},
            inflight=[_run("running", run_id="busy")],
        )


def test_reject_wins_over_prevent_insert_if_inflight() -> None:
    with pytest.raises(Conflict):
        _plan(
            _run(strategy="reject"),
            prevent_insert_if_inflight=True,
            inflight=[_run("running", run_id="busy")],
        )


def test_prevent_insert_if_inflight_inserts_on_an_idle_thread() -> None:
    plan = _plan(_run(strategy="enqueue"), prevent_insert_if_inflight=True)
    assert plan.insert and plan.existing_run is None


def test_only_deleting_an_inflight_run_changes_its_threads_status() -> None:
    assert rules.deleting_refreshes_thread("pending")
    assert rules.deleting_refreshes_thread("running")
    assert not any(rules.deleting_refreshes_thread(s) for s in TERMINAL_STATUSES)


def test_threads_of_runs_are_distinct_in_first_seen_order() -> None:
    runs = [_run(run_id="a"), _run(run_id="b"), _run(run_id="c")]
    runs[1].thread_id = "t2"
    assert rules.threads_of(runs) == ["t1", "t2"]


def test_a_run_is_stored_with_its_assistants_and_threads_metadata_under_its_own() -> None:
    run = _run()
    run.metadata = {"mine": 1, "shared": "run", "assistant_id": "spoofed"}
    plan = _plan(
        run,
        found_metadata={"t": 1, "shared": "thread"},
        thread_metadata={"graph_id": "g", "assistant_id": "a1"},
        assistant_metadata={"created_by": "system", "shared": "assistant"},
    )
    assert plan.run_metadata == {
        "created_by": "system",
        "t": 1,
        "graph_id": "g",
        "mine": 1,
        "shared": "run",
        "assistant_id": "a1",
    }


def test_a_thread_the_run_creates_adds_nothing_to_its_metadata() -> None:
    run = _run()
    run.metadata = {"mine": 1}
    plan = _plan(
        run,
        found_metadata=None,
        if_not_exists="create",
        thread_metadata={"graph_id": "g"},
        assistant_metadata={"created_by": "system"},
    )
    assert plan.thread_metadata == {"graph_id": "g", "mine": 1}
    assert plan.run_metadata == {"created_by": "system", "mine": 1, "assistant_id": "a1"}
