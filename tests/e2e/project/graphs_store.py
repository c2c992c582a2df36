"""A graph that uses the server's long-term memory store from a node, for the Store API tests:
what a node writes, HTTP reads, and the other way round."""

from __future__ import annotations

from typing import Any

from langgraph.graph import START, StateGraph
from langgraph.store.base import BaseStore
from typing_extensions import TypedDict


class MemoryState(TypedDict, total=False):
    op: str  # "put" | "get" | "search"
    namespace: list[str]
    key: str
    value: dict[str, Any]
    query: str
    result: Any


async def _act(state: MemoryState, *, store: BaseStore) -> dict[str, Any]:
    ns = tuple(state.get("namespace") or ())
    op = state.get("op")
    if op == "put":
        await store.aput(ns, state["key"], state.get("value") or {})
        return {"result": "stored"}
    if op == "get":
        item = await store.aget(ns, state["key"])
        return {"result": item.value if item is not None else None}
    if op == "search":
        found = await store.asearch(ns, query=state.get("query"), limit=3)
        return {"result": [i.key for i in found]}
    return {"result": f"unknown op {op!r}"}


memory = StateGraph(MemoryState).add_node("act", _act).add_edge(START, "act").compile()
