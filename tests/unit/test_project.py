"""langgraph.json parsing: entry shapes, env, dependencies, tolerance and clear errors."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from threadloom.graphs import ProjectError, load_project, project_from_env
from threadloom.graphs.project import graph_configs_from_env, parse_project


@pytest.fixture(autouse=True)
def _restore_process_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Projects write to os.environ and sys.path; keep each test's changes to itself."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def write_config(folder: Path, data: object) -> Path:
    path = folder / "langgraph.json"
    path.write_text(json.dumps(data))
    return path


def test_string_and_dict_graph_entries(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "graphs": {
                "a": "./agent.py:graph",
                "b": {"path": "./sub/b.py:make_graph", "description": "B graph"},
                "c": "my_pkg.agent:graph",
            }
        },
    )
    project = load_project(path)
    assert set(project.graphs) == {"a", "b", "c"}
    a, b, c = project.graphs["a"], project.graphs["b"], project.graphs["c"]
    assert (a.target, a.attr, a.is_file, a.description) == ("./agent.py", "graph", True, None)
    assert a.file_path(project.base_dir) == (tmp_path / "agent.py").resolve()
    assert b.description == "B graph" and b.attr == "make_graph"
    assert (c.target, c.attr, c.is_file) == ("my_pkg.agent", "graph", False)
    assert project.base_dir == tmp_path.resolve()


def test_env_dict_is_loaded_without_overriding(tmp_path: Path) -> None:
    os.environ["TL_TEST_KEEP"] = "from-shell"
    os.environ.pop("TL_TEST_NEW", None)
    project = load_project(
        write_config(tmp_path, {"graphs": {}, "env": {"TL_TEST_KEEP": "x", "TL_TEST_NEW": 3}})
    )
    applied = project.apply_env()
    assert os.environ["TL_TEST_KEEP"] == "from-shell"
    assert os.environ["TL_TEST_NEW"] == "3"
    assert applied == {"TL_TEST_NEW": "3"}


def test_env_file_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TL_TEST_FILE=hello\n# comment\nTL_TEST_QUOTED='a b'\n")
    os.environ.pop("TL_TEST_FILE", None)
    project = load_project(write_config(tmp_path, {"graphs": {}, "env": ".env"}))
    project.apply_env()
    assert os.environ["TL_TEST_FILE"] == "hello"
    assert os.environ["TL_TEST_QUOTED"] == "a b"


def test_missing_env_file_is_a_warning_as_in_the_reference(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the public templates name ".env" and ship only ".env.example"
    project = load_project(write_config(tmp_path, {"graphs": {}, "env": ".env"}))
    with caplog.at_level("WARNING", logger="threadloom"):
        assert project.apply_env() == {}
    assert "env file" in caplog.text and "not found" in caplog.text


def test_malformed_env_file_names_the_line_not_its_content(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TL_OK=1\n# fine\nTL_SECRET sk-hidden-value\nTL_AFTER=2\n")
    project = load_project(write_config(tmp_path, {"graphs": {}, "env": ".env"}))
    with pytest.raises(ProjectError, match=r"\.env:3: cannot parse") as caught:
        project.apply_env()
    assert "sk-hidden-value" not in caught.value.detail


def test_dependencies_go_on_sys_path(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    project = load_project(
        write_config(tmp_path, {"graphs": {}, "dependencies": [".", "./src", "requests>=2"]})
    )
    assert project.dependency_dirs() == [tmp_path.resolve(), (tmp_path / "src").resolve()]
    project.apply_dependencies()
    assert sys.path[0] == str(tmp_path.resolve())
    assert sys.path[1] == str((tmp_path / "src").resolve())


def test_unknown_keys_warn_not_crash(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = {"graphs": {}, "shiny_new_key": 1, "http": {"cors": {"allow_origins": ["*"]}, "x": 1}}
    with caplog.at_level(logging.WARNING, logger="threadloom"):
        project = load_project(write_config(tmp_path, {**data, "$schema": "https://x"}))
    assert project.http is not None and project.http.cors is not None
    assert project.http.cors.allow_origins == ["*"]
    assert "shiny_new_key" in caplog.text and "http.x" in caplog.text
    assert "$schema" not in caplog.text


def test_other_sections_are_parsed(tmp_path: Path) -> None:
    project = load_project(
        write_config(
            tmp_path,
            {
                "graphs": {"g": "./g.py:graph"},
                "store": {"index": {"dims": 8, "embed": "openai:x"}, "ttl": {"default_ttl": 5}},
                "checkpointer": {"ttl": {"strategy": "keep_latest", "default_ttl": 60}},
                "auth": {"path": "./auth.py:auth", "disable_studio_auth": True},
                "http": {"app": "./app.py:app", "mount_prefix": "/api", "disable_mcp": True},
                "webhooks": {
                    "url": {"require_https": True},
                    "headers": {"X": "${{ env.LG_WEBHOOK_X }}"},
                },
                "ui": {"card": "./ui.tsx"},
                "python_version": "3.11",
                "dockerfile_lines": ["RUN true"],
            },
        )
    )
    assert project.store and project.store.index and project.store.index.dims == 8
    assert project.store.ttl and project.store.ttl.refresh_on_read is True
    assert project.checkpointer and project.checkpointer.ttl
    assert project.checkpointer.ttl.strategy == "keep_latest"
    assert project.auth and project.auth.path == "./auth.py:auth"
    assert project.http and project.http.mount_prefix == "/api" and project.http.disable_mcp
    assert project.webhooks and project.webhooks.url and project.webhooks.url.require_https
    assert project.webhooks.env_prefix == "LG_WEBHOOK_"
    assert project.ui == {"card": "./ui.tsx"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"graphs": {"a": "./agent.py"}}, r"graphs\.a\.path: .*file\.py:variable"),
        ({"graphs": {"a": "./agent.ts:graph"}}, r"JavaScript"),
        ({"graphs": {"a": 3}}, r"graphs\.a"),
        ({"graphs": {}, "store": {"index": {"dims": "big", "embed": "x"}}}, r"store\.index\.dims"),
        (
            {"graphs": {}, "checkpointer": {"ttl": {"strategy": "forever"}}},
            r"checkpointer\.ttl\.strategy",
        ),
        ({"graphs": {}, "http": {"mount_prefix": "api/"}}, r"http\.mount_prefix"),
        ({"graphs": {}, "dependencies": "."}, r"dependencies"),
        ([1, 2], r"expected a JSON object"),
    ],
)
def test_invalid_content_names_what_and_where(tmp_path: Path, data: object, message: str) -> None:
    path = write_config(tmp_path, data)
    with pytest.raises(ProjectError, match=message) as info:
        load_project(path)
    assert str(path) in info.value.detail


def test_invalid_json_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "langgraph.json"
    path.write_text('{\n  "graphs": {,\n}')
    with pytest.raises(ProjectError, match=r"langgraph\.json:2:\d+: invalid JSON"):
        load_project(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="file not found"):
        load_project(tmp_path / "langgraph.json")


def test_project_from_env_langserve_graphs_override(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"graphs": {"a": "./a.py:graph"}, "auth": {"path": "./x.py:a"}})
    env = {
        "LANGSERVE_GRAPHS": json.dumps({"b": {"path": "./b.py:graph", "description": "from env"}}),
        "LANGGRAPH_STORE": json.dumps({"ttl": {"default_ttl": 10}}),
        "LANGGRAPH_CHECKPOINTER": json.dumps({"ttl": {"default_ttl": 30}}),
        "LANGGRAPH_HTTP": json.dumps({"disable_store": True}),
        "LANGGRAPH_WEBHOOKS": json.dumps({"env_prefix": "HOOK_"}),
    }
    project = project_from_env(path, env)
    assert project is not None
    assert list(project.graphs) == ["b"]
    assert project.graphs["b"].description == "from env"
    assert project.base_dir == tmp_path.resolve()
    assert project.store and project.store.ttl and project.store.ttl.default_ttl == 10
    assert project.checkpointer and project.checkpointer.ttl
    assert project.http and project.http.disable_store
    assert project.webhooks and project.webhooks.env_prefix == "HOOK_"
    assert project.auth and project.auth.path == "./x.py:a"  # untouched by env


def test_project_from_env_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    project = project_from_env(None, {"LANGSERVE_GRAPHS": '{"g": "pkg.mod:graph"}'})
    assert project is not None and project.graphs["g"].target == "pkg.mod"
    assert project.base_dir == tmp_path.resolve()
    assert project_from_env(None, {}) is None  # no file, no env: no project
    assert project_from_env(tmp_path / "missing.json", {}) is None
    other = tmp_path / "other"
    from_dir = project_from_env(None, {"LANGSERVE_GRAPHS": '{"g": "./g.py:g"}'}, base_dir=other)
    assert from_dir is not None and from_dir.base_dir == other.resolve()


def test_project_from_env_accepts_a_loaded_project(tmp_path: Path) -> None:
    loaded = load_project(write_config(tmp_path, {"graphs": {"a": "./a.py:graph"}, "x_new": 1}))
    assert project_from_env(loaded, {}) is loaded
    merged = project_from_env(loaded, {"LANGGRAPH_HTTP": '{"disable_runs": true}'})
    assert merged is not None and merged.http is not None and merged.http.disable_runs
    assert list(merged.graphs) == ["a"] and merged.config_path == loaded.config_path


def test_project_from_env_bad_json() -> None:
    with pytest.raises(ProjectError, match="LANGGRAPH_AUTH: invalid JSON"):
        project_from_env(None, {"LANGGRAPH_AUTH": "{nope"})


def test_parse_project_directly() -> None:
    project = parse_project({"graphs": {"g": "./g.py:graph"}}, base_dir="/tmp")
    assert project.base_dir == Path("/tmp").resolve()


def test_langgraph_config_env_gives_graph_configs() -> None:
    raw = json.dumps({"agent": {"configurable": {"model": "m"}}, "empty": {}})
    assert graph_configs_from_env({"LANGGRAPH_CONFIG": raw}) == {
        "agent": {"configurable": {"model": "m"}}
    }
    assert graph_configs_from_env({}) == {}
    for bad, message in (("[1]", "JSON object"), ("{", "invalid JSON"), ('{"a": 1}', "'a'")):
        with pytest.raises(ProjectError, match=message):
            graph_configs_from_env({"LANGGRAPH_CONFIG": bad})
