"""RunStore.search_all: keyset pages across threads in both orders, and the compat filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.contract.conftest import make_run
from threadloom.storage.base import Storage
from threadloom.storage.operations import RunCursor, RunStatusClause
from threadloom.storage.records import Run

T0 = datetime(2025, 1, 1, tzinfo=UTC)


async def _seed(storage: Storage) -> list[Run]:
    """Twelve runs over two threads and two assistants; runs 4 and 5 share a created_at."""
    await storage.threads.create(thread_id="ta", metadata={"owner": "a"})
    await storage.threads.create(thread_id="tb", metadata={"owner": "b"})
    runs: list[Run] = []
    for i in range(12):
        created = T0 + timedelta(seconds=min(i, 4) if i in (4, 5) else i)
        run = make_run(
            "ta" if i % 2 == 0 else "tb",
            run_id=f"00000000-0000-0000-0000-{i:012d}",
            assistant_id="asst-1" if i < 6 else "asst-2",
            created_at=created,
            background=i % 3 == 0,
        )
        runs.append((await storage.runs.create_run(run)).run)
    return runs


async def _search(storage: Storage, **kwargs: object) -> list[Run]:
    return await storage.runs.search_all(**kwargs)  # type: ignore[arg-type]


def _ids(runs: list[Run]) -> list[str]:
    return [r.run_id[-2:] for r in runs]


async def test_keyset_pages_cover_everything_once_in_both_orders(storage: Storage) -> None:
    runs = await _seed(storage)
    for order in ("asc", "desc"):
        seen: list[Run] = []
        cursor: RunCursor | None = None
        while True:
            page = await _search(storage, order=order, after=cursor, limit=5)
            if not page:
                break
            seen.extend(page)
            cursor = RunCursor(page[-1].created_at, page[-1].run_id)
        expected = sorted(runs, key=lambda r: (r.created_at, r.run_id), reverse=order == "desc")
        assert _ids(seen) == _ids(expected)


async def test_before_is_relative_to_the_order(storage: Storage) -> None:
    runs = await _seed(storage)
    pivot = runs[6]
    cursor = RunCursor(pivot.created_at, pivot.run_id)
    newer = await _search(storage, order="desc", before=cursor, limit=100)
    assert _ids(newer) == ["11", "10", "09", "08", "07"]
    older_asc = await _search(storage, order="asc", before=cursor, limit=100)
    assert _ids(older_asc) == ["00", "01", "02", "03", "04", "05"]
    between = await _search(
        storage,
        order="asc",
        after=RunCursor(runs[2].created_at, runs[2].run_id),
        before=cursor,
        limit=100,
    )
    assert _ids(between) == ["03", "04", "05"]


async def test_filters(storage: Storage) -> None:
    runs = await _seed(storage)
    assert len(await _search(storage, assistant_ids=["asst-2"])) == 6
    assert len(await _search(storage, assistant_ids=[])) == 0
    assert {r.thread_id for r in await _search(storage, thread_id="tb")} == {"tb"}
    assert _ids(await _search(storage, background=True, order="asc")) == ["00", "03", "06", "09"]
    await storage.runs.finish(
        runs[1].run_id, status="error", stop_reason="max_steps", error=None, thread=None
    )
    await storage.runs.finish(
        runs[2].run_id, status="error", stop_reason="error", error=None, thread=None
    )
    await storage.runs.finish(
        runs[3].run_id, status="success", stop_reason="end_turn", error=None, thread=None
    )
    completed = [RunStatusClause("success"), RunStatusClause("error", "max_steps")]
    assert _ids(await _search(storage, status_clauses=completed, order="asc")) == ["01", "03"]
    failed = [RunStatusClause("error", "max_steps", exclude_stop_reason=True)]
    assert _ids(await _search(storage, status_clauses=failed)) == ["02"]
    assert _ids(await _search(storage, stop_reason="end_turn")) == ["03"]
    assert await _search(storage, status_clauses=[]) == []
    owned = await _search(storage, filters={"owner": "a"})
    assert {r.thread_id for r in owned} == {"ta"}
    offset_page = await _search(storage, thread_id="ta", order="asc", limit=2, offset=2)
    assert _ids(offset_page) == ["04", "06"]
