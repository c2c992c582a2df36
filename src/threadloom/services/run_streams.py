"""Joining a run's event log (`GET .../runs/{id}/stream`), the rules the reference follows:

- which events a `stream_mode` filter passes: those of the named modes only (`metadata` too only
  when named); `messages` and `messages-tuple` each pass every `messages…` event;
- where a join starts: with `Last-Event-ID`, a resumable run's events after it; otherwise (and
  for a run that is not resumable, whose events the reference does not keep) only what the run
  publishes from now on, so a finished run's join is empty;
- whether frames carry `id:` lines: only a resumable run's;
- a resume whose position the log no longer holds (the next event is gone: Redis lost part of
  the log, or it was trimmed past it) gets one `error` event and ends, never a clean, short
  stream; a resume that lands on the start of a later attempt (the log was lost, the run
  started over from its checkpoint) reads that attempt whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from threadloom.runtime.broker import ATTEMPT_SEQ_SPAN, StreamEvent
from threadloom.serde import dumps
from threadloom.services.context import ServerContext


def mode_filter(modes: list[str] | None) -> frozenset[str] | None:
    """The event names (before any `|ns`) a join passes on; None passes everything."""
    if not modes:
        return None
    names = set(modes)
    if names & {"messages", "messages-tuple"}:
        names.update({"messages", "messages/partial", "messages/complete", "messages/metadata"})
    return frozenset(names)


def is_resumable(kwargs: Mapping[str, object]) -> bool:
    """A run created with `stream_resumable: true`: its events are numbered for replay."""
    return bool(kwargs.get("resumable"))


@dataclass(frozen=True, slots=True)
class JoinPlan:
    after: int | None  # read the log after this seq; None: nothing to read
    follow: bool  # keep reading live events until the run ends
    with_ids: bool  # frames carry `id:` lines


async def plan_join(
    ctx: ServerContext,
    run_id: str,
    *,
    resumable: bool,
    inflight: bool,
    last_event_id: int | None,
) -> JoinPlan:
    if last_event_id is not None and resumable:
        return JoinPlan(after=last_event_id, follow=inflight, with_ids=True)
    if not inflight:
        return JoinPlan(after=None, follow=False, with_ids=resumable)
    return JoinPlan(after=await ctx.broker.position(run_id), follow=True, with_ids=resumable)


def lost_position_event(batch: list[StreamEvent], after: int) -> StreamEvent | None:
    """The `error` event for a reader resuming after `after` whose first event read is not
    the next one: the events in between are lost, and the reader must not mistake what follows
    for the whole rest of the run. None when the position is honoured."""
    if not batch or batch[0].seq <= after + 1:
        return None
    if (batch[0].seq - 1) % ATTEMPT_SEQ_SPAN == 0:
        # the first event of an attempt that found the log lost: the run starts over from its
        # checkpoint, announced by that attempt's `metadata`; the reader gets all of it
        return None
    message = (
        f"Events after id {after} are no longer available (the run's event log was lost or "
        "trimmed); read the thread's state instead"
    )
    return StreamEvent(0, "error", dumps({"error": "StreamPositionLost", "message": message}))
