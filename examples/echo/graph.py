"""Echo: repeats the last human message. No model, no tools; useful for tests and benchmarks.

- `delay` in the input makes the `respond` step sleep that many seconds (to test cancel/timeouts),
- the run context's `prefix` changes the reply (`context={"prefix": "bot"}`),
- `respond` is itself a compiled subgraph, so subgraph streaming and `/subgraphs` have something
  to show.
"""

from __future__ import annotations

import asyncio
import operator
from dataclasses import dataclass
from typing import Annotated, Any

from langchain_core.messages import AIMessage
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.runtime import Runtime


@dataclass
class EchoContext:
    prefix: str = "echo"


class EchoState(MessagesState):
    delay: float
    turns: Annotated[int, operator.add]


async def wait(state: EchoState) -> dict[str, Any]:
    """Sleep `delay` seconds (0 by default), in small steps so cancellation is prompt."""
    await asyncio.sleep(max(0.0, float(state.get("delay") or 0.0)))
    return {}


async def reply(state: EchoState, runtime: Runtime[EchoContext]) -> dict[str, Any]:
    last = state["messages"][-1].text if state["messages"] else ""
    prefix = runtime.context.prefix if runtime.context else "echo"
    return {"messages": [AIMessage(f"{prefix}: {last}")], "turns": 1}


respond_builder = StateGraph(EchoState, context_schema=EchoContext)
respond_builder.add_node("wait", wait)
respond_builder.add_node("reply", reply)
respond_builder.add_edge(START, "wait")
respond_builder.add_edge("wait", "reply")
respond = respond_builder.compile(name="respond")

builder = StateGraph(EchoState, context_schema=EchoContext)
builder.add_node("respond", respond)
builder.add_edge(START, "respond")

graph = builder.compile(name="echo")
