"""Graphs the benchmark runs: as small as possible, so the server's own cost shows."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.graph import START, StateGraph
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    n: int
    seconds: float
    events: int


def _step(state: State) -> dict[str, Any]:
    return {"n": (state.get("n") or 0) + 1}


async def _sleep(state: State) -> dict[str, Any]:
    await asyncio.sleep(state.get("seconds") or 0.5)
    return {"n": 1}


def _burst(state: State) -> dict[str, Any]:
    write = get_stream_writer()
    for i in range(state.get("events") or 1000):
        write(i)
    return {"n": 1}


trivial = StateGraph(State).add_node("step", _step).add_edge(START, "step").compile()
sleeper = StateGraph(State).add_node("sleep", _sleep).add_edge(START, "sleep").compile()
streamer = StateGraph(State).add_node("burst", _burst).add_edge(START, "burst").compile()
