"""The cluster processes (`serve`, `worker`, configured for PostgreSQL and Redis) refuse a
`langgraph.json` setting Threadloom does not honour, as `dev` does (tests/unit/
test_unsupported_config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import AUTH_PROJECT, run_cli
from tests.support.pg import require_postgres, require_redis


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_cluster_processes_with_auth_path_refuse_to_start(tmp_path: Path, command: str) -> None:
    env = {"THREADLOOM_DATABASE_URL": require_postgres(), "THREADLOOM_REDIS_URL": require_redis()}
    result = run_cli(tmp_path, command, AUTH_PROJECT, env)
    assert result.returncode != 0
    assert "refusing to start: auth.path is set" in result.stderr
    assert "Traceback" not in result.stderr
