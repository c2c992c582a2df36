"""Graphs for the custom auth tests: a node that reports the user the server gave it."""

from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph


class WhoState(TypedDict, total=False):
    who: Any


def whoami_node(state: WhoState, config: RunnableConfig) -> WhoState:
    conf = config["configurable"]
    user = conf.get("langgraph_auth_user")
    return {
        "who": {
            "user_id": conf.get("langgraph_auth_user_id"),
            "permissions": list(conf.get("langgraph_auth_permissions") or []),
            "identity": getattr(user, "identity", None),
            "identity_item": user["identity"] if user is not None else None,
            "display_name": getattr(user, "display_name", None),
        }
    }


_b = StateGraph(WhoState)
_b.add_node("whoami", whoami_node)
_b.add_edge(START, "whoami")
_b.add_edge("whoami", END)
whoami = _b.compile()
