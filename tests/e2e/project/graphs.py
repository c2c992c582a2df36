"""Small graphs the end-to-end tests drive through the real server."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


# --- echo: replies with the last message -------------------------------------------------
def _reply(state: MessagesState) -> dict[str, Any]:
    last = state["messages"][-1]
    return {"messages": [AIMessage(content=f"echo: {last.content}")]}


echo = StateGraph(MessagesState).add_node("reply", _reply).add_edge(START, "reply").compile()


# --- appender: each run appends its input item (lost-update checks) -----------------------
class Items(TypedDict, total=False):
    items: Annotated[list[str], operator.add]
    delay: float


async def _append(state: Items) -> dict[str, Any]:
    """Reads the items so far after a pause: concurrent runs on one thread would lose one."""
    seen = len(state.get("items", []))
    await asyncio.sleep(state.get("delay") or 0)
    return {"items": [f"after-{seen}"]}


appender = (
    StateGraph(Items)
    .add_node("append", _append)
    .add_edge(START, "append")
    .add_edge("append", END)
    .compile()
)


# --- slow: sleeps in steps so it can be cancelled, counting what it did -------------------
class Counter(TypedDict, total=False):
    steps: Annotated[int, operator.add]
    seconds: float


async def _tick(state: Counter) -> dict[str, Any]:
    get_stream_writer()({"tick": state.get("steps", 0)})
    await asyncio.sleep(state.get("seconds") or 0.2)
    return {"steps": 1}


def _again(state: Counter) -> str:
    return "tick" if state.get("steps", 0) < 5 else END


slow = (
    StateGraph(Counter)
    .add_node("tick", _tick)
    .add_edge(START, "tick")
    .add_conditional_edges("tick", _again, ["tick", END])
    .compile()
)


# --- failing -------------------------------------------------------------------------------
def _boom(state: MessagesState) -> dict[str, Any]:
    raise ValueError("the graph failed on purpose")


failing = StateGraph(MessagesState).add_node("boom", _boom).add_edge(START, "boom").compile()


# --- approval: interrupt() for a human decision ---------------------------------------------
class Decision(TypedDict, total=False):
    request: str
    decision: Any
    done: bool


def _ask(state: Decision) -> dict[str, Any]:
    answer = interrupt({"question": f"approve {state.get('request')}?"})
    return {"decision": answer}


def _finish(state: Decision) -> dict[str, Any]:
    return {"done": True}


approval = (
    StateGraph(Decision)
    .add_node("ask", _ask)
    .add_node("finish", _finish)
    .add_edge(START, "ask")
    .add_edge("ask", "finish")
    .compile()
)


# --- nested: a parent graph with a subgraph (stream_subgraphs, /subgraphs) ------------------
class Inner(TypedDict, total=False):
    value: int


def _double(state: Inner) -> dict[str, Any]:
    return {"value": state.get("value", 0) * 2}


inner = StateGraph(Inner).add_node("double", _double).add_edge(START, "double").compile()


def _plus_one(state: Inner) -> dict[str, Any]:
    return {"value": state.get("value", 0) + 1}


nested = (
    StateGraph(Inner)
    .add_node("child", inner)
    .add_node("plus_one", _plus_one)
    .add_edge(START, "child")
    .add_edge("child", "plus_one")
    .compile()
)


# --- streamer: many custom events ----------------------------------------------------------
class Burst(TypedDict, total=False):
    n: int
    sent: int


def _burst(state: Burst) -> dict[str, Any]:
    write = get_stream_writer()
    n = state.get("n") or 1000
    for i in range(n):
        write({"i": i})
    return {"sent": n}


streamer = StateGraph(Burst).add_node("burst", _burst).add_edge(START, "burst").compile()


# --- configured: a factory reading the run's configurable ----------------------------------
class Greeting(TypedDict, total=False):
    greeting: str


def make_configured(config: RunnableConfig) -> Any:
    prefix = config.get("configurable", {}).get("prefix", "hello")

    def greet(state: Greeting) -> dict[str, Any]:
        return {"greeting": f"{prefix} world"}

    return StateGraph(Greeting).add_node("greet", greet).add_edge(START, "greet").compile()
