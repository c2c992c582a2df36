"""The project's graphs by id, ready to run with the server's checkpointer and store.

`build()` sits on the hot path of every run, state read and schema request, so static graphs are
prepared once per (checkpointer, store) pair and handed out again at the cost of a dict lookup.
Factories are called per use, as the LangGraph server does, with the access context that tells
them why (see `langgraph_sdk.runtime.ServerRuntime`).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Literal
from uuid import UUID, uuid5

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from threadloom.errors import NotFound
from threadloom.graphs.errors import GraphLoadError
from threadloom.graphs.loader import Factory, LoadedGraph, load_graph
from threadloom.graphs.project import ProjectConfig

logger = logging.getLogger("threadloom")

AccessContext = Literal["threads.create_run", "threads.update", "threads.read", "assistants.read"]

SYSTEM_ASSISTANT_NAMESPACE = UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
DEFAULT_GRAPH_NAME = "LangGraph"


def system_assistant_id(graph_id: str) -> str:
    """The id of the assistant the server creates for each graph (same as LangGraph's)."""
    return str(uuid5(SYSTEM_ASSISTANT_NAMESPACE, graph_id))


def make_runtime(
    access_context: AccessContext | str,
    *,
    store: BaseStore | None,
    user: Any = None,
    context: Any = None,
) -> Any:
    """The `runtime` a two-parameter factory receives: a `langgraph_sdk.runtime.ServerRuntime`.

    Only `threads.create_run` gets the execution variant (with `context`), as in the SDK's docs.
    """
    try:
        from langgraph_sdk.runtime import _ExecutionRuntime, _ReadRuntime
    except ImportError:  # older SDK: a plain object with the same attributes
        from types import SimpleNamespace

        return SimpleNamespace(
            access_context=access_context, store=store, user=user, context=context
        )
    if access_context == "threads.create_run":
        return _ExecutionRuntime(
            access_context=access_context,
            user=user,
            store=store,  # type: ignore[arg-type]
            context=context,
        )
    return _ReadRuntime(access_context=access_context, user=user, store=store)  # type: ignore[arg-type]


class _Ready:
    """An already-built graph behind the `async with` protocol; costs nothing to enter."""

    __slots__ = ("graph",)

    def __init__(self, graph: Pregel) -> None:
        self.graph = graph

    async def __aenter__(self) -> Pregel:
        return self.graph

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class _FactoryBuild:
    """Calls a factory on enter; closes the context manager it returned (if any) on exit."""

    def __init__(
        self,
        registry: GraphRegistry,
        entry: LoadedGraph,
        factory: Factory,
        args: list[Any],
        checkpointer: BaseCheckpointSaver | None,
        store: BaseStore | None,
    ) -> None:
        self._registry = registry
        self._entry = entry
        self._factory = factory
        self._args = args
        self._checkpointer = checkpointer
        self._store = store
        self._async_cm: Any = None
        self._sync_cm: Any = None

    async def __aenter__(self) -> Pregel:
        entry = self._entry
        try:
            result = self._factory.func(*self._args)
            if inspect.isawaitable(result):
                result = await result
            if not isinstance(result, Pregel | StateGraph):
                if hasattr(result, "__aenter__") and hasattr(result, "__aexit__"):
                    self._async_cm = result
                    result = await result.__aenter__()
                elif hasattr(result, "__enter__") and hasattr(result, "__exit__"):
                    self._sync_cm = result
                    result = result.__enter__()
            if isinstance(result, StateGraph):
                result = result.compile()
        except GraphLoadError:
            raise
        except Exception as exc:
            await self._close(type(exc), exc, exc.__traceback__)
            raise GraphLoadError(
                f"{entry.origin}: graph factory failed: {type(exc).__name__}: {exc}",
                graph_id=entry.graph_id,
            ) from exc
        if not isinstance(result, Pregel):
            await self._close(None, None, None)
            raise GraphLoadError(
                f"{entry.origin}: graph factory returned {type(result).__name__},"
                " expected a compiled graph",
                graph_id=entry.graph_id,
            )
        return self._registry._attach(entry.graph_id, result, self._checkpointer, self._store)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close(exc_type, exc, tb)

    async def _close(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._async_cm is not None:
            cm, self._async_cm = self._async_cm, None
            await cm.__aexit__(exc_type, exc, tb)
        elif self._sync_cm is not None:
            cm, self._sync_cm = self._sync_cm, None
            cm.__exit__(exc_type, exc, tb)


class GraphRegistry:
    """Graph ids → loaded entries; hands out graphs wired to the server's persistence."""

    def __init__(self, source: ProjectConfig | Iterable[LoadedGraph]) -> None:
        """From a project (imports every graph now; call `project.activate()` first) or from
        already-loaded entries."""
        if isinstance(source, ProjectConfig):
            source = [
                load_graph(graph_id, spec, source.base_dir)
                for graph_id, spec in source.graphs.items()
            ]
        self._graphs: dict[str, LoadedGraph] = {g.graph_id: g for g in source}
        self._by_assistant_id = {system_assistant_id(gid): gid for gid in self._graphs}
        # graph_id -> (checkpointer, store, attached graph); one slot: the server has one pair
        self._attached: dict[str, tuple[Any, Any, Pregel]] = {}
        self._warned: set[tuple[str, str]] = set()
        self._factory_names: dict[str, str] = {}

    @classmethod
    def from_project(cls, project: ProjectConfig, *, activate: bool = True) -> GraphRegistry:
        """Import every graph now, so a broken graph stops startup with a clear message.

        `activate` first loads the project's env and puts its dependencies on sys.path.
        """
        if activate:
            project.activate()
        return cls(project)

    # --- lookup ------------------------------------------------------------------------------

    @property
    def graph_ids(self) -> list[str]:
        return list(self._graphs)

    def has(self, graph_id: str) -> bool:
        return graph_id in self._graphs

    def __contains__(self, graph_id: object) -> bool:
        return graph_id in self._graphs

    def __len__(self) -> int:
        return len(self._graphs)

    def entry(self, graph_id: str) -> LoadedGraph:
        try:
            return self._graphs[graph_id]
        except KeyError:
            raise NotFound(f"Graph '{graph_id}' not found") from None

    def description(self, graph_id: str) -> str | None:
        return self.entry(graph_id).spec.description

    def is_factory(self, graph_id: str) -> bool:
        return self.entry(graph_id).factory is not None

    def system_assistant_id(self, graph_id: str) -> str:
        return system_assistant_id(graph_id)

    def graph_id_for_system_assistant(self, assistant_id: str | UUID) -> str | None:
        """Reverse of `system_assistant_id` for this project's graphs."""
        return self._by_assistant_id.get(str(assistant_id))

    def display_name(self, graph_id: str) -> str:
        """Name for the graph's system assistant: the graph's own `.name` unless it is the
        default "LangGraph", else the graph id. Factories are not called here (this is sync);
        their name is the one `adisplay_name` last found, else the graph id."""
        entry = self.entry(graph_id)
        graph = entry.graph
        if graph is None:
            return self._factory_names.get(graph_id, graph_id)
        return _name_or(graph, graph_id)

    async def adisplay_name(self, graph_id: str) -> str:
        """Like `display_name`, but asks factories (with `assistants.read`); a factory that
        fails here only costs its name, with a log line."""
        entry = self.entry(graph_id)
        if entry.graph is not None:
            return _name_or(entry.graph, graph_id)
        try:
            async with self.build(
                graph_id, {}, checkpointer=None, store=None, access_context="assistants.read"
            ) as built:
                name = _name_or(built, graph_id)
        except Exception as exc:
            logger.warning("graph %r: factory failed while reading its name: %s", graph_id, exc)
            return graph_id
        self._factory_names[graph_id] = name
        return name

    # --- building ----------------------------------------------------------------------------

    def build(
        self,
        graph_id: str,
        config: RunnableConfig | Mapping[str, Any] | None = None,
        *,
        checkpointer: BaseCheckpointSaver | None,
        store: BaseStore | None,
        access_context: AccessContext | str = "threads.create_run",
        user: Any = None,
        context: Any = None,
    ) -> _Ready | _FactoryBuild:
        """`async with registry.build(...) as graph:` — the graph with the server's persistence.

        `checkpointer`/`store` of None leave the graph's own. `config` is passed to factories
        (static graphs ignore it: run config is given at invocation). `user` defaults to
        `config["configurable"]["langgraph_auth_user"]`; `context` is the run context.
        """
        entry = self.entry(graph_id)
        if entry.graph is not None:
            cached = self._attached.get(graph_id)
            if cached is not None and cached[0] is checkpointer and cached[1] is store:
                return _Ready(cached[2])
            graph = self._attach(graph_id, entry.graph, checkpointer, store)
            self._attached[graph_id] = (checkpointer, store, graph)
            return _Ready(graph)

        factory = entry.factory
        assert factory is not None
        run_config: dict[str, Any] = dict(config or {})
        args: list[Any] = []
        for kind in factory.params:
            if kind == "config":
                args.append(run_config)
            else:
                if user is None:
                    user = (run_config.get("configurable") or {}).get("langgraph_auth_user")
                args.append(make_runtime(access_context, store=store, user=user, context=context))
        return _FactoryBuild(self, entry, factory, args, checkpointer, store)

    def _attach(
        self,
        graph_id: str,
        graph: Pregel,
        checkpointer: BaseCheckpointSaver | None,
        store: BaseStore | None,
    ) -> Pregel:
        """A copy of `graph` using the server's checkpointer and store (the original is shared)."""
        update: dict[str, Any] = {}
        if checkpointer is not None and graph.checkpointer is not checkpointer:
            if isinstance(graph.checkpointer, BaseCheckpointSaver):
                self._warn_once(
                    graph_id,
                    "checkpointer",
                    f"graph {graph_id!r} was compiled with its own checkpointer"
                    f" ({type(graph.checkpointer).__name__}); the server's is used instead",
                )
            update["checkpointer"] = checkpointer
        if store is not None and graph.store is not store:
            if graph.store is not None:
                self._warn_once(
                    graph_id,
                    "store",
                    f"graph {graph_id!r} was compiled with its own store"
                    f" ({type(graph.store).__name__}); the server's is used instead",
                )
            update["store"] = store
        if not update:
            return graph
        attached = graph.copy(update=update)
        # Pregel.copy() re-runs __init__, which resets the serde allowlist compile() computed
        if (allowlist := getattr(graph, "_serde_allowlist", None)) is not None:
            attached._serde_allowlist = allowlist
        return attached

    def _warn_once(self, graph_id: str, what: str, message: str) -> None:
        if (graph_id, what) not in self._warned:
            self._warned.add((graph_id, what))
            logger.warning(message)


def _name_or(graph: Any, graph_id: str) -> str:
    name = getattr(graph, "name", None)
    return name if isinstance(name, str) and name and name != DEFAULT_GRAPH_NAME else graph_id
