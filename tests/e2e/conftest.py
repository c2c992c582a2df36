"""End-to-end fixtures: a real server process and the official langgraph-sdk client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.support.server import TEST_PROJECT, ServerProcess


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp("e2e") / "threadloom.db"
    proc = ServerProcess(TEST_PROJECT, db)
    proc.start()
    yield proc
    proc.stop()


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
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of the test's own, for restarts and crashes."""
    proc = ServerProcess(TEST_PROJECT, tmp_path / "threadloom.db")
    yield proc
    proc.stop()
