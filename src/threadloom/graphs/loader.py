"""Importing graph entries: files or modules, compiled graphs, StateGraphs or factories.

What a `graphs` entry may point at is the LangGraph server's contract (see
`reference/langgraph-api.md` §7.8): a compiled graph, an uncompiled `StateGraph`, or a factory
taking `config` and optionally a `ServerRuntime`, sync or async, returning a graph or a context
manager yielding one. Import failures become a one-line `GraphLoadError` pointing at the user's
file and line, because that is what someone starting `threadloom dev` needs to see.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

from threadloom.graphs.errors import GraphLoadError
from threadloom.graphs.project import GraphSpec

SYNTHETIC_PACKAGE = "threadloom_user_graphs"
"""Parent name for graph files that are not importable by a real dotted name."""

ParamKind = Literal["config", "runtime"]


@dataclass(frozen=True, slots=True)
class Factory:
    """A user function that builds the graph per call, with how to call it."""

    func: Callable[..., Any]
    params: tuple[ParamKind, ...]
    """What to pass, positionally: each item is "config" or "runtime"."""

    @property
    def wants_runtime(self) -> bool:
        return "runtime" in self.params


@dataclass(frozen=True, slots=True)
class LoadedGraph:
    """Result of importing one entry: exactly one of `graph` (static) or `factory` is set."""

    graph_id: str
    spec: GraphSpec
    graph: Pregel | None
    factory: Factory | None
    module: types.ModuleType
    origin: str
    """Human-readable source, e.g. `examples/agent/graph.py:graph`."""


def load_graph(graph_id: str, spec: GraphSpec, base_dir: Path) -> LoadedGraph:
    """Import one entry and classify it; compile a `StateGraph` once here."""
    module, filename = import_entry_module(graph_id, spec, base_dir)
    origin = f"{display_path(filename) if filename else spec.target}:{spec.attr}"
    obj: Any = module
    for part in spec.attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = sorted(n for n in vars(module) if not n.startswith("_"))
            raise GraphLoadError(
                f"{origin}: no variable {part!r} in {display_path(filename) or spec.target}"
                f" (defines: {', '.join(names[:12]) or 'nothing'})",
                graph_id=graph_id,
                filename=filename,
            ) from None
    if isinstance(obj, StateGraph):
        try:
            obj = obj.compile()
        except Exception as exc:
            raise user_code_error(
                exc, graph_id, filename, prefix="compiling the StateGraph"
            ) from None
    if isinstance(obj, Pregel):
        return LoadedGraph(graph_id, spec, obj, None, module, origin)
    if callable(obj):
        return LoadedGraph(graph_id, spec, None, factory_of(obj, origin), module, origin)
    raise GraphLoadError(
        f"{origin}: expected a compiled graph, a StateGraph or a factory function,"
        f" got {type(obj).__name__}",
        graph_id=graph_id,
        filename=filename,
    )


# --- modules ----------------------------------------------------------------------------------


def import_entry_module(
    graph_id: str | None, spec: GraphSpec, base_dir: Path
) -> tuple[types.ModuleType, str | None]:
    """Import the module an entry names; returns it and its file (for error messages).
    `graph_id` is None for what is not a graph (`http.app`)."""
    if not spec.is_file:
        try:
            module = importlib.import_module(spec.target)
        except ModuleNotFoundError as exc:
            if exc.name and spec.target.startswith(exc.name):
                raise GraphLoadError(
                    f"{spec.path}: module {spec.target!r} not found"
                    " (is its folder listed in `dependencies`?)",
                    graph_id=graph_id,
                ) from None
            raise user_code_error(exc, graph_id, None) from None
        except Exception as exc:
            raise user_code_error(exc, graph_id, None) from None
        return module, getattr(module, "__file__", None)

    path = spec.file_path(base_dir)
    if not path.is_file():
        raise GraphLoadError(
            f"{spec.path}: file not found: {display_path(str(path))}", graph_id=graph_id
        )
    try:
        return load_file_module(path), str(path)
    except GraphLoadError:
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise user_code_error(exc, graph_id, str(path)) from None


def load_file_module(path: Path) -> types.ModuleType:
    """Import a graph file exactly once per process, under a name that is stable across processes.

    If the file sits in a package whose root is on sys.path (e.g. `dependencies: ["."]`), it is
    imported by its real dotted name, so relative imports work and nothing is imported twice.
    Otherwise it gets a synthetic name derived from its path. Its folder is appended to sys.path
    so sibling imports (`from utils import x`) work as they do under `langgraph dev`.
    """
    path = path.resolve()
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.append(folder)

    real = _dotted_name(path)
    if real is not None:
        existing = sys.modules.get(real)
        if existing is not None and _same_file(existing, path):
            return existing
        if existing is None:
            module = importlib.import_module(real)
            if _same_file(module, path):
                return module

    name = synthetic_module_name(path)
    if (existing := sys.modules.get(name)) is not None:
        return existing
    if SYNTHETIC_PACKAGE not in sys.modules:
        pkg = types.ModuleType(SYNTHETIC_PACKAGE)
        pkg.__path__ = []
        sys.modules[SYNTHETIC_PACKAGE] = pkg
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise GraphLoadError(f"{display_path(str(path))}: not an importable Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pydantic look their module up while executing it
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def synthetic_module_name(path: Path) -> str:
    """`threadloom_user_graphs.<sanitised path>`: same file, same name, in every worker."""
    stem = re.sub(r"\W", "_", path.resolve().with_suffix("").as_posix().strip("/"))
    return f"{SYNTHETIC_PACKAGE}.{stem}"


def _dotted_name(path: Path) -> str | None:
    """The module's real name if it is in a package whose root is on sys.path, else None.

    Loose files (no `__init__.py` beside them) never get a top-level name: `graph.py` or
    `agent.py` would too easily collide with another module of that name.
    """
    folder = path.parent
    if not (folder / "__init__.py").is_file():
        return None
    parts = [path.stem] if path.stem != "__init__" else []
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    roots = set()
    for entry in sys.path:
        try:
            roots.add(Path(entry or ".").resolve())
        except OSError:
            continue
    return ".".join(parts) if folder.resolve() in roots else None


def _same_file(module: types.ModuleType, path: Path) -> bool:
    file = getattr(module, "__file__", None)
    try:
        return file is not None and Path(file).resolve() == path
    except OSError:
        return False


# --- factories ----------------------------------------------------------------------------------


def factory_of(func: Callable[..., Any], origin: str = "") -> Factory:
    """Work out once how to call a factory: which parameters are the config and the runtime.

    A parameter is the runtime if it is named `runtime` or annotated `ServerRuntime`/`Runtime`;
    the config if named `config` or annotated `RunnableConfig`; otherwise by position (config
    first, runtime second), as the LangGraph server does.
    """
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return Factory(func, ("config",))
    positional = [
        p
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if not positional and any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values()):
        return Factory(func, ("config",))
    if len(positional) > 2:
        raise GraphLoadError(
            f"{origin}: a graph factory takes (config) or (config, runtime);"
            f" {getattr(func, '__name__', 'it')} requires {len(positional)} arguments"
        )
    kinds: list[ParamKind] = []
    for index, param in enumerate(positional):
        annotation = str(param.annotation) if param.annotation is not param.empty else ""
        if param.name == "runtime" or "Runtime" in annotation:
            kinds.append("runtime")
        elif param.name == "config" or "RunnableConfig" in annotation:
            kinds.append("config")
        else:
            kinds.append("config" if index == 0 else "runtime")
    return Factory(func, tuple(kinds))


# --- error messages -----------------------------------------------------------------------------


def user_code_error(
    exc: BaseException,
    graph_id: str | None,
    filename: str | None,
    *,
    prefix: str | None = None,
) -> GraphLoadError:
    """`path/file.py:12: NameError: name 'x' is not defined` for the most relevant frame.

    The most relevant frame is the deepest one in the user's own code (not the standard library,
    site-packages or importlib), which for a broken graph file is the offending line.
    """
    where_file, where_line = _locate(exc, filename)
    what = f"{type(exc).__name__}: {_exc_message(exc)}"
    if prefix:
        what = f"{prefix}: {what}"
    where = display_path(where_file) if where_file else (display_path(filename) or "<graph>")
    if where_line:
        where = f"{where}:{where_line}"
    detail = f"{where}: {what}"
    if graph_id:
        detail += f" (while loading graph {graph_id!r})"
    return GraphLoadError(detail, graph_id=graph_id, filename=where_file, lineno=where_line)


def _exc_message(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return exc.msg or str(exc)
    return str(exc) or repr(exc)


def _locate(exc: BaseException, filename: str | None) -> tuple[str | None, int | None]:
    if isinstance(exc, SyntaxError) and exc.filename and not exc.filename.startswith("<"):
        return exc.filename, exc.lineno
    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if _is_user_file(f.filename)]
    if filename is not None:
        target = _resolve(filename)
        in_file = [f for f in frames if _resolve(f.filename) == target]
        if user:
            return user[-1].filename, user[-1].lineno
        if in_file:
            return in_file[-1].filename, in_file[-1].lineno
    elif user:
        return user[-1].filename, user[-1].lineno
    return filename, None


_NON_USER_MARKERS = ("site-packages", "dist-packages", "<frozen", "importlib")


def _is_user_file(name: str) -> bool:
    if name.startswith("<") or any(m in name for m in _NON_USER_MARKERS):
        return False
    stdlib = Path(inspect.getfile(inspect)).parent
    try:
        resolved = Path(name).resolve()
    except OSError:
        return False
    if resolved.is_relative_to(stdlib) or resolved.is_relative_to(Path(__file__).parent):
        return False
    return True


def _resolve(name: str) -> Path | None:
    try:
        return Path(name).resolve()
    except OSError:
        return None


def display_path(filename: str | None) -> str:
    """Paths relative to the cwd when under it, so messages stay short and clickable."""
    if not filename:
        return ""
    try:
        return str(Path(filename).resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return filename
