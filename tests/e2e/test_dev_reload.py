"""`threadloom dev --reload`: a broken edit keeps the last good graphs answering and prints where
it broke; the fix is picked up on the next save."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client

from tests.support.dev import MESSAGES_GRAPH, dev, write_project


async def _reply(url: str) -> Any:
    client = get_client(url=url)
    result = await client.runs.wait(
        None, "agent", input={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert isinstance(result, dict)
    return result["messages"][-1]["content"]


def test_broken_edit_keeps_serving_and_the_fix_is_picked_up(tmp_path: Path) -> None:
    graph = tmp_path / "agent.py"
    write_project(tmp_path, {"graphs": {"agent": "./agent.py:graph"}}, {"agent.py": MESSAGES_GRAPH})
    with dev(tmp_path, "--reload") as server:
        server.wait_ready()
        server.wait_for_log("watching")
        assert asyncio.run(_reply(server.url)) == "REPLY"

        graph.write_text(MESSAGES_GRAPH + "\ndef broken(:\n")
        server.wait_for_log("reload failed")
        logs = server.logs()
        assert "agent.py:10" in logs and "SyntaxError" in logs
        assert "Traceback" not in logs
        assert asyncio.run(_reply(server.url)) == "REPLY"  # the last good graphs answer

        graph.write_text(MESSAGES_GRAPH.replace('"REPLY"', '"FIXED"'))
        server.wait_for_log("reloaded: graphs agent")
        server.wait_ready()
        assert asyncio.run(_reply(server.url)) == "FIXED"


def test_first_start_on_a_broken_project_fails_like_without_reload(tmp_path: Path) -> None:
    write_project(
        tmp_path, {"graphs": {"agent": "./agent.py:graph"}}, {"agent.py": "graph = nope\n"}
    )
    with dev(tmp_path, "--reload") as server:
        code = server.wait_exit()
    assert code == 1
    assert "agent.py:1" in server.logs() and "NameError" in server.logs()
