"""Start the `threadloom` command the way a user would, on a one-graph project, and collect what
it printed (for the tests of settings a process refuses to start with)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.server import free_port

GRAPH = "from langgraph.graph import StateGraph, MessagesState, START\n" + (
    "graph = StateGraph(MessagesState).add_node('n', lambda s: {}).add_edge(START, 'n').compile()\n"
)

# a project with custom auth (its auth.py is the test's to write, or missing)
AUTH_PROJECT: dict[str, Any] = {
    "graphs": {"agent": "./agent.py:graph"},
    "auth": {"path": "./auth.py:auth"},
}
# a project with a setting every command refuses to start with
REFUSING_PROJECT: dict[str, Any] = {
    "graphs": {"agent": "./agent.py:graph"},
    "encryption": {"path": "./encryption.py:encryption"},
}


def run_cli(
    tmp_path: Path, command: str, config: dict[str, Any], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`threadloom <command>` on `config` (its graphs: ./agent.py:graph) in `tmp_path`."""
    (tmp_path / "agent.py").write_text(GRAPH)
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    args = [sys.executable, "-m", "threadloom.cli", command, "--config", "langgraph.json"]
    if command != "worker":
        args += ["--port", str(free_port())]
    if command == "dev":
        args += ["--db", str(tmp_path / "threadloom.db")]
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
    )
