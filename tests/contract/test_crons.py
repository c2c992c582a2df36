"""Crons in storage, both backends: the record round-trips, search/count filters, and the
scheduler's two steps — a claim leases each due firing to one claimer however many claim at
once, and the firing's run insert consumes its slot in the same transaction, so a claimer
"killed" between the steps (it simply never takes the second) loses no firing and one that
fires late makes no second run; a cron that missed several slots fires once, disabled and
ended crons never fire, a thread's crons go with it. The clock is `now`."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.contract.conftest import make_run
from threadloom.services.crons import firing, next_run_date, upcoming
from threadloom.storage.base import Storage
from threadloom.storage.errors import FiringTaken
from threadloom.storage.records import Cron

LEASE = 30.0

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


async def test_concurrent_claims_lease_each_firing_once(storage: Storage) -> None:
    aid = await _assistant(storage)
    for i in range(20):
        await storage.crons.create(_cron(aid, f"c{i:02d}"))
    now = T0 + timedelta(seconds=1)
    batches = await asyncio.gather(*(storage.crons.claim_due(now, 7, LEASE) for _ in range(4)))
    again = await storage.crons.claim_due(now, 100, LEASE)
    claimed = [c.cron_id for batch in batches for c in batch] + [c.cron_id for c in again]
    assert sorted(claimed) == [f"c{i:02d}" for i in range(20)]  # each exactly once
    assert await storage.crons.claim_due(now, 100, LEASE) == []
    cron = await storage.crons.get("c00")
    # leased, not moved: the slot is consumed only with its run
    assert cron is not None and cron.next_run_date == T0
    assert cron.lease_until == now + timedelta(seconds=LEASE)
    assert await storage.crons.next_due_at() == now + timedelta(seconds=LEASE)


async def _fire(storage: Storage, cron: Cron, now: datetime) -> None:
    """What `services.crons.fire` asks of storage: the run, consuming the firing's slot."""
    shot = firing(cron, now)
    run = make_run(str(uuid.uuid4()), assistant_id=cron.assistant_id, run_id=shot.run_id)
    await storage.runs.create_run(run, if_not_exists="create", firing=shot)


async def _runs_of(storage: Storage, cron: Cron) -> int:
    return int(await storage.runs.get(firing(cron, T0).run_id) is not None)


async def test_a_claimer_killed_before_its_insert_loses_no_firing(storage: Storage) -> None:
    aid = await _assistant(storage)
    await storage.crons.create(_cron(aid, "c"))
    now = T0 + timedelta(seconds=1)
    (claimed,) = await storage.crons.claim_due(now, 10, LEASE)
    # ... the claimer dies here: no run, the slot not consumed, the lease still running
    assert await storage.crons.claim_due(now + timedelta(seconds=LEASE - 1), 10, LEASE) == []
    later = now + timedelta(seconds=LEASE)
    (retried,) = await storage.crons.claim_due(later, 10, LEASE)
    assert retried.next_run_date == claimed.next_run_date == T0  # the same slot, again
    assert firing(retried, later).run_id == firing(claimed, now).run_id
    await _fire(storage, retried, later)
    assert await _runs_of(storage, retried) == 1
    cron = await storage.crons.get("c")
    assert cron is not None and cron.next_run_date == T0 + timedelta(minutes=5)
    assert cron.lease_until is None
    assert await storage.crons.claim_due(later, 10, LEASE) == []  # consumed: never again


async def test_a_late_second_firing_of_a_slot_writes_nothing(storage: Storage) -> None:
    aid = await _assistant(storage)
    await storage.crons.create(_cron(aid, "c"))
    now = T0 + timedelta(seconds=1)
    (slow,) = await storage.crons.claim_due(now, 10, LEASE)
    # the first claimer stalls past its lease; another claims and fires the slot
    later = now + timedelta(seconds=LEASE + 1)
    (fast,) = await storage.crons.claim_due(later, 10, LEASE)
    await _fire(storage, fast, later)
    threads_before = (await storage.threads.search(limit=100)).total
    # the stalled one wakes and fires too: its insert rolls back with the refused advance
    shot = firing(slow, now)
    run = make_run(str(uuid.uuid4()), assistant_id=aid, run_id=str(uuid.uuid4()))
    with pytest.raises(FiringTaken):
        await storage.runs.create_run(run, if_not_exists="create", firing=shot)
    assert await storage.runs.get(run.run_id) is None
    assert await storage.threads.get(run.thread_id) is None
    assert (await storage.threads.search(limit=100)).total == threads_before
    assert await storage.crons.consume(shot) is False  # nor may it skip the next slot
    cron = await storage.crons.get("c")
    assert cron is not None and cron.next_run_date == T0 + timedelta(minutes=5)


async def test_a_firing_on_a_thread_consumes_its_slot_with_the_run(storage: Storage) -> None:
    aid = await _assistant(storage)
    await storage.threads.create(thread_id="t1", metadata={})
    await storage.crons.create(_cron(aid, "on-t1", thread_id="t1", on_run_completed=None))
    now = T0 + timedelta(seconds=1)
    (cron,) = await storage.crons.claim_due(now, 10, LEASE)
    shot = firing(cron, now)
    run = make_run("t1", assistant_id=aid, run_id=shot.run_id)
    await storage.runs.create_run(run, firing=shot)
    again = make_run("t1", assistant_id=aid, run_id=str(uuid.uuid4()))
    with pytest.raises(FiringTaken):  # the same slot once more: nothing written
        await storage.runs.create_run(again, firing=shot)
    assert [r.run_id for r in await storage.runs.list("t1") or []] == [shot.run_id]


async def test_a_refused_firing_consumes_its_slot_without_a_run(storage: Storage) -> None:
    aid = await _assistant(storage)
    await storage.crons.create(_cron(aid, "c"))
    now = T0 + timedelta(seconds=1)
    (cron,) = await storage.crons.claim_due(now, 10, LEASE)
    assert await storage.crons.consume(firing(cron, now)) is True
    assert await storage.crons.consume(firing(cron, now)) is False
    assert await storage.crons.claim_due(now + timedelta(seconds=LEASE), 10, LEASE) == []


async def test_missed_slots_fire_once_then_continue(storage: Storage) -> None:
    aid = await _assistant(storage)
    await storage.crons.create(_cron(aid, "late"))
    much_later = T0 + timedelta(hours=3, minutes=2)  # 36 slots missed while nobody ran
    (cron,) = await storage.crons.claim_due(much_later, 10, LEASE)
    await _fire(storage, cron, much_later)
    assert await storage.crons.claim_due(much_later, 10, LEASE) == []
    cron = await storage.crons.get("late")  # type: ignore[assignment]
    assert cron is not None and cron.next_run_date == T0 + timedelta(hours=3, minutes=5)


async def test_disabled_ended_and_future_crons_do_not_fire(storage: Storage) -> None:
    aid = await _assistant(storage)
    await storage.crons.create(_cron(aid, "off", enabled=False))
    await storage.crons.create(_cron(aid, "ended", end_time=T0 - timedelta(seconds=1)))
    await storage.crons.create(_cron(aid, "later", next_run_date=T0 + timedelta(minutes=1)))
    assert await storage.crons.claim_due(T0, 10, LEASE) == []
    # the ended one will never fire: the scheduler does not wake for it
    assert await storage.crons.next_due_at() == T0 + timedelta(minutes=1)


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


def test_upcoming_firings_follow_the_schedule_until_end_time() -> None:
    cron = _cron("a", "c", next_run_date=T0, end_time=T0 + timedelta(minutes=12))
    assert upcoming(cron, 5) == [T0 + timedelta(minutes=m) for m in (0, 5, 10)]
    assert upcoming(replace(cron, end_time=None), 2) == [T0, T0 + timedelta(minutes=5)]
    assert upcoming(replace(cron, enabled=False), 5) == []
