"""Where a run is cancelled: every cancel — one run, many, a stream client gone away, a run
deleted while in flight, the Letta and SeekrFlow views — goes through `request`.

A cancel has two halves. Storage applies the cancel plan in one transaction
(`run_rules.cancel_selection`: a pending run ends at once, a running one is marked for its
worker), then `dispatch` tells the broker: a running run's worker gets the cancel and
stops the graph (`interrupt` keeps what it wrote, `rollback` removes it); a run that ended
without starting has its event log closed and its thread told.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from threadloom.errors import NotFound, Unprocessable
from threadloom.runtime.broker import ThreadNotice
from threadloom.serde import dumps
from threadloom.services.context import ServerContext
from threadloom.services.ids import parse_uuid
from threadloom.storage.base import Filters
from threadloom.storage.records import Run

CancelAction = Literal["interrupt", "rollback"]
# which inflight runs a cancel by status selects
CancelStatus = Literal["pending", "running", "all"]


def cancel_action(raw: str | None) -> CancelAction:
    """A cancel's `action` as the reference reads it: `rollback`, else `interrupt` (an action
    it does not know included)."""
    return "rollback" if raw == "rollback" else "interrupt"


async def request(
    ctx: ServerContext,
    *,
    action: CancelAction,
    run_ids: Sequence[str] | None = None,
    thread_id: str | None = None,
    status: CancelStatus | None = None,
    filters: Filters = None,
) -> list[Run]:
    """Cancel the matching pending/running runs; the runs it affected (none: nothing matched)."""
    affected = await ctx.storage.runs.request_cancel(
        action=action,
        run_ids=list(run_ids) if run_ids is not None else None,
        thread_id=thread_id,
        status=status,
        filters=filters,
    )
    await dispatch(ctx, affected, action)
    return affected


async def dispatch(ctx: ServerContext, runs: Sequence[Run], action: CancelAction) -> None:
    """Tell workers to stop running runs; close the logs of runs that ended without starting."""
    for run in runs:
        if run.status == "running":
            await ctx.broker.send_cancel(run.run_id, action)
        else:
            await ctx.broker.finish(run.run_id)
            await ctx.broker.notify_thread(
                run.thread_id,
                ThreadNotice(
                    kind="run_done",
                    run_id=run.run_id,
                    data=dumps({"status": "run_done", "run_id": run.run_id}),
                ),
            )
    if runs:
        await ctx.broker.wake_workers()


async def stop_workers(ctx: ServerContext, runs: Sequence[Run]) -> None:
    """Stop the work of runs whose rows are already gone (their thread was deleted)."""
    for run in runs:
        if run.status == "running":
            await ctx.broker.send_cancel(run.run_id, "rollback")


async def cancel_run(
    ctx: ServerContext, run: Run, *, action: CancelAction, filters: Filters = None
) -> None:
    """`POST /threads/{id}/runs/{id}/cancel` on a run already found: 404 when it has ended."""
    affected = await request(
        ctx, action=action, run_ids=[run.run_id], thread_id=run.thread_id, filters=filters
    )
    if not affected:
        raise NotFound(
            f"No matching runs to cancel: run {run.run_id} is {run.status}, not pending or running"
        )


async def interrupt_run(ctx: ServerContext, run: Run) -> None:
    """Interrupt one run now (its `/stream` client went away with `on_disconnect: cancel`)."""
    await request(ctx, action="interrupt", run_ids=[run.run_id], thread_id=run.thread_id)


async def cancel_many(
    ctx: ServerContext,
    *,
    status: str | None,
    thread_id: str | None,
    run_ids: list[str] | None,
    action: CancelAction,
    filters: Filters = None,
) -> int:
    """`POST /runs/cancel`: by status, or by thread and run ids; how many runs it cancelled."""
    if status and (thread_id or run_ids):
        raise Unprocessable("Cancel either by status, or by thread_id and run_ids, not both")
    if not status and not run_ids:
        raise Unprocessable("Provide a status, or a thread_id with run_ids")
    affected = await request(
        ctx,
        action=action,
        run_ids=[parse_uuid(r, "run_id") for r in run_ids] if run_ids else None,
        thread_id=parse_uuid(thread_id, "thread_id") if thread_id else None,
        status=status,  # type: ignore[arg-type]
        filters=filters,
    )
    if not affected:
        raise NotFound("No matching runs to cancel")
    return len(affected)
