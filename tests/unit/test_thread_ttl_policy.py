"""Where the thread TTL policy comes from: LANGGRAPH_THREAD_TTL wins over checkpointer.ttl."""

from __future__ import annotations

import pytest

from threadloom.graphs.errors import ProjectError
from threadloom.graphs.project import parse_project
from threadloom.services.thread_ttl import ThreadTTLPolicy, policy_for


def _project(ttl: dict[str, object] | None) -> object:
    extra = {"checkpointer": {"ttl": ttl}} if ttl is not None else {}
    return parse_project({"graphs": {}, **extra}, warn=False)


def test_nothing_configured_means_threads_expire_only_by_their_own_ttl() -> None:
    policy = policy_for(_project(None), {})  # type: ignore[arg-type]
    assert policy == ThreadTTLPolicy()
    assert policy.for_new_thread() is None


def test_checkpointer_ttl_gives_new_threads_a_default() -> None:
    config = {"strategy": "keep_latest", "default_ttl": 30, "sweep_interval_minutes": 2}
    policy = policy_for(_project({**config, "sweep_limit": 50}), {})  # type: ignore[arg-type]
    assert (policy.strategy, policy.sweep_interval_minutes, policy.sweep_limit) == (
        "keep_latest",
        2,
        50,
    )
    ttl = policy.for_new_thread()
    assert ttl is not None and (ttl.strategy, ttl.ttl_minutes) == ("keep_latest", 30)


def test_the_environment_variable_wins_as_minutes_or_json() -> None:
    project = _project({"default_ttl": 30})
    assert policy_for(project, {"LANGGRAPH_THREAD_TTL": "5"}).default_ttl_minutes == 5  # type: ignore[arg-type]
    policy = policy_for(  # type: ignore[arg-type]
        project, {"LANGGRAPH_THREAD_TTL": '{"strategy": "keep_latest", "default_ttl": 7}'}
    )
    assert (policy.strategy, policy.default_ttl_minutes) == ("keep_latest", 7)


@pytest.mark.parametrize("raw", ["soon", '{"strategy": "forget"}', "-1"])
def test_a_bad_environment_variable_is_one_clear_error(raw: str) -> None:
    with pytest.raises(ProjectError, match="LANGGRAPH_THREAD_TTL"):
        policy_for(None, {"LANGGRAPH_THREAD_TTL": raw})


def test_the_server_refuses_a_bad_variable_in_one_line(tmp_path: object) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    from tests.support.server import free_port

    folder = Path(str(tmp_path))
    (folder / "langgraph.json").write_text(
        json.dumps({"graphs": {}, "env": {"LANGGRAPH_THREAD_TTL": "soon"}})
    )
    result = subprocess.run(
        [sys.executable, "-m", "threadloom.cli", "dev", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder,
    )
    assert result.returncode != 0
    assert "LANGGRAPH_THREAD_TTL: expected minutes or a JSON object" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("sweep_limit", "per_transaction"), [(50, 50), (10_000, 1_000)])
def test_one_sweep_transaction_takes_sweep_limit_threads_but_never_more_than_1000(
    sweep_limit: int, per_transaction: int
) -> None:
    # a 10,000-thread transaction on PostgreSQL tripled the p99 of concurrent /wait traffic
    # (bench/thread_ttl.py); the cap keeps a backlog's batches short
    import asyncio
    from types import SimpleNamespace

    from threadloom.services.thread_ttl import sweep_once

    asked: list[int] = []

    async def sweep_expired(now: object, limit: int) -> list[object]:
        asked.append(limit)
        return []

    storage = SimpleNamespace(threads=SimpleNamespace(sweep_expired=sweep_expired))
    policy = ThreadTTLPolicy(sweep_limit=sweep_limit)
    asyncio.run(sweep_once(storage, SimpleNamespace(), policy))  # type: ignore[arg-type]
    assert asked == [per_transaction]
    assert policy.batch_size == per_transaction
