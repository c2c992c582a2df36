"""Graphs whose nodes stream a chat model token by token (`messages` mode checks)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.graph import START, MessagesState, StateGraph


async def _talk(state: MessagesState) -> dict[str, Any]:
    """Streams `echo: <last message>` word by word through a fake chat model."""
    last = state["messages"][-1]
    model = GenericFakeChatModel(messages=iter([AIMessage(content=f"echo: {last.content}")]))
    return {"messages": [await model.ainvoke(state["messages"])]}


chatty = StateGraph(MessagesState).add_node("talk", _talk).add_edge(START, "talk").compile()

# the same node inside a subgraph (messages events named `messages/partial|<ns>`)
chatty_nested = (
    StateGraph(MessagesState).add_node("inner", chatty).add_edge(START, "inner").compile()
)
