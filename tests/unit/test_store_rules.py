"""The Store API's rules without a server: embedding specs from langgraph.json, the TTL and
index options every backend gets, and the checks a request passes before anything is written."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from threadloom.errors import InvalidInput, Unprocessable
from threadloom.graphs.errors import ProjectError
from threadloom.graphs.project import parse_project
from threadloom.graphs.store_config import resolve_embeddings, store_options
from threadloom.services import store as service


def _project(store: dict[str, Any], base_dir: Path | None = None) -> Any:
    return parse_project({"graphs": {}, "store": store}, base_dir=base_dir, warn=False)


def test_builtin_offline_model_by_name() -> None:
    emb = resolve_embeddings("threadloom:wordllama-64", Path.cwd())
    assert len(emb.embed_query("I live in Lisbon")) == 64


def test_embed_from_a_project_file_and_a_module(tmp_path: Path) -> None:
    (tmp_path / "emb.py").write_text(
        "def embed(texts):\n    return [[float(len(t)), 1.0] for t in texts]\n"
    )
    emb = resolve_embeddings("./emb.py:embed", tmp_path)
    assert emb.embed_documents(["abc"]) == [[3.0, 1.0]]
    mod = resolve_embeddings("threadloom.graphs.offline_embeddings:WordLlamaEmbeddings", tmp_path)
    assert mod is not None  # a class is callable: LangGraph wraps it as a function


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nocolon", "expected"),
        ("./missing.py:fn", "file not found"),
        ("threadloom:nope", "unknown built-in model"),
        ("threadloom.graphs.store_config:missing", "no such name"),
        ("openai:text-embedding-3-small", "needs `langchain`"),
    ],
)
def test_bad_embed_specs_are_one_line_project_errors(
    spec: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ProjectError, match=message):
        resolve_embeddings(spec, tmp_path)


def test_store_options_always_hide_expired_items() -> None:
    index, ttl = store_options(
        _project(
            {
                "index": {"dims": 64, "embed": "threadloom:wordllama-64", "fields": ["text"]},
                "ttl": {"default_ttl": 5, "refresh_on_read": False},
            }
        )
    )
    assert index is not None and index["dims"] == 64
    assert index["fields"] == index["text_fields"] == ["text"]
    assert ttl == {"refresh_on_read": False, "omit_expired": True, "default_ttl": 5}
    assert store_options(None) == (None, {"refresh_on_read": True, "omit_expired": True})


def _ctx(index: bool = False) -> Any:
    calls: list[Any] = []

    class Store:
        index_config = {"dims": 1} if index else None

        async def aput(self, *args: Any, **kwargs: Any) -> None:
            calls.append(("put", args, kwargs))

        async def asearch(self, *args: Any, **kwargs: Any) -> list[Any]:
            calls.append(("search", args, kwargs))
            return []

    ctx = SimpleNamespace(storage=SimpleNamespace(store=Store()), project=None, extras={})
    return ctx, calls


async def test_query_without_an_index_is_refused() -> None:
    ctx, calls = _ctx(index=False)
    with pytest.raises(InvalidInput, match=r"store\.index"):
        await service.search_items(ctx, ["a"], query="where")
    assert calls == []
    ctx, calls = _ctx(index=True)
    assert await service.search_items(ctx, ["a"], query="where") == []
    assert calls[0][2]["query"] == "where"


async def test_authorize_may_rewrite_the_namespace_and_add_a_filter() -> None:
    ctx, calls = _ctx()

    async def scope(action: str, value: dict[str, Any]) -> dict[str, Any] | None:
        value["namespace"] = ("user-1", *value["namespace"])
        return {"owner": "user-1"} if action == "search" else None

    ctx.extras["store_authorize"] = scope
    await service.put_item(ctx, ["notes"], "k", {"v": 1})
    await service.search_items(ctx, ["notes"], filter={"kind": "x"})
    assert calls[0][1][0] == ("user-1", "notes")
    assert calls[1][1][0] == ("user-1", "notes")
    assert calls[1][2]["filter"] == {"kind": "x", "owner": "user-1"}


async def test_a_rewritten_namespace_is_checked_again() -> None:
    ctx, calls = _ctx()

    async def bad(action: str, value: dict[str, Any]) -> None:
        value["namespace"] = ("has.dot",)

    ctx.extras["store_authorize"] = bad
    with pytest.raises(Unprocessable):
        await service.put_item(ctx, ["ok"], "k", {"v": 1})
    assert calls == []
