"""Graphs for the run-result tests: an output schema, a context schema with defaults, and one
that reports the request headers its run was configured with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from typing_extensions import TypedDict


# --- shaped: its output schema is narrower than its state ----------------------------------
class ShapedState(TypedDict, total=False):
    question: str
    answer: str
    scratch: str


class ShapedInput(TypedDict, total=False):
    question: str


class ShapedOutput(TypedDict, total=False):
    answer: str


def _answer(state: ShapedState) -> dict[str, Any]:
    return {"answer": f"re: {state.get('question')}", "scratch": "internal notes"}


shaped = (
    StateGraph(ShapedState, input_schema=ShapedInput, output_schema=ShapedOutput)
    .add_node("answer", _answer)
    .add_edge(START, "answer")
    .compile()
)


# --- contextual: a context schema whose fields all have defaults ---------------------------
@dataclass
class ModelContext:
    model: str = "default-model"
    temperature: float = 0.5


class ContextState(TypedDict, total=False):
    ask: bool
    model: str
    reply: Any


def _use_model(state: ContextState, runtime: Runtime[ModelContext]) -> dict[str, Any]:
    reply = interrupt("which?") if state.get("ask") else None
    return {"model": runtime.context.model, "reply": reply}


contextual = (
    StateGraph(ContextState, context_schema=ModelContext)
    .add_node("use_model", _use_model)
    .add_edge(START, "use_model")
    .compile()
)


# --- headers: what request headers reached config["configurable"] -------------------------
class HeaderState(TypedDict, total=False):
    seen: dict[str, Any]


def _report(state: HeaderState, config: RunnableConfig) -> dict[str, Any]:
    configurable = config.get("configurable", {})
    return {
        "seen": {
            k: v
            for k, v in configurable.items()
            if isinstance(k, str)
            and (k.startswith("x-") or k in ("user-agent", "langgraph_request_id", "prefix"))
        }
    }


headers = StateGraph(HeaderState).add_node("report", _report).add_edge(START, "report").compile()
