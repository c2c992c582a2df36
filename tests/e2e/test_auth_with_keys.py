"""Custom auth beside static API keys, and `auth.disable_studio_auth`: servers of their own (the
auth project, tests/e2e/project/langgraph_auth*.json), both shapes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import ClusterBackends
from tests.support.server import ROOT, ServerProcess

PROJECT = ROOT / "tests" / "e2e" / "project"
KEYS = {"THREADLOOM_API_KEYS": '["k-one"]'}
ALICE = {"Authorization": "Bearer token-a"}


def _server(shape: str, config: Path, db: Path, env: dict[str, str]) -> Iterator[ServerProcess]:
    backends = ClusterBackends.create() if shape == "postgres" else None
    if backends is None:
        proc = ServerProcess(config, db, env=env)
    else:
        proc = ServerProcess(config, db, command="serve", env={**backends.env(), **env})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
        if backends is not None:
            backends.cleanup()


@pytest.fixture(scope="module")
def keyed_auth_server(
    shape: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp(f"auth-keys-{shape}") / "threadloom.db"
    yield from _server(shape, PROJECT / "langgraph_auth.json", db, KEYS)


@pytest.fixture(scope="module")
def no_studio_server(
    shape: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp(f"auth-no-studio-{shape}") / "threadloom.db"
    yield from _server(shape, PROJECT / "langgraph_auth_no_studio.json", db, {})


async def test_api_keys_and_custom_auth_both_hold(keyed_auth_server: ServerProcess) -> None:
    """The key is checked first, then the handler decides who the caller is."""
    async with httpx.AsyncClient(base_url=keyed_auth_server.url, timeout=30) as http:
        no_key = await http.post("/threads/search", json={}, headers=ALICE)
        assert (no_key.status_code, no_key.json()) == (
            401,
            {"detail": "Missing or invalid API key"},
        )
        no_user = await http.post("/threads/search", json={}, headers={"x-api-key": "k-one"})
        assert (no_user.status_code, no_user.json()) == (401, {"detail": "no token"})
        both = {"x-api-key": "k-one", **ALICE}
        made = await http.post("/threads", json={"metadata": {"k": 1}}, headers=both)
        assert made.status_code == 200, made.text
        assert made.json()["metadata"]["owner"] == "alice"
        bob = {"x-api-key": "k-one", "Authorization": "Bearer token-b"}
        seen = await http.post("/threads/search", json={}, headers=bob)
        assert seen.status_code == 200 and made.json()["thread_id"] not in seen.text
        run = await http.post(
            "/runs/wait", json={"assistant_id": "echo", "input": {}}, headers=ALICE
        )
        assert run.status_code == 401  # the hot path checks the key too
        assert (await http.get("/ok")).status_code == 200


async def test_disable_studio_auth_keeps_studio_out(no_studio_server: ServerProcess) -> None:
    """With `auth.disable_studio_auth`, `x-auth-scheme: langsmith` earns nothing: the handler
    decides, and without a token that is a 401 — in `dev` too."""
    async with httpx.AsyncClient(base_url=no_studio_server.url, timeout=30) as http:
        studio = {"x-auth-scheme": "langsmith"}
        response = await http.post("/threads/search", json={}, headers=studio)
        assert (response.status_code, response.json()) == (401, {"detail": "no token"})
        assert (await http.post("/threads/search", json={}, headers=ALICE)).status_code == 200
