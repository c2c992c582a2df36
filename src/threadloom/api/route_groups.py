"""Which `http.disable_*` flag removes a route: one rule, by path, for every route there is.

As the reference: `disable_assistants`, `disable_threads`, `disable_runs`, `disable_store`,
`disable_mcp`, `disable_a2a`, `disable_ui` remove their route groups (a request to one is the
router's 404); the runs group is every path under `/runs` and `/threads/{id}/runs` (crons too),
the threads group the rest of `/threads`; the a2a group has the agent card at
`/.well-known/agent-card.json` too. `disable_meta` removes `/`, `/info` and the API docs
(`/docs`, `/openapi.json`) and keeps `/ok`, so an operator still sees the server is up. The
compatibility views (`/v1/...`) belong to the groups whose objects they serve: a Letta agent's
messages and SeekrFlow's `/v1/threads/{id}/runs` are runs, the rest of `/v1/threads` threads.

The thread protocol's routes (`/threads/{id}/commands`, `/threads/{id}/stream/events` and its
WebSocket) are their own group, `event_streaming`, which `http.disable_event_streaming` and (as
in the reference, where they start runs) `http.disable_runs` both remove.

Grouping by path means a route added later is removed with its group without anyone listing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from threadloom.graphs.project import HttpConfig

GROUPS = (
    "assistants",
    "threads",
    "runs",
    "store",
    "mcp",
    "a2a",
    "ui",
    "meta",
    "event_streaming",
)
ALWAYS = frozenset({"/ok"})

R = TypeVar("R")


def group_of(path: str) -> str:
    """The route group of a route's path template (`/threads/{thread_id}/runs`)."""
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "v1":  # the compatibility views
        parts = parts[1:]
        if parts and parts[0] == "agents":
            return "runs"
    if not parts:
        return "meta"
    head = parts[0]
    if head == ".well-known":  # the A2A agent card
        return "a2a"
    if head == "threads" and len(parts) >= 3 and parts[2] == "runs":
        return "runs"
    if head == "threads" and parts[2:] in (["commands"], ["stream", "events"]):
        return "event_streaming"
    return head if head in GROUPS else "meta"


def disabled_groups(http: HttpConfig | None) -> frozenset[str]:
    if http is None:
        return frozenset()
    groups = {g for g in GROUPS if getattr(http, f"disable_{g}", False)}
    if "runs" in groups:
        groups.add("event_streaming")
    return frozenset(groups)


def enabled(routes: Iterable[R], disabled: frozenset[str]) -> list[R]:
    """`routes` less those of disabled groups (`/ok` stays whatever the flags)."""
    out = []
    for route in routes:
        path = getattr(route, "path", "")
        if path in ALWAYS or group_of(path) not in disabled:
            out.append(route)
    return out
