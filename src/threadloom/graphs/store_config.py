"""langgraph.json's `store` section as the backends' LangGraph stores take it.

`store.index.embed` names the embedding function, resolved once at start-up:

- `"threadloom:wordllama"` — the offline model Threadloom ships support for (see
  `graphs/offline_embeddings.py`; `pip install 'threadloom[memory]'`), no key, no download;
- `"./file.py:name"` — a function or `Embeddings` object in a project file (relative to
  langgraph.json);
- `"package.module:name"` — the same from an importable module;
- `"provider:model"` (`"openai:text-embedding-3-small"`) — LangChain's `init_embeddings`, when
  `langchain` and that provider's package are installed.

`name` is an `Embeddings` object or a sync or async function from a list of texts to their
vectors (as LangGraph's `ensure_embeddings` takes it).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import ensure_embeddings

from threadloom.graphs.errors import ProjectError
from threadloom.graphs.loader import load_file_module

if TYPE_CHECKING:
    from threadloom.graphs.project import ProjectConfig

BUILTIN_PREFIX = "threadloom:"


def resolve_embeddings(spec: str, base_dir: Path) -> Embeddings:
    """`store.index.embed` → an `Embeddings`; a one-line `ProjectError` when it cannot be."""
    where = f"store.index.embed {spec!r}"
    if spec.startswith(BUILTIN_PREFIX):
        from threadloom.graphs.offline_embeddings import builtin_embeddings

        return builtin_embeddings(spec[len(BUILTIN_PREFIX) :], where)
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise ProjectError(f"{where}: expected 'provider:model', './file.py:name' or 'module:name'")
    if target.endswith(".py") or "/" in target:
        path = Path(target)
        path = path if path.is_absolute() else (base_dir / path).resolve()
        if not path.is_file():
            raise ProjectError(f"{where}: file not found: {path}")
        return _as_embeddings(getattr(load_file_module(path), attr, None), where)
    try:
        module = importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and target.startswith(exc.name) and "." not in target:
            return _init_provider(spec, where)  # "openai:..." is a provider, not a module
        raise ProjectError(f"{where}: cannot import {target!r}: {exc}") from None
    return _as_embeddings(getattr(module, attr, None), where)


def _as_embeddings(obj: Any, where: str) -> Embeddings:
    if obj is None:
        raise ProjectError(f"{where}: no such name in that module")
    if isinstance(obj, Embeddings):
        return obj
    if callable(obj):
        return ensure_embeddings(obj)
    raise ProjectError(f"{where}: {type(obj).__name__} is neither Embeddings nor a function")


def _init_provider(spec: str, where: str) -> Embeddings:
    try:
        from langchain.embeddings import init_embeddings
    except ImportError:
        raise ProjectError(
            f"{where}: a 'provider:model' embedding needs `langchain` and the provider's package"
            " (pip install langchain langchain-<provider>), or use threadloom:wordllama"
        ) from None
    try:
        return init_embeddings(spec)
    except Exception as exc:
        raise ProjectError(f"{where}: {exc}") from None


def store_options(project: ProjectConfig | None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """`(index, ttl)` for `create_storage`: the index with its `Embeddings` resolved (or None),
    and the TTL rules every backend applies (expired items are never read)."""
    store = project.store if project is not None else None
    index: dict[str, Any] | None = None
    if store is not None and store.index is not None:
        base_dir = project.base_dir if project is not None else Path.cwd()
        embed = resolve_embeddings(store.index.embed, base_dir)
        fields = store.index.fields or ["$"]
        # PostgreSQL's store reads `fields`, SQLite's `text_fields`
        index = {"dims": store.index.dims, "embed": embed, "fields": fields, "text_fields": fields}
    ttl = store.ttl if store is not None else None
    ttl_config: dict[str, Any] = {
        "refresh_on_read": ttl.refresh_on_read if ttl is not None else True,
        "omit_expired": True,
    }
    if ttl is not None and ttl.default_ttl:
        ttl_config["default_ttl"] = ttl.default_ttl
    if ttl is not None and ttl.sweep_interval_minutes:
        ttl_config["sweep_interval_minutes"] = ttl.sweep_interval_minutes
    return index, ttl_config


def sweep_interval_seconds(project: ProjectConfig | None) -> float:
    """How often expired items are deleted: `store.ttl.sweep_interval_minutes`, default 5."""
    ttl = project.store.ttl if project is not None and project.store is not None else None
    minutes = ttl.sweep_interval_minutes if ttl is not None else None
    return float(minutes or 5) * 60.0
