"""A `langgraph.json` setting Threadloom does not honour is refused or warned about, never ignored.

The first tests check the classification key by key; the last ones start the real command (`dev`,
`serve` on PostgreSQL, `worker`) the way a user would and read what it prints.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.support.pg import require_postgres, require_redis

from threadloom.graphs.errors import ProjectError
from threadloom.graphs.project import parse_project
from threadloom.graphs.unsupported import check_supported, find_unsupported

GRAPH = "from langgraph.graph import StateGraph, MessagesState, START\n" + (
    "graph = StateGraph(MessagesState).add_node('n', lambda s: {}).add_edge(START, 'n').compile()\n"
)

REFUSED: list[dict[str, Any]] = [
    {"auth": {"path": "./auth.py:auth"}},
    {"encryption": {"path": "./enc.py:encryption"}},
    {"http": {"app": "./app.py:app"}},
    {"http": {"mount_prefix": "/api"}},
    {"http": {"configurable_headers": {"includes": ["x-user"]}}},
    {"http": {"disable_assistants": True}},
    {"http": {"disable_threads": True}},
    {"http": {"disable_runs": True}},
    {"http": {"disable_meta": True}},
    {"http": {"disable_webhooks": True}},
    {"http": {"disable_event_streaming": True}},
    {"store": {"path": "./store.py:store"}},
    {"checkpointer": {"ttl": {"strategy": "delete", "default_ttl": 60}}},
    {"checkpointer": {"path": "./saver.py:saver"}},
    {"checkpointer": {"uri": "postgresql://elsewhere/db"}},
    {"checkpointer": {"backend": "mongo"}},
    {"checkpointer": {"serde": {"pickle_fallback": False}}},
    {"webhooks": {"url": {"require_https": True}}},
    {"webhooks": {"headers": {"Authorization": "Bearer ${{ env.TOKEN }}"}}},
    {"webhooks": {"allowed_fields": ["run_id"]}},
]

WARNED: list[dict[str, Any]] = [
    {"http": {"logging_headers": {"excludes": ["authorization"]}}},
    {"http": {"middleware_order": "auth_first"}},
    {"priority": {"path": "./priority.py:priority"}},
    {"ui": {"agent": "./ui.tsx"}},
    {"ui_config": {"shared": ["react"]}},
    {"disable_persistence": True},
    {"auth": {"disable_studio_auth": True}},
    {"webhooks": {"env_prefix": "MY_HOOK_"}},
]

HONOURED: list[dict[str, Any]] = [
    {},
    {"http": {"cors": {"allow_origins": ["https://app.example"]}}},
    {"http": {"disable_store": True, "disable_mcp": True, "disable_a2a": True}},
    {"store": {"index": {"dims": 64, "embed": "threadloom:wordllama-64"}}},
    {"store": {"ttl": {"default_ttl": 10, "refresh_on_read": False}}},
    {"checkpointer": {"backend": "default"}},
    {"webhooks": {"env_prefix": "LG_WEBHOOK_"}},
    {"python_version": "3.12", "dockerfile_lines": ["RUN true"]},
]


def _project(extra: dict[str, Any]) -> Any:
    return parse_project({"graphs": {"agent": "./agent.py:graph"}, **extra}, warn=False)


def _dotted(extra: dict[str, Any]) -> str:
    section, value = next(iter(extra.items()))
    leaf = section in ("ui", "ui_config") or not isinstance(value, dict)
    return section if leaf else f"{section}.{next(iter(value))}"


@pytest.mark.parametrize("extra", REFUSED, ids=_dotted)
def test_refused_settings_stop_the_server_naming_the_key(extra: dict[str, Any]) -> None:
    with pytest.raises(ProjectError) as caught:
        check_supported(_project(extra))
    detail = caught.value.detail
    assert "refusing to start" in detail
    assert f"{_dotted(extra)} is set" in detail
    assert "\n" not in detail


@pytest.mark.parametrize("extra", WARNED, ids=_dotted)
def test_harmless_settings_start_with_a_warning(
    extra: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="threadloom"):
        check_supported(_project(extra))
    assert f"{_dotted(extra)} is ignored" in caplog.text


@pytest.mark.parametrize("extra", HONOURED, ids=lambda e: _dotted(e) if e else "nothing")
def test_honoured_settings_say_nothing(extra: dict[str, Any]) -> None:
    assert find_unsupported(_project(extra)) == []


def test_every_refusal_is_named_in_one_line() -> None:
    project = _project({"auth": {"path": "./auth.py:auth"}, "http": {"app": "./app.py:app"}})
    with pytest.raises(ProjectError) as caught:
        check_supported(project)
    assert "auth.path is set" in caught.value.detail
    assert "http.app is set" in caught.value.detail


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(
    tmp_path: Path, command: str, config: dict[str, Any], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "agent.py").write_text(GRAPH)
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    args = [sys.executable, "-m", "threadloom.cli", command, "--config", "langgraph.json"]
    if command != "worker":
        args += ["--port", str(_free_port())]
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


AUTH_PROJECT = {"graphs": {"agent": "./agent.py:graph"}, "auth": {"path": "./auth.py:auth"}}


def test_dev_with_auth_path_refuses_to_start(tmp_path: Path) -> None:
    result = _start(tmp_path, "dev", AUTH_PROJECT)
    assert result.returncode != 0
    assert "refusing to start: auth.path is set" in result.stderr
    assert "Traceback" not in result.stderr


def test_auth_from_the_clis_env_variable_is_refused_too(tmp_path: Path) -> None:
    project = {"graphs": {"agent": "./agent.py:graph"}}
    result = _start(tmp_path, "dev", project, {"LANGGRAPH_AUTH": '{"path": "./auth.py:auth"}'})
    assert result.returncode != 0
    assert "auth.path is set" in result.stderr


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_cluster_processes_with_auth_path_refuse_to_start(tmp_path: Path, command: str) -> None:
    env = {"THREADLOOM_DATABASE_URL": require_postgres(), "THREADLOOM_REDIS_URL": require_redis()}
    result = _start(tmp_path, command, AUTH_PROJECT, env)
    assert result.returncode != 0
    assert "refusing to start: auth.path is set" in result.stderr
    assert "Traceback" not in result.stderr
