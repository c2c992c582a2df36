"""`http.disable_*`: which group each route's path belongs to, and that the app drops them."""

from __future__ import annotations

import pytest

from tests.support.server import TEST_PROJECT
from threadloom.api.route_groups import enabled, group_of
from threadloom.app import create_app
from threadloom.graphs.project import parse_project
from threadloom.settings import Settings


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("/threads/{thread_id}/runs", "runs"),
        ("/threads/{thread_id}/runs/{run_id}/join", "runs"),
        ("/runs/crons/search", "runs"),
        ("/threads/{thread_id}/state", "threads"),
        ("/threads/{thread_id}/stream", "threads"),
        ("/threads/{thread_id}/commands", "event_streaming"),
        ("/threads/{thread_id}/stream/events", "event_streaming"),
        ("/threads", "threads"),
        ("/assistants/{assistant_id}/graph", "assistants"),
        ("/store/items", "store"),
        ("/mcp", "mcp"),
        ("/a2a/{assistant_id}", "a2a"),
        ("/a2a/{assistant_id}/.well-known/agent-card.json", "a2a"),
        ("/.well-known/agent-card.json", "a2a"),
        ("/info", "meta"),
        ("/", "meta"),
        ("/openapi.json", "meta"),
        ("/v1/agents/{agent_id}/messages", "runs"),
        ("/v1/runs/{run_id}", "runs"),
        ("/v1/threads/{thread_id}/runs/stream", "runs"),
        ("/v1/threads/{thread_id}/messages", "threads"),
    ],
)
def test_group_of(path: str, group: str) -> None:
    assert group_of(path) == group


def test_ok_stays_whatever_is_disabled() -> None:
    class R:
        def __init__(self, path: str) -> None:
            self.path = path

    kept = enabled([R("/ok"), R("/info"), R("/threads")], frozenset({"meta", "threads"}))
    assert [r.path for r in kept] == ["/ok"]


def test_the_app_serves_no_route_of_a_disabled_group() -> None:
    raw = {"graphs": {"echo": "./graphs.py:echo"}, "http": {"disable_runs": True}}
    project = parse_project(raw, base_dir=TEST_PROJECT.parent, warn=False)
    app = create_app(Settings(config=str(TEST_PROJECT)), project)
    paths = [getattr(r, "path", "") for r in app.routes]
    assert "/threads/{thread_id}" in paths and "/assistants" in paths
    assert not [p for p in paths if group_of(p) == "runs"]
    # the thread protocol starts runs: it goes with them, as in the reference
    assert not [p for p in paths if group_of(p) == "event_streaming"]


@pytest.mark.parametrize("flag", ["disable_event_streaming", "disable_runs"])
def test_thread_protocol_routes_follow_their_flags(flag: str) -> None:
    def protocol_paths(http: dict[str, bool]) -> list[str]:
        raw = {"graphs": {"echo": "./graphs.py:echo"}, "http": http}
        project = parse_project(raw, base_dir=TEST_PROJECT.parent, warn=False)
        app = create_app(Settings(config=str(TEST_PROJECT)), project)
        paths = [getattr(r, "path", "") for r in app.routes]
        return sorted(p for p in paths if group_of(p) == "event_streaming")

    served = protocol_paths({})
    # POST commands, POST stream/events and the WebSocket on the same path
    assert served == [
        "/threads/{thread_id}/commands",
        "/threads/{thread_id}/stream/events",
        "/threads/{thread_id}/stream/events",
    ]
    assert protocol_paths({flag: True}) == []
