"""Threadloom installed the way a user installs it: the wheel `uv build` makes goes into a
fresh virtualenv, and that venv's `threadloom dev` serves a project folder outside the repo —
its own `langgraph.json`, its own installed dependency — driven by the official SDK.

Offline-friendly: the dependencies come from uv's cache when it holds the index pages for them
(a machine that ran `uv lock`); a cache filled only by `uv sync --frozen` holds the wheels but
not the pages, and then the install asks the index, pinned to the locked versions."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from langgraph_sdk import get_client

import threadloom
from tests.support.dev import dev, write_project
from tests.support.server import ROOT

UV = shutil.which("uv")

GREETLIB = {
    "pyproject.toml": (
        '[project]\nname = "greetlib"\nversion = "1.0.0"\n\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    ),
    "src/greetlib/__init__.py": 'def greet(name):\n    return f"hello, {name}, from greetlib"\n',
}

GRAPH = """\
from greetlib import greet
from langgraph.graph import START, MessagesState, StateGraph


def reply(state):
    return {"messages": [{"role": "ai", "content": greet(state["messages"][-1].content)}]}


graph = StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply").compile()
"""


def _run_uv(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert UV is not None
    return subprocess.run(
        [UV, *args], capture_output=True, text=True, timeout=300, cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
    )  # fmt: skip


def _uv(*args: str, cwd: Path | None = None) -> str:
    done = _run_uv(*args, cwd=cwd)
    assert done.returncode == 0, f"uv {' '.join(args)}:\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.mark.skipif(UV is None, reason="needs uv on PATH")
def test_wheel_in_a_fresh_venv_serves_a_foreign_project(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _uv("build", "--wheel", "--sdist", "--out-dir", str(dist), cwd=ROOT)
    (wheel,) = dist.glob("threadloom-*.whl")
    assert wheel.name.startswith(f"threadloom-{threadloom.__version__}-")
    assert list(dist.glob("threadloom-*.tar.gz"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"threadloom-{threadloom.__version__}.dist-info/METADATA").decode()
    assert "threadloom/dev/template/agent/graph.py" in names  # `threadloom new` works installed
    assert "threadloom/storage/postgres/schema.sql" in names
    for field in ("Requires-Python: >=3.11", "License-Expression: MIT", "License-File: LICENSE"):
        assert field in metadata

    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    _uv("venv", "--python", sys.executable, str(venv))
    project = tmp_path / "someone-elses-project"
    write_project(project / "greetlib", {}, GREETLIB)
    (project / "greetlib" / "langgraph.json").unlink()
    write_project(
        project, {"graphs": {"agent": "./agent.py:graph"}, "env": ".env"}, {"agent.py": GRAPH}
    )
    # the locked versions, so the venv holds what `make test` tested (and uv's cache has them)
    pins = tmp_path / "locked.txt"
    _uv(
        "export",
        "--frozen",
        "--no-dev",
        "--no-hashes",
        "--no-emit-project",
        "-o",
        str(pins),
        cwd=ROOT,
    )
    install = ("pip", "install", "--python", str(python), "-c", str(pins), str(wheel), "./greetlib")
    if _run_uv(*install[:2], "--offline", *install[2:], cwd=project).returncode != 0:
        _uv(*install, cwd=project)

    version = subprocess.run(
        [str(venv / "bin" / "threadloom"), "--version"], capture_output=True, text=True, timeout=60
    )
    assert threadloom.__version__ in version.stdout

    with dev(project, program=[str(venv / "bin" / "threadloom")]) as server:
        server.wait_ready()

        async def talk() -> str:
            client = get_client(url=server.url)
            thread = await client.threads.create()
            result = await client.runs.wait(
                thread["thread_id"],
                "agent",
                input={"messages": [{"role": "user", "content": "Ann"}]},
            )
            assert isinstance(result, dict)
            return str(result["messages"][-1]["content"])

        assert asyncio.run(talk()) == "hello, Ann, from greetlib"
        logs = server.logs()
    assert str(ROOT) not in logs  # nothing came from the checkout
    assert (project / ".threadloom" / "threadloom.db").is_file()
