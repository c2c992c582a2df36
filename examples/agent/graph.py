"""A tool-calling agent with a human approval step.

    START -> agent --(tool calls?)--> tools -> agent -> ... -> END
                   \\--(sensitive?)--> approve --(yes)--> tools
                                              \\--(no)--> agent

`agent` calls the chat model; `tools` runs the tools it asked for; `approve` pauses the run with
`interrupt()` before a sensitive tool (resume with `Command(resume={"approved": True})` or "yes").

The model is the offline `ScriptedChatModel`. Set `AGENT_MODEL=openai:gpt-4o-mini` (with
OPENAI_API_KEY set and langchain-openai installed) to use a real one instead.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, SystemMessage, ToolMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, interrupt

from agent.model import ScriptedChatModel
from agent.tools import SENSITIVE_TOOLS, TOOLS

SYSTEM_PROMPT = "You are a helpful assistant. Use the tools when they help."


def make_model() -> BaseChatModel:
    """The scripted model unless AGENT_MODEL asks for a real one."""
    choice = os.environ.get("AGENT_MODEL", "scripted")
    if choice.startswith("openai:") and os.environ.get("OPENAI_API_KEY"):
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            pass
        else:
            return ChatOpenAI(model=choice.removeprefix("openai:"), stream_usage=True)
    delay = float(os.environ.get("SCRIPTED_MODEL_TOKEN_DELAY", "0"))
    return ScriptedChatModel(token_delay=delay)


model = make_model().bind_tools(TOOLS)


async def call_model(state: MessagesState) -> dict[str, Any]:
    """Ask the model what to do next."""
    response = await model.ainvoke([SystemMessage(SYSTEM_PROMPT), *state["messages"]])
    return {"messages": [response]}


def route_after_model(state: MessagesState) -> str:
    """Tool calls go to the tools, through a human first if any of them is sensitive."""
    last = state["messages"][-1]
    if not isinstance(last, AIMessage) or not last.tool_calls:
        return END
    if any(call["name"] in SENSITIVE_TOOLS for call in last.tool_calls):
        return "approve"
    return "tools"


def approve(state: MessagesState) -> Command[Literal["tools", "agent"]]:
    """Pause until a human approves the sensitive tool calls; a refusal goes back to the model."""
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    sensitive = [call for call in last.tool_calls if call["name"] in SENSITIVE_TOOLS]
    decision = interrupt(
        {
            "question": "Approve these tool calls?",
            "tool_calls": sensitive,
            "resume_with": {"approved": True},
        }
    )
    if is_approval(decision):
        return Command(goto="tools")
    refusals = [
        ToolMessage(
            content="the user did not approve this call",
            tool_call_id=call["id"],
            name=call["name"],
            status="error",
        )
        for call in last.tool_calls
    ]
    return Command(goto="agent", update={"messages": refusals})


def is_approval(decision: Any) -> bool:
    """Accept the shapes people send: True, "yes", {"approved": true}, {"action": "approve"}."""
    if isinstance(decision, dict):
        if "approved" in decision:
            return bool(decision["approved"])
        decision = decision.get("action") or decision.get("type") or decision.get("response")
    if isinstance(decision, str):
        return decision.strip().lower() in {"y", "yes", "ok", "approve", "approved", "accept"}
    return decision is True


builder = StateGraph(MessagesState)
builder.add_node("agent", call_model)
builder.add_node("tools", ToolNode(TOOLS))
builder.add_node("approve", approve)
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", route_after_model, ["approve", "tools", END])
builder.add_edge("tools", "agent")

graph = builder.compile()
