"""The cluster processes (`serve`, `worker`, configured for PostgreSQL and Redis) refuse a
`langgraph.json` setting Threadloom does not honour, as `dev` does (tests/unit/
test_unsupported_config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import AUTH_PROJECT, REFUSING_PROJECT, run_cli
from tests.support.pg import require_postgres, require_redis


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_cluster_processes_with_a_refused_setting_refuse_to_start(
    tmp_path: Path, command: str
) -> None:
    env = {"THREADLOOM_DATABASE_URL": require_postgres(), "THREADLOOM_REDIS_URL": require_redis()}
    result = run_cli(tmp_path, command, REFUSING_PROJECT, env)
    assert result.returncode != 0
    assert "refusing to start: encryption.path is set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_cluster_processes_with_a_missing_auth_file_refuse_to_start(
    tmp_path: Path, command: str
) -> None:
    """Custom auth that cannot be loaded never becomes a cluster open to everyone."""
    env = {"THREADLOOM_DATABASE_URL": require_postgres(), "THREADLOOM_REDIS_URL": require_redis()}
    result = run_cli(tmp_path, command, AUTH_PROJECT, env)
    assert result.returncode != 0
    assert "auth.path './auth.py:auth': file not found" in result.stderr
    assert "Traceback" not in result.stderr
