"""System endpoints and the OpenAPI document."""

from __future__ import annotations

import httpx


async def test_ok_info_docs(http: httpx.AsyncClient) -> None:
    assert (await http.get("/ok")).json() == {"ok": True}
    checked = await http.get("/ok", params={"check_db": 1})
    assert checked.json()["ok"] is True
    info = (await http.get("/info")).json()
    assert info["flags"]["assistants"] is True
    assert info["version"] and info["langgraph_py_version"]
    docs = await http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_openapi_describes_every_route(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    paths = spec["paths"]
    expected = {
        "/assistants": {"post"},
        "/assistants/{assistant_id}": {"get", "patch", "delete"},
        "/threads/search": {"post"},
        "/threads/{thread_id}/state": {"get", "post"},
        "/threads/{thread_id}/history": {"get", "post"},
        "/threads/{thread_id}/runs/{run_id}/cancel": {"post"},
        "/threads/{thread_id}/stream": {"get"},
        "/runs/batch": {"post"},
        "/runs/cancel": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    for path, operations in paths.items():
        for method, op in operations.items():
            assert op.get("summary"), f"{method} {path} has no summary"
            assert op.get("responses"), f"{method} {path} documents no response"
    run_create = paths["/threads/{thread_id}/runs"]["post"]
    schema_ref = run_create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    run_schema = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    assert {"assistant_id", "input", "command", "stream_mode", "multitask_strategy"} <= set(
        run_schema["properties"]
    )
    stream = paths["/threads/{thread_id}/runs/stream"]["post"]["responses"]["200"]["content"]
    assert "text/event-stream" in stream


async def test_unknown_route_and_method(http: httpx.AsyncClient) -> None:
    r = await http.get("/nowhere")
    assert r.status_code == 404 and r.json()["detail"]
    r = await http.put("/assistants/search", json={})
    assert r.status_code == 405 and r.json()["detail"]
