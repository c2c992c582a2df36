"""End-to-end fixtures: a real server process and the official langgraph-sdk client.

Every test that uses `server` (or `client`/`http`) or `fresh_server` runs once per deployment
shape: `sqlite` (`threadloom dev`, embedded) and `postgres` (`threadloom serve` with in-process
workers on PostgreSQL + Redis, in a schema and key prefix of the session's own). Pick shapes with
THREADLOOM_E2E_SHAPES=sqlite,postgres; the postgres shape skips when the services are away.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.support.cluster import ClusterBackends
from tests.support.server import TEST_PROJECT, ServerProcess

AUTH_PROJECT = TEST_PROJECT.with_name("langgraph_auth.json")
SHAPES = [s.strip() for s in os.environ.get("THREADLOOM_E2E_SHAPES", "sqlite,postgres").split(",")]


@pytest.fixture(scope="session", params=[s for s in SHAPES if s])
def shape(request: pytest.FixtureRequest) -> str:
    """The deployment shape the e2e tests run against."""
    return str(request.param)


def _make_server(
    shape: str, db: Path, *, fast_leases: bool, config: Path = TEST_PROJECT
) -> tuple[ServerProcess, ClusterBackends | None]:
    if shape == "sqlite":
        return ServerProcess(config, db), None
    if shape != "postgres":
        raise ValueError(f"unknown THREADLOOM_E2E_SHAPES entry {shape!r}")
    backends = ClusterBackends.create()
    env = backends.env(fast_leases=fast_leases)
    return ServerProcess(config, db, command="serve", env=env), backends


class _Servers:
    """The session's servers, one per shape, started on first use and kept until the end (so
    tests alternating between shapes never restart a server)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.procs: dict[str, ServerProcess] = {}
        self.backends: list[ClusterBackends] = []

    def get(self, shape: str, config: Path = TEST_PROJECT) -> ServerProcess:
        key = shape if config == TEST_PROJECT else f"{shape}:{config.name}"
        proc = self.procs.get(key)
        if proc is None:
            db = self.tmp_path_factory.mktemp(f"e2e-{shape}") / "threadloom.db"
            proc, backends = _make_server(shape, db, fast_leases=False, config=config)
            if backends is not None:
                self.backends.append(backends)
            self.procs[key] = proc
            proc.start()
        return proc

    def close(self) -> None:
        for proc in self.procs.values():
            proc.stop()
        for backends in self.backends:
            backends.cleanup()


@pytest.fixture(scope="session")
def _servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Servers]:
    servers = _Servers(tmp_path_factory)
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="session")
def server(shape: str, _servers: _Servers) -> ServerProcess:
    return _servers.get(shape)


@pytest.fixture(scope="session")
def auth_server(shape: str, _servers: _Servers) -> ServerProcess:
    """A server whose project has custom auth (tests/e2e/project/langgraph_auth.json)."""
    return _servers.get(shape, AUTH_PROJECT)


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[LangGraphClient]:
    lg = get_client(url=server.url, api_key=None)
    yield lg
    await lg.http.client.aclose()


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture
def fresh_server(shape: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of the test's own, for restarts and crashes (short leases on postgres, so a
    killed server's runs are taken over in seconds)."""
    proc, backends = _make_server(shape, tmp_path / "threadloom.db", fast_leases=True)
    try:
        yield proc
    finally:
        proc.stop()
        if backends is not None:
            backends.cleanup()
