"""The cluster shape for tests: a private PostgreSQL schema + Redis prefix, and worker processes.

`ClusterBackends` names a fresh schema and key prefix on the real services (tests/support/pg.py
has the URLs) and removes both in `cleanup()`. `WorkerProcess` runs `threadloom worker` against
them; API processes are `ServerProcess(command="serve", env=backends.env(workers=0))`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.pg import random_name, require_postgres, require_redis
from tests.support.server import ROOT

# leases short enough that a kill -9 is noticed in seconds (the defaults are 30 s / 10 s)
FAST_LEASES = {"THREADLOOM_LEASE_SECONDS": "2", "THREADLOOM_HEARTBEAT_SECONDS": "0.5"}


@dataclass
class ClusterBackends:
    """One isolated deployment on the shared PostgreSQL and Redis."""

    pg_url: str
    redis_url: str
    schema: str = field(default_factory=lambda: random_name("tl_e2e"))
    prefix: str = field(default_factory=lambda: random_name("tle2e"))

    @classmethod
    def create(cls) -> ClusterBackends:
        """Skips the calling test when either service is unreachable."""
        return cls(require_postgres(), require_redis())

    def env(self, *, workers: int | None = None, fast_leases: bool = False) -> dict[str, str]:
        out = {
            "THREADLOOM_DATABASE_URL": self.pg_url,
            "THREADLOOM_DATABASE_SCHEMA": self.schema,
            "THREADLOOM_REDIS_URL": self.redis_url,
            "THREADLOOM_REDIS_PREFIX": self.prefix,
        }
        if workers is not None:
            out["THREADLOOM_WORKERS"] = str(workers)
        if fast_leases:
            out.update(FAST_LEASES)
        return out

    def cleanup(self) -> None:
        """Drop the schema and delete the prefix's keys (best effort: never fails a test)."""
        import psycopg
        import redis

        try:
            with psycopg.connect(self.pg_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        except psycopg.Error:
            pass
        try:
            client = redis.Redis.from_url(self.redis_url)
            keys = list(client.scan_iter(match=f"{self.prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
        except redis.RedisError:
            pass


class WorkerProcess:
    """`threadloom worker` as a subprocess; `start()` returns once it is claiming runs."""

    READY = "threadloom worker ready"

    def __init__(self, config: Path, log_path: Path, env: dict[str, str]) -> None:
        self.config = config
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        args = [sys.executable, "-m", "threadloom.cli", "worker", "--config", str(self.config)]
        env = {**os.environ, **self.env}
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.logs()[-4000:]}")
            if self.READY in self.logs()[offset:]:
                return
            time.sleep(0.05)
        raise RuntimeError(f"worker did not start:\n{self.logs()[-4000:]}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then wait (the worker drains); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9: no shutdown code runs, the runs it held keep their (expiring) leases."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""
