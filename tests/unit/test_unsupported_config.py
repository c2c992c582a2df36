"""A `langgraph.json` setting Threadloom does not honour is refused or warned about, never ignored.

The first tests check the classification key by key; the last ones start the real `dev` command the
way a user would and read what it prints (`serve` and `worker`, which need PostgreSQL and Redis:
tests/integration/test_unsupported_config_cluster.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import AUTH_PROJECT, REFUSING_PROJECT, run_cli
from threadloom.graphs.errors import ProjectError
from threadloom.graphs.project import parse_project
from threadloom.graphs.unsupported import check_supported, find_unsupported

REFUSED: list[dict[str, Any]] = [
    {"encryption": {"path": "./enc.py:encryption"}},
    {"store": {"path": "./store.py:store"}},
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
    {"priority": {"path": "./priority.py:priority"}},
    {"ui": {"agent": "./ui.tsx"}},
    {"ui_config": {"shared": ["react"]}},
    {"disable_persistence": True},
    {"auth": {"disable_studio_auth": True}},
    {"webhooks": {"env_prefix": "MY_HOOK_"}},
    {"auth": {"allow_langsmith_api_keys": True, "path": "./auth.py:auth"}},
]

HONOURED: list[dict[str, Any]] = [
    {},
    {"store": {"index": {"dims": 4, "embed": "threadloom:wordllama"}, "ttl": {"default_ttl": 10}}},
    {"auth": {"path": "./auth.py:auth", "disable_studio_auth": True, "openapi": {}}},
    {"http": {"app": "./app.py:app", "enable_custom_route_auth": True}},
    {"http": {"cors": {"allow_origins": ["https://app.example"]}}},
    {"http": {"disable_store": True, "disable_mcp": True, "disable_a2a": True}},
    {"http": {"app": "./app.py:app", "middleware_order": "auth_first", "mount_prefix": "/api"}},
    {"http": {"configurable_headers": {"includes": ["x-user"]}}},
    {
        "http": {
            **{f"disable_{g}": True for g in ("assistants", "threads", "runs", "meta")},
            "disable_webhooks": True,
            "disable_event_streaming": True,
            "disable_ui": True,
        }
    },
    {"checkpointer": {"backend": "default"}},
    {"checkpointer": {"ttl": {"strategy": "delete", "default_ttl": 60}}},
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
    project = _project({"encryption": {"path": "./e.py:e"}, "store": {"path": "./s.py:store"}})
    with pytest.raises(ProjectError) as caught:
        check_supported(project)
    assert "encryption.path is set" in caught.value.detail
    assert "store.path is set" in caught.value.detail


def test_dev_with_a_missing_auth_file_refuses_to_start(tmp_path: Path) -> None:
    """Custom auth that cannot be loaded never becomes a server open to everyone."""
    result = run_cli(tmp_path, "dev", AUTH_PROJECT)
    assert result.returncode != 0
    assert "auth.path './auth.py:auth': file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_auth_without_an_authenticate_handler_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "auth.py").write_text("from langgraph_sdk import Auth\nauth = Auth()\n")
    result = run_cli(tmp_path, "dev", AUTH_PROJECT)
    assert result.returncode != 0
    assert "no @auth.authenticate handler" in result.stderr


def test_auth_from_the_clis_env_variable_is_loaded_too(tmp_path: Path) -> None:
    project = {"graphs": {"agent": "./agent.py:graph"}}
    result = run_cli(tmp_path, "dev", project, {"LANGGRAPH_AUTH": '{"path": "./auth.py:auth"}'})
    assert result.returncode != 0
    assert "auth.path './auth.py:auth': file not found" in result.stderr


def test_dev_with_a_refused_setting_refuses_to_start(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "dev", REFUSING_PROJECT)
    assert result.returncode != 0
    assert "refusing to start: encryption.path is set" in result.stderr
    assert "Traceback" not in result.stderr
