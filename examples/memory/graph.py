"""An assistant with long-term memory: it remembers what the user tells about themselves and
finds it again in later threads by meaning, with the offline embedding model
(`store.index` in langgraph.json: `threadloom:wordllama`, no API key, no download).

    "I live in Lisbon"          -> stored under ("memories", <user_id>)
    "Where do I live?" (later)  -> semantic search over that namespace -> "You told me: I live in Lisbon"

The user is `configurable.user_id` (default "anonymous"). A message that starts with "I " or
"My " is a fact to remember; anything else is a question answered from memory.
"""

from __future__ import annotations

import hashlib
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.store.base import BaseStore


def _namespace(config: RunnableConfig) -> tuple[str, ...]:
    user = (config.get("configurable") or {}).get("user_id") or "anonymous"
    return ("memories", str(user))


async def remember_or_recall(
    state: MessagesState, config: RunnableConfig, *, store: BaseStore
) -> dict[str, Any]:
    text = str(state["messages"][-1].content).strip()
    ns = _namespace(config)
    if text.lower().startswith(("i ", "i'm ", "my ")):
        key = hashlib.sha1(text.lower().encode()).hexdigest()[:16]
        await store.aput(ns, key, {"text": text, "kind": "fact"})
        return {"messages": [AIMessage(f"Noted: {text}")]}
    found = await store.asearch(ns, query=text, limit=1)
    if not found:
        return {"messages": [AIMessage("I don't know anything about you yet.")]}
    return {"messages": [AIMessage(f"You told me: {found[0].value['text']}")]}


graph = (
    StateGraph(MessagesState)
    .add_node("memory", remember_or_recall)
    .add_edge(START, "memory")
    .compile()
)
