"""Assistants: create/get, system upsert, versions, latest, delete, search, filters."""

from __future__ import annotations

import pytest

from threadloom.errors import Conflict, Unprocessable
from threadloom.storage import records
from threadloom.storage.base import Storage
from threadloom.storage.records import Assistant


async def make(storage: Storage, aid: str, **kw: object) -> Assistant:
    args: dict[str, object] = {
        "assistant_id": aid,
        "graph_id": "agent",
        "config": {},
        "context": {},
        "metadata": {},
        "name": aid,
        "description": None,
    }
    args.update(kw)
    return await storage.assistants.create(**args)


async def test_create_and_get(storage: Storage) -> None:
    a = await make(storage, "a1", config={"tags": ["x"]}, context={"m": 1}, metadata={"o": "u"})
    assert a.version == 1 and a.graph_id == "agent" and a.created_at.tzinfo is not None
    got = await storage.assistants.get("a1")
    assert got == a
    assert await storage.assistants.get("missing") is None


async def test_create_if_exists(storage: Storage) -> None:
    first = await make(storage, "a1", name="first")
    with pytest.raises(Conflict):
        await make(storage, "a1", name="second")
    again = await make(storage, "a1", name="second", if_exists="do_nothing")
    assert again == first


async def test_upsert_system(storage: Storage) -> None:
    a = await storage.assistants.upsert_system(
        assistant_id="s1", graph_id="agent", name="agent", description=None
    )
    assert a.metadata == {"created_by": "system"} and a.version == 1
    b = await storage.assistants.upsert_system(
        assistant_id="s1", graph_id="agent", name="Agent", description="d"
    )
    assert (b.name, b.description, b.version) == ("Agent", "d", 1)
    assert (await storage.assistants.get("s1")) == b
    versions = await storage.assistants.versions("s1")
    assert [(v.version, v.name) for v in versions] == [(1, "Agent")]


async def test_upsert_system_config_applies_to_a_new_assistant_only(storage: Storage) -> None:
    config, context = {"configurable": {"model": "m"}}, {"model": "m"}
    a = await storage.assistants.upsert_system(
        assistant_id="s2",
        graph_id="agent",
        name="agent",
        description=None,
        config=config,
        context=context,
    )
    assert (a.config, a.context) == (config, context)
    assert (await storage.assistants.versions("s2"))[0].config == config
    # like the reference's put(if_exists="do_nothing"): a later start-up keeps what is stored
    b = await storage.assistants.upsert_system(
        assistant_id="s2",
        graph_id="agent",
        name="agent",
        description=None,
        config={"configurable": {"model": "other"}},
        context={"model": "other"},
    )
    assert (b.config, b.context) == (config, context)


async def test_update_creates_versions_and_set_latest(storage: Storage) -> None:
    await make(storage, "a1", metadata={"k": 1, "j": 1}, config={"c": 1})
    v2 = await storage.assistants.update("a1", metadata={"k": 2}, name="renamed")
    assert v2 is not None
    assert v2.version == 2 and v2.metadata == {"k": 2, "j": 1} and v2.name == "renamed"
    assert v2.config == {"c": 1}
    v3 = await storage.assistants.update("a1", config={"c": 3}, graph_id="other")
    assert v3 is not None and v3.version == 3 and v3.graph_id == "other"
    versions = await storage.assistants.versions("a1")
    assert [v.version for v in versions] == [3, 2, 1]
    assert [v.version for v in await storage.assistants.versions("a1", limit=1, offset=1)] == [2]
    assert [v.version for v in await storage.assistants.versions("a1", metadata={"k": 2})] == [
        3,
        2,
    ]
    latest = await storage.assistants.set_latest("a1", 1)
    assert latest is not None and latest.version == 1 and latest.config == {"c": 1}
    assert (await storage.assistants.get("a1")).version == 1
    # updating after switching back still numbers from the max
    v4 = await storage.assistants.update("a1", name="again")
    assert v4 is not None and v4.version == 4 and v4.config == {"c": 1}
    assert await storage.assistants.set_latest("a1", 99) is None
    assert await storage.assistants.set_latest("missing", 1) is None
    assert await storage.assistants.update("missing", name="x") is None


async def test_delete_removes_all_versions(storage: Storage) -> None:
    await make(storage, "a1")
    await storage.assistants.update("a1", name="v2")
    assert await storage.assistants.delete("a1") is True
    assert await storage.assistants.get("a1") is None
    assert await storage.assistants.versions("a1") == []
    assert await storage.assistants.delete("a1") is False
    await make(storage, "a1")  # the id is free again
    assert [v.version for v in await storage.assistants.versions("a1")] == [1]


async def test_search_filters_sort_and_total(storage: Storage) -> None:
    await make(storage, "a1", graph_id="g1", name="Alpha Bot", metadata={"team": "x", "n": 1})
    await make(storage, "a2", graph_id="g2", name="beta", metadata={"team": "y", "n": 2})
    await make(storage, "a3", graph_id="g1", name="ALPHA 2", metadata={"team": "x", "n": 3})
    page = await storage.assistants.search(graph_id="g1")
    assert {a.assistant_id for a in page.items} == {"a1", "a3"} and page.total == 2
    page = await storage.assistants.search(name="alpha")
    assert {a.assistant_id for a in page.items} == {"a1", "a3"}
    assert (await storage.assistants.search(name="%")).total == 0
    page = await storage.assistants.search(metadata={"team": "x"}, limit=1)
    assert len(page.items) == 1 and page.total == 2
    page = await storage.assistants.search(limit=2, offset=2)
    assert len(page.items) == 1 and page.total == 3
    for key in ("assistant_id", "created_at", "updated_at", "name", "graph_id"):
        asc = await storage.assistants.search(sort_by=key, sort_order="asc", limit=10)
        desc = await storage.assistants.search(sort_by=key, sort_order="desc", limit=10)
        assert [a.assistant_id for a in asc.items] == [a.assistant_id for a in desc.items][::-1]
    by_name = await storage.assistants.search(sort_by="name", sort_order="asc")
    assert [a.name for a in by_name.items] == ["ALPHA 2", "Alpha Bot", "beta"]
    newest = await storage.assistants.search()
    assert [a.assistant_id for a in newest.items] == ["a3", "a2", "a1"]
    with pytest.raises(Unprocessable):
        await storage.assistants.search(sort_by="nope")
    assert await storage.assistants.count() == 3
    assert await storage.assistants.count(graph_id="g1", metadata={"n": 3}) == 1
    assert await storage.assistants.count(name="BET") == 1


async def test_auth_filters(storage: Storage) -> None:
    await make(storage, "mine", metadata={"owner": "alice"})
    await make(storage, "theirs", metadata={"owner": "bob"})
    f = {"owner": "alice"}
    assert await storage.assistants.get("theirs", filters=f) is None
    assert await storage.assistants.get("mine", filters=f) is not None
    assert await storage.assistants.update("theirs", name="x", filters=f) is None
    assert await storage.assistants.set_latest("theirs", 1, filters=f) is None
    assert await storage.assistants.versions("theirs", filters=f) == []
    assert await storage.assistants.delete("theirs", filters=f) is False
    page = await storage.assistants.search(filters=f)
    assert [a.assistant_id for a in page.items] == ["mine"] and page.total == 1
    assert await storage.assistants.count(filters={"owner": {"$eq": "bob"}}) == 1
    with pytest.raises(Unprocessable):
        await storage.assistants.get("mine", filters={"owner": {"$bad": 1}})


async def test_search_total_is_capped(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """As for threads: the search total is exact up to offset + limit + slack, capped beyond."""
    monkeypatch.setattr(records, "SEARCH_COUNT_SLACK", 2)
    for i in range(8):
        await make(storage, f"a{i}", metadata={"team": "x"})
    page = await storage.assistants.search(metadata={"team": "x"}, limit=3)
    assert len(page.items) == 3 and page.total == 5
    page = await storage.assistants.search(metadata={"team": "x"}, limit=3, offset=6)
    assert len(page.items) == 2 and page.total == 8
    assert await storage.assistants.count(metadata={"team": "x"}) == 8
