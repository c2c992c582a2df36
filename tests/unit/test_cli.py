"""The `threadloom` command as a user meets it: version, port clashes, broken graphs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import threadloom


def _run(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "threadloom.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def test_version() -> None:
    result = _run("--version")
    assert result.returncode == 0
    assert threadloom.__version__ in result.stdout


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("dev", "--port", str(port), "--config", str(tmp_path / "langgraph.json"))
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_graph_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "agent.py").write_text("import os\n\ngraph = undefined_name\n")
    (tmp_path / "langgraph.json").write_text(json.dumps({"graphs": {"agent": "./agent.py:graph"}}))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = _run("dev", "--port", str(port), "--config", str(tmp_path / "langgraph.json"))
    assert result.returncode != 0
    assert "agent.py:3" in result.stderr
    assert "NameError" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_project_is_clear(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = _run("dev", "--port", str(port), "--config", str(tmp_path / "nope.json"))
    assert result.returncode != 0
    assert "nope.json" in result.stderr
    assert "threadloom new" in result.stderr  # the way to a first project
    assert "Traceback" not in result.stderr
