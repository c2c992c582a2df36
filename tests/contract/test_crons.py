"""Crons in storage, both backends: the record round-trips, search/count filters, and the
scheduler's claim — a due firing is claimed once however many claim at once, its
`next_run_date` advances in the same transaction, a cron that missed several slots fires once,
disabled and ended crons never fire, a thread's crons go with it. The clock is `now`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from threadloom.services.crons import advance, next_run_date
from threadloom.storage.base import Storage
from threadloom.storage.records import Cron

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _assistant(storage: Storage) -> str:
    a = await storage.assistants.create(
        assistant_id="00000000-0000-0000-0000-0000000000aa",
        graph_id="echo",
        config={},
        context={},
        metadata={},
        name="a",
        description=None,
        if_exists="do_nothing",
    )
    return a.assistant_id


def _cron(aid: str, cron_id: str, **over: object) -> Cron:
    fields: dict[str, object] = {
        "cron_id": cron_id,
        "assistant_id": aid,
        "thread_id": None,
        "user_id": None,
        "schedule": "*/5 * * * *",
        "timezone": None,
        "end_time": None,
        "next_run_date": T0,
        "payload": {"assistant_id": aid, "input": {"x": 1}},
        "metadata": {"k": "v"},
        "on_run_completed": "delete",
        "enabled": True,
        "created_at": T0 - timedelta(hours=1),
        "updated_at": T0 - timedelta(hours=1),
        "auth_user": {"user": {"identity": "u"}, "permissions": ["p"]},
    }
    fields.update(over)
    return Cron(**fields)  # type: ignore[arg-type]


async def test_round_trip_search_count_update(storage: Storage) -> None:
    aid = await _assistant(storage)
    made = await storage.crons.create(_cron(aid, "c1"))
    assert made == _cron(aid, "c1")
    assert await storage.crons.get("c1") == made
    await storage.crons.create(_cron(aid, "c2", enabled=False, metadata={"k": "w"}))
    page = await storage.crons.search(assistant_id=aid)
    assert {c.cron_id for c in page.items} == {"c1", "c2"} and page.total == 2
    assert [c.cron_id for c in (await storage.crons.search(enabled=False)).items] == ["c2"]
    assert await storage.crons.count(metadata={"k": "w"}) == 1
    assert await storage.crons.get("c1", filters={"k": "nope"}) is None
    updated = await storage.crons.update("c1", {"enabled": False, "end_time": T0})
    assert updated is not None and updated.enabled is False and updated.end_time == T0
    assert await storage.crons.delete("c1") is True
    assert await storage.crons.delete("c1") is False


async def test_concurrent_claims_take_each_firing_once(storage: Storage) -> None:
    aid = await _assistant(storage)
    for i in range(20):
        await storage.crons.create(_cron(aid, f"c{i:02d}"))
    now = T0 + timedelta(seconds=1)
    batches = await asyncio.gather(
        *(storage.crons.claim_due(now, 7, advance(now)) for _ in range(4))
    )
    again = await storage.crons.claim_due(now, 100, advance(now))
    claimed = [c.cron_id for batch in batches for c in batch] + [c.cron_id for c in again]
    assert sorted(claimed) == [f"c{i:02d}" for i in range(20)]  # each exactly once
    assert await storage.crons.claim_due(now, 100, advance(now)) == []
    cron = await storage.crons.get("c00")
    assert cron is not None and cron.next_run_date == T0 + timedelta(minutes=5)
    assert await storage.crons.next_due_at() == T0 + timedelta(minutes=5)


async def test_missed_slots_fire_once_then_continue(storage: Storage) -> None:
    aid = await _assistant(storage)
    await storage.crons.create(_cron(aid, "late"))
    much_later = T0 + timedelta(hours=3, minutes=2)  # 36 slots missed while nobody ran
    assert [
        c.cron_id for c in await storage.crons.claim_due(much_later, 10, advance(much_later))
    ] == ["late"]
    assert await storage.crons.claim_due(much_later, 10, advance(much_later)) == []
    cron = await storage.crons.get("late")
    assert cron is not None and cron.next_run_date == T0 + timedelta(hours=3, minutes=5)


async def test_disabled_ended_and_future_crons_do_not_fire(storage: Storage) -> None:
    aid = await _assistant(storage)
    await storage.crons.create(_cron(aid, "off", enabled=False))
    await storage.crons.create(_cron(aid, "ended", end_time=T0 - timedelta(seconds=1)))
    await storage.crons.create(_cron(aid, "later", next_run_date=T0 + timedelta(minutes=1)))
    assert await storage.crons.claim_due(T0, 10, advance(T0)) == []


async def test_a_threads_crons_go_with_it(storage: Storage) -> None:
    aid = await _assistant(storage)
    await storage.threads.create(thread_id="t1", metadata={})
    await storage.crons.create(_cron(aid, "on-t1", thread_id="t1", on_run_completed=None))
    assert await storage.threads.delete("t1")
    assert await storage.crons.get("on-t1") is None


def test_next_run_date_follows_dst_in_the_cron_timezone() -> None:
    # 03:30 in New York is 08:30 UTC in winter (EST) and 07:30 UTC from 8 March 2026 (EDT)
    on_change_day = next_run_date(
        "30 3 * * *", datetime(2026, 3, 7, 12, tzinfo=UTC), "America/New_York"
    )
    assert on_change_day == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    winter = next_run_date("30 3 * * *", datetime(2026, 1, 5, 12, tzinfo=UTC), "America/New_York")
    assert winter == datetime(2026, 1, 6, 8, 30, tzinfo=UTC)
