"""`threadloom dev --reload`: restart the server when the project changes, never onto a broken one.

A supervisor process watches the project folder and runs the server as a child. When files
change it first loads the changed project in a throwaway process (`threadloom check`). If that
fails — a syntax error, a bad import, a broken `langgraph.json` — it prints the error in a few
lines and leaves the running server (the last good graphs) answering; the next save is checked
again. If it loads, the server is restarted on it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from threadloom.settings import Settings

logger = logging.getLogger("threadloom")

RELOAD_CHILD_ENV = "THREADLOOM_RELOAD_CHILD"
PUBLIC_URL_ENV = "THREADLOOM_PUBLIC_URL"

WATCHED_SUFFIXES = (".py", ".json", ".env", ".toml", ".yaml", ".yml", ".txt", ".cfg")
IGNORED_PARTS = {".threadloom", "__pycache__", ".git", ".venv", "node_modules", ".mypy_cache"}


def watched(path: str) -> bool:
    """Project sources and config, not the database, caches or editors' swap files."""
    p = Path(path)
    if IGNORED_PARTS.intersection(p.parts):
        return False
    name = p.name
    return name.endswith(WATCHED_SUFFIXES) or name.startswith(".env")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server child gets SIGTERM if the supervisor dies (even by kill -9)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Reloader:
    """The supervisor: one server child at a time, restarted on good changes only."""

    def __init__(
        self,
        settings: Settings,
        child_args: list[str],
        *,
        public_url: str | None = None,
        check_timeout: float = 120.0,
    ) -> None:
        self.settings = settings
        self.child_args = child_args
        self.public_url = public_url
        self.check_timeout = check_timeout
        self.project_dir = settings.project_dir()
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()

    # --- processes --------------------------------------------------------------------------
    def _command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "threadloom.cli", *args]

    def _start(self, again: bool) -> subprocess.Popen[bytes]:
        env = {**os.environ, RELOAD_CHILD_ENV: "again" if again else "first"}
        if self.public_url:
            env[PUBLIC_URL_ENV] = self.public_url
        preexec = _die_with_parent if sys.platform.startswith("linux") else None
        return subprocess.Popen(self._command(*self.child_args), env=env, preexec_fn=preexec)

    def _stop_child(self) -> None:
        child = self.child
        if child is None or child.poll() is not None:
            return
        child.send_signal(signal.SIGTERM)  # SIGINT would end in click's "Aborted!"
        try:
            child.wait(self.settings.shutdown_grace_seconds + 10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def check(self) -> tuple[bool, str]:
        """Load the project in a throwaway process: (loads, what it said)."""
        try:
            done = subprocess.run(
                self._command("check", "--config", str(self.settings.config.resolve())),
                capture_output=True,
                text=True,
                timeout=self.check_timeout,
            )
        except subprocess.TimeoutExpired:
            return False, f"loading the project took longer than {self.check_timeout:g}s"
        said = (done.stderr or done.stdout).strip()
        return done.returncode == 0, said

    def _ready(self, child: subprocess.Popen[bytes], timeout: float = 120.0) -> bool:
        """Wait until the child answers /ok (True) or exits (False)."""
        url = f"{self.settings.scheme}://{self._probe_host()}:{self.settings.port}/ok"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping.is_set():
            if child.poll() is not None:
                return False
            try:
                # our own child on loopback: a self-signed --ssl-certfile is fine
                if httpx.get(url, timeout=1.0, verify=False).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return child.poll() is None

    def _probe_host(self) -> str:
        host = self.settings.host
        if host in ("0.0.0.0", ""):
            return "127.0.0.1"
        if host == "::":
            return "[::1]"
        return f"[{host}]" if ":" in host else host

    # --- the loop ---------------------------------------------------------------------------
    def run(self) -> int:
        """Serve until interrupted; the exit code is the first server's when it cannot start."""
        self.child = self._start(again=False)
        if not self._ready(self.child):
            code = self.child.wait()
            return code or 1
        logger.info("watching %s for changes (--reload)", self.project_dir)
        previous = {
            signal.SIGINT: signal.getsignal(signal.SIGINT),
            signal.SIGTERM: signal.getsignal(signal.SIGTERM),
        }

        def on_signal(signum: int, frame: Any) -> None:
            self.stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            self._watch()
        finally:
            self._stop_child()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 0

    def _watch(self) -> None:
        from watchfiles import watch

        for changes in watch(
            self.project_dir,
            watch_filter=lambda _change, path: watched(path),
            stop_event=self.stopping,
            rust_timeout=500,
            yield_on_timeout=True,
        ):
            if self.stopping.is_set():
                return
            if not changes:
                self._notice_crash()
                continue
            self.on_change(sorted({path for _, path in changes}))

    def _notice_crash(self) -> None:
        child = self.child
        if child is not None and child.returncode is None and child.poll() is not None:
            logger.error(
                "the server stopped (exit code %s); waiting for a change to start it again",
                child.returncode,
            )

    def on_change(self, paths: Iterable[str]) -> None:
        names = ", ".join(self._relative(p) for p in paths)
        logger.info("changed: %s; loading the project", names)
        ok, said = self.check()
        if not ok:
            lines = [line for line in said.splitlines() if line.strip()][-6:]
            message = "\n".join(line.removeprefix("error: ") for line in lines)
            logger.error(
                "reload failed, still serving the last good version:\n%s", message or "(no output)"
            )
            return
        self._stop_child()
        self.child = self._start(again=True)
        if not self._ready(self.child):
            logger.error("the reloaded server did not start; waiting for the next change")

    def _relative(self, path: str) -> str:
        try:
            return str(Path(path).relative_to(self.project_dir))
        except ValueError:
            return path
