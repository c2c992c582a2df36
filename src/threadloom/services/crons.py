"""Crons: the rules of `/runs/crons*` (create, read, patch, delete, search) and of a firing.

A cron keeps the request's body as its `payload` (as the reference does, with
`config.configurable.cron_id` set), its creator's auth user (its runs run as them) and the
`next_run_date` computed by croniter in its IANA `timezone` (DST is the library's). A firing
creates its run through `services.runs.create_run`, so multitask rules, webhooks and auth apply;
that run's id is derived from the cron and the slot, and its insert consumes the slot in the
same transaction (`storage/cron_sql.py` has the rule), so a slot yields one run at most.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from threadloom.errors import InvalidInput, NotFound, ThreadloomError, Unprocessable
from threadloom.serde import isoformat, utcnow
from threadloom.services import runs as run_service
from threadloom.services.assistants import resolve_id
from threadloom.services.context import ServerContext
from threadloom.services.ids import is_uuid, new_id, parse_uuid
from threadloom.services.webhook_policy import check_webhook
from threadloom.storage.base import Filters
from threadloom.storage.errors import FiringTaken, is_unavailable
from threadloom.storage.records import Cron, CronFiring, Page

logger = logging.getLogger("threadloom.crons")

# a firing's run id is uuid5(this, "<cron_id>@<slot>"): the same slot always names the same run
FIRING_NAMESPACE = uuid.UUID("5f0c1a6e-2d7b-4c53-9e1f-7a3b8d2c4e60")

# PATCH fields that go into the payload the runs are created with
PAYLOAD_FIELDS = (
    "input",
    "config",
    "context",
    "webhook",
    "interrupt_before",
    "interrupt_after",
    "stream_mode",
    "stream_subgraphs",
    "stream_resumable",
    "durability",
    "multitask_strategy",
    "metadata",
    "end_time",
    "schedule",
    "timezone",
    "enabled",
    "on_run_completed",
)


def check_schedule(schedule: str) -> str:
    if not croniter.is_valid(schedule):
        raise Unprocessable(
            f"Invalid cron schedule: '{schedule}'. Ensure the schedule uses the standard cron "
            "format (minute hour day_of_month month day_of_week). Example: '*/5 * * * *' for "
            "every 5 minutes."
        )
    return schedule


def check_timezone(timezone: str | None) -> str | None:
    if timezone is None:
        return None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, KeyError):
        raise Unprocessable(
            f"Invalid timezone: '{timezone}'. Use IANA timezone format (e.g. 'America/New_York')."
        ) from None
    return timezone


def next_run_date(schedule: str, after: datetime, timezone: str | None) -> datetime:
    """The first firing strictly after `after`, computed in `timezone` (UTC when None)."""
    base = after.astimezone(ZoneInfo(timezone) if timezone else UTC)
    return croniter(schedule, base).get_next(datetime).astimezone(UTC)


def upcoming(cron: Cron, count: int) -> list[datetime]:
    """The cron's next `count` firings from its `next_run_date` (none when disabled; none past
    its `end_time`). The first is `next_run_date` itself, even when overdue: it fires next."""
    if not cron.enabled:
        return []
    out: list[datetime] = []
    at = cron.next_run_date
    while len(out) < count and (cron.end_time is None or at <= cron.end_time):
        out.append(at)
        at = next_run_date(cron.schedule, at, cron.timezone)
    return out


def firing(cron: Cron, now: datetime) -> CronFiring:
    """The firing of a cron claimed at `now`: its slot is the due `next_run_date`; it moves to
    the first slot after `now`, so a cron that missed several slots while nobody ran fires
    once and then continues on schedule."""
    slot = cron.next_run_date
    run_id = uuid.uuid5(FIRING_NAMESPACE, f"{cron.cron_id}@{slot.astimezone(UTC).isoformat()}")
    return CronFiring(
        cron_id=cron.cron_id,
        slot=slot,
        next_slot=next_run_date(cron.schedule, now, cron.timezone),
        run_id=str(run_id),
    )


def render(cron: Cron, select: Sequence[str] | None = None) -> dict[str, Any]:
    view = {
        "cron_id": cron.cron_id,
        "assistant_id": cron.assistant_id,
        "thread_id": cron.thread_id,
        "user_id": cron.user_id if cron.user_id is not None else "",
        "end_time": isoformat(cron.end_time),
        "schedule": cron.schedule,
        "timezone": cron.timezone,
        "payload": cron.payload,
        "next_run_date": isoformat(cron.next_run_date),
        "metadata": cron.metadata,
        "on_run_completed": cron.on_run_completed,
        "enabled": cron.enabled,
        "created_at": isoformat(cron.created_at),
        "updated_at": isoformat(cron.updated_at),
    }
    if select:
        return {k: v for k, v in view.items() if k in select}
    return view


async def _assistant_id(ctx: ServerContext, given: str) -> str:
    try:
        aid = resolve_id(ctx, given)
    except Unprocessable:
        raise NotFound(f"Assistant '{given}' not found") from None
    # a graph's own assistant is everyone's (as for runs); another must be readable
    assistant = await ctx.storage.assistants.get_for_run(aid)
    if assistant is None or (
        assistant.metadata.get("created_by") != "system"
        and await ctx.storage.assistants.get(aid) is None
    ):
        raise NotFound(f"Assistant '{given}' not found")
    return aid


async def create(ctx: ServerContext, body: dict[str, Any], *, thread_id: str | None) -> Cron:
    schedule = check_schedule(body["schedule"])
    timezone = check_timezone(body.get("timezone"))
    if body.get("webhook"):  # the policy of runs' webhooks, checked before anything is written
        await check_webhook(body["webhook"], ctx.settings)
    if thread_id is not None:
        if not is_uuid(thread_id):
            raise Unprocessable("Invalid thread ID: must be a UUID")
        thread_id = parse_uuid(thread_id, "thread_id")
    cron_id = new_id()
    payload = copy.deepcopy(body)
    payload["assistant_id"] = await _assistant_id(ctx, body["assistant_id"])
    if thread_id is not None and await ctx.storage.threads.get(thread_id) is None:
        raise NotFound(
            f"Thread with ID '{thread_id}' not found. Please verify the ID is correct and the "
            "thread hasn't been deleted or expired."
        )
    config = payload.setdefault("config", None) or {}
    config.setdefault("configurable", {})
    config["configurable"] = {**(config["configurable"] or {}), "cron_id": cron_id}
    payload["config"] = config
    now = utcnow()
    caller = ctx.caller
    cron = Cron(
        cron_id=cron_id,
        assistant_id=payload["assistant_id"],
        thread_id=thread_id,
        user_id=caller.user.identity if caller is not None else None,
        schedule=schedule,
        timezone=timezone,
        end_time=_time(body.get("end_time")),
        next_run_date=next_run_date(schedule, now, timezone),
        payload=payload,
        metadata=dict(body.get("metadata") or {}),
        on_run_completed=None if thread_id else (body.get("on_run_completed") or "delete"),
        enabled=body.get("enabled", True) is not False,
        created_at=now,
        updated_at=now,
        auth_user=None
        if caller is None
        else {"user": caller.user.to_json(), "permissions": list(caller.permissions)},
    )
    created = await ctx.storage.crons.create(cron)
    _wake(ctx)
    return created


def _wake(ctx: ServerContext) -> None:
    """Tell this process's scheduler that crons changed (runtime/cron_scheduler.py)."""
    scheduler = ctx.extras.get("cron_scheduler")
    if scheduler is not None:
        scheduler.wake()


def _time(value: str | datetime | None) -> datetime | None:
    """`end_time` as the body carried it (JSON text, validated by the route)."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _cron_uuid(cron_id: str) -> str:
    if not is_uuid(cron_id):
        raise Unprocessable("Invalid cron ID: must be a UUID")
    return parse_uuid(cron_id, "cron_id")


async def get(ctx: ServerContext, cron_id: str, filters: Filters = None) -> Cron:
    cid = _cron_uuid(cron_id)
    cron = await ctx.storage.crons.get(cid, filters=filters)
    if cron is None:
        raise NotFound(f"Cron '{cron_id}' not found")
    return cron


async def update(ctx: ServerContext, cron_id: str, body: dict[str, Any]) -> Cron:
    """PATCH: metadata merges, an explicit `end_time: null` clears it, a new schedule or
    timezone recomputes `next_run_date`; what a run takes merges into the payload."""
    cid = _cron_uuid(cron_id)
    if not body:
        raise InvalidInput("Request body cannot be empty")
    if "schedule" in body and body["schedule"] is not None:
        check_schedule(body["schedule"])
    check_timezone(body.get("timezone"))
    if body.get("webhook"):
        await check_webhook(body["webhook"], ctx.settings)
    current = await get(ctx, cid)
    now = utcnow()
    changes: dict[str, Any] = {"updated_at": now}
    schedule = body.get("schedule") or current.schedule
    timezone = body.get("timezone") or current.timezone
    if body.get("schedule") is not None or body.get("timezone") is not None:
        changes.update(
            schedule=schedule,
            timezone=timezone,
            next_run_date=next_run_date(schedule, now, timezone),
            lease_until=None,  # a firing claimed at the old slot can no longer consume it
        )
    if "end_time" in body:
        changes["end_time"] = _time(body["end_time"])
    if body.get("enabled") is not None:
        changes["enabled"] = bool(body["enabled"])
    if body.get("on_run_completed") is not None and current.thread_id is None:
        changes["on_run_completed"] = body["on_run_completed"]
    if body.get("metadata") is not None:
        changes["metadata"] = {**current.metadata, **body["metadata"]}
    payload = {**current.payload, **{k: v for k, v in body.items() if k in PAYLOAD_FIELDS}}
    payload["assistant_id"] = current.payload.get("assistant_id", current.assistant_id)
    config = dict(payload.get("config") or {})
    config["configurable"] = {**(config.get("configurable") or {}), "cron_id": cid}
    payload["config"] = config
    changes["payload"] = payload
    updated = await ctx.storage.crons.update(cid, changes)
    if updated is None:
        raise NotFound(f"Cron '{cron_id}' not found")
    _wake(ctx)
    return updated


async def delete(ctx: ServerContext, cron_id: str) -> None:
    cid = _cron_uuid(cron_id)
    if not await ctx.storage.crons.delete(cid):
        raise NotFound(f"Cron '{cron_id}' not found")


async def search(ctx: ServerContext, body: dict[str, Any]) -> Page:
    return await ctx.storage.crons.search(
        assistant_id=_filter_id(body.get("assistant_id"), "assistant"),
        thread_id=_filter_id(body.get("thread_id"), "thread"),
        enabled=body.get("enabled"),
        metadata=body.get("metadata") or None,
        limit=body.get("limit", 10),
        offset=body.get("offset", 0),
        sort_by=body.get("sort_by") or "created_at",
        sort_order=body.get("sort_order") or "desc",
    )


async def count(ctx: ServerContext, body: dict[str, Any]) -> int:
    return await ctx.storage.crons.count(
        assistant_id=_filter_id(body.get("assistant_id"), "assistant"),
        thread_id=_filter_id(body.get("thread_id"), "thread"),
        metadata=body.get("metadata") or None,
    )


def _filter_id(value: str | None, what: str) -> str | None:
    if not value:
        return None
    if not is_uuid(value):
        raise Unprocessable(f"Invalid {what} ID: must be a UUID")
    return parse_uuid(value, f"{what}_id")


def run_payload(cron: Cron) -> dict[str, Any]:
    """What a firing's run is created with: the cron's payload, its metadata under the
    payload's, a stateless cron's `on_run_completed` as the run's `on_completion`."""
    payload = {
        k: v
        for k, v in copy.deepcopy(cron.payload).items()
        if k not in ("schedule", "timezone", "end_time", "enabled", "on_run_completed")
    }
    payload["metadata"] = {**cron.metadata, **(payload.get("metadata") or {})}
    if cron.thread_id is None and cron.on_run_completed == "keep":
        payload.setdefault("on_completion", "keep")
    configurable = (payload.get("config") or {}).get("configurable") or {}
    if payload.get("context"):  # configurable beside context is refused by create_run
        configurable.pop("cron_id", None)
    return payload


async def fire(ctx: ServerContext, cron: Cron, now: datetime) -> bool:
    """Create the run of a claimed firing, as the cron's creator; True when this call made it.

    The run's insert consumes the slot (False: another scheduler did, or the cron changed).
    A run the rules refuse (a busy thread under `reject`, an assistant gone, a bad payload)
    consumes the slot without a run, as the reference logs and moves on. A backing service
    that is down consumes nothing: the claim's lease runs out and the firing is tried again.
    """
    shot = firing(cron, now)
    run_ctx = ctx
    if cron.auth_user is not None:
        from threadloom.auth.users import AuthUser, RequestAuth

        user = AuthUser.from_json(cron.auth_user.get("user") or {})
        caller = RequestAuth(user, tuple(cron.auth_user.get("permissions") or ()))
        custom = ctx.extras.get("custom_auth")
        # as if its creator asked: their `create_run` handler sees (and stamps) the run
        run_ctx = custom.context_for(ctx, caller) if custom else replace(ctx, caller=caller)
    try:
        await run_service.create_run(
            run_ctx, run_payload(cron), thread_id=cron.thread_id, background=True, firing=shot
        )
        return True
    except FiringTaken:
        return False
    except Exception as exc:
        if is_unavailable(exc) or (isinstance(exc, ThreadloomError) and exc.status_code >= 500):
            raise
        if not await ctx.storage.crons.consume(shot):
            return False  # another scheduler fired this slot meanwhile (its run id is taken)
        if isinstance(exc, ThreadloomError):
            logger.warning("cron %s: no run for this firing: %s", cron.cron_id, exc.detail)
        else:
            logger.exception("cron %s: could not create its run", cron.cron_id)
        return False
