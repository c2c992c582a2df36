"""Start the real Threadloom server (a `threadloom dev` subprocess) on a free port for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
TEST_PROJECT = ROOT / "tests" / "e2e" / "project" / "langgraph.json"
EXAMPLE_PROJECT = ROOT / "examples" / "langgraph.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One server process; `restart()` and `kill()` let tests crash and revive it."""

    def __init__(
        self,
        config: Path,
        db_path: Path,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        command: str = "dev",
        log_path: Path | None = None,
        module: str = "threadloom.cli",
    ) -> None:
        self.config = config
        self.db_path = db_path
        self.port = port or free_port()
        self.env = env or {}
        self.command = command
        self.log_path = log_path or db_path.with_suffix(f".{self.port}.log")
        self.module = module  # a wrapper module (bench/profiled_server.py) takes the same args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        args = [
            sys.executable,
            "-m",
            self.module,
            self.command,
            "--port",
            str(self.port),
            "--config",
            str(self.config),
        ]
        if self.command == "dev":
            args += ["--db", str(self.db_path)]
        env = {**os.environ, "THREADLOOM_ALLOW_PRIVATE_NETWORK": "true", **self.env}
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/ok", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.log_path.read_text()[-4000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""
