"""Run `threadloom` commands as a user would type them (any flags, any folder, any
interpreter) and read what they printed — for the tests of the developer experience."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import free_port

MESSAGES_GRAPH = """\
from langgraph.graph import START, MessagesState, StateGraph


def reply(state):
    return {"messages": [{"role": "ai", "content": "REPLY"}]}


graph = StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply").compile()
"""


def write_project(folder: Path, config: dict[str, Any], files: dict[str, str]) -> Path:
    """`langgraph.json` plus `files` (relative path -> text) in `folder`; returns the config."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    config_path = folder / "langgraph.json"
    config_path.write_text(json.dumps(config, indent=2))
    return config_path


class Command:
    """One `threadloom ...` process with its output in a file."""

    def __init__(
        self,
        args: list[str],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        program: list[str] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.args = args
        self.cwd = cwd
        self.program = program or [sys.executable, "-m", "threadloom.cli"]
        self.env = {**os.environ, **(env or {})}
        self.log_path = cwd / f".threadloom-test-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Command:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*self.program, *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 90.0) -> Command:
        """Until /ok answers; fails with the output if the process ends first."""
        self.wait_for(lambda: self._ok(), timeout, "the server to answer /ok")
        return self

    def _ok(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ok", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"exited ({self.proc.returncode}) before {what}:\n{self.logs()}"
                )
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.logs()[-4000:]}")

    def wait_for_log(self, text: str, timeout: float = 60.0) -> None:
        self.wait_for(lambda: text in self.logs(), timeout, repr(text))

    def wait_exit(self, timeout: float = 90.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the whole session (a --reload supervisor and its server), then wait."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Command:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def dev(folder: Path, *flags: str, env: dict[str, str] | None = None, **kw: Any) -> Command:
    """`threadloom dev --port <free> <flags>` in `folder` (not started)."""
    port = free_port()
    return Command(["dev", "--port", str(port), *flags], cwd=folder, env=env, port=port, **kw)
