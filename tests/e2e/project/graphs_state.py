"""Graphs for the state, history and checkpoint tests."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


# --- reviewed: a factory whose `reviewer` node exists only when its config names it ----------
class Review(TypedDict, total=False):
    text: str
    reviewed_by: str


def make_reviewed(config: RunnableConfig) -> Any:
    reviewer = config.get("configurable", {}).get("reviewer")

    def draft(state: Review) -> dict[str, Any]:
        return {"text": f"draft of {state.get('text', '')}"}

    builder = StateGraph(Review).add_node("draft", draft).add_edge(START, "draft")
    if reviewer:

        def review(state: Review) -> dict[str, Any]:
            return {"reviewed_by": reviewer}

        builder.add_node(reviewer, review).add_edge("draft", reviewer)
    return builder.compile()


# --- nested_ask: a parent whose subgraph pauses on interrupt() (subgraph state) -----------
class Asked(TypedDict, total=False):
    answer: str


def _ask_inside(state: Asked) -> dict[str, Any]:
    return {"answer": interrupt("answer?")}


asker = StateGraph(Asked).add_node("ask", _ask_inside).add_edge(START, "ask").compile()

nested_ask = StateGraph(Asked).add_node("child", asker).add_edge(START, "child").compile()
