"""Graphs for the `http` config tests: an echo, and one that reports the request headers its
run's `config["configurable"]` got."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, MessagesState, StateGraph
from typing_extensions import TypedDict


def _reply(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage(content=f"echo: {state['messages'][-1].content}")]}


echo = StateGraph(MessagesState).add_node("reply", _reply).add_edge(START, "reply").compile()


class HeaderState(TypedDict, total=False):
    seen: dict[str, Any]


_RUN_KEYS = {"run_id", "thread_id", "graph_id", "assistant_id", "langgraph_request_id"}


def _report(state: HeaderState, config: RunnableConfig) -> dict[str, Any]:
    """Every string-valued configurable key that is not one the server always sets."""
    configurable = config.get("configurable", {})
    return {
        "seen": {
            k: v
            for k, v in configurable.items()
            if isinstance(k, str)
            and not k.startswith("__")
            and k not in _RUN_KEYS
            and isinstance(v, str)
        }
    }


headers = StateGraph(HeaderState).add_node("report", _report).add_edge(START, "report").compile()
