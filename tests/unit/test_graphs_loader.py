"""Importing graph entries: every supported shape, and one-line errors that point at the code."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.pregel import Pregel

from threadloom.graphs import GraphLoadError, GraphSpec
from threadloom.graphs.loader import LoadedGraph, factory_of, load_graph

GRAPH_SRC = """
from typing import TypedDict
from langgraph.graph import StateGraph, START

class State(TypedDict):
    n: int

def inc(state: State) -> dict:
    return {"n": state["n"] + 1}

builder = StateGraph(State)
builder.add_node("inc", inc)
builder.add_edge(START, "inc")
"""


@pytest.fixture(autouse=True)
def _isolate_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Loaded graph files land in sys.modules and sys.path; undo that after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if str(tmp_path) in (getattr(sys.modules[name], "__file__", None) or ""):
            del sys.modules[name]  # only the test's own files: library modules must stay


def write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def load(folder: Path, ref: str, graph_id: str = "g") -> LoadedGraph:
    return load_graph(graph_id, GraphSpec(path=ref), folder)


def test_compiled_graph(tmp_path: Path) -> None:
    write(tmp_path, "g.py", GRAPH_SRC + "graph = builder.compile()\n")
    loaded = load(tmp_path, "./g.py:graph")
    assert isinstance(loaded.graph, Pregel) and loaded.factory is None
    assert loaded.graph.invoke({"n": 1}) == {"n": 2}
    assert loaded.origin.endswith("g.py:graph")


def test_state_graph_is_compiled(tmp_path: Path) -> None:
    write(tmp_path, "g.py", GRAPH_SRC)
    loaded = load(tmp_path, "./g.py:builder")
    assert isinstance(loaded.graph, Pregel)
    assert loaded.graph.invoke({"n": 5}) == {"n": 6}


def test_same_file_is_imported_once(tmp_path: Path) -> None:
    write(tmp_path, "g.py", GRAPH_SRC + "graph = builder.compile()\n")
    first = load(tmp_path, "./g.py:graph", "a")
    second = load(tmp_path, "./g.py:builder", "b")
    assert first.module is second.module


def test_module_path_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "my_pkg/__init__.py", "")
    write(tmp_path, "my_pkg/agent.py", GRAPH_SRC + "graph = builder.compile()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = load(tmp_path, "my_pkg.agent:graph")
    assert loaded.module.__name__ == "my_pkg.agent"
    assert isinstance(loaded.graph, Pregel)


def test_file_in_package_uses_real_name_so_relative_imports_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "pkg_rel/__init__.py", "")
    write(tmp_path, "pkg_rel/helpers.py", "VALUE = 41\n")
    write(
        tmp_path,
        "pkg_rel/graph.py",
        GRAPH_SRC + "from .helpers import VALUE\ngraph = builder.compile()\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = load(tmp_path, "./pkg_rel/graph.py:graph")
    assert loaded.module.__name__ == "pkg_rel.graph"


def test_sibling_imports_work_for_a_loose_file(tmp_path: Path) -> None:
    folder = tmp_path / "loose"
    write(folder, "util_sibling_xyz.py", "N = 1\n")
    write(folder, "g.py", GRAPH_SRC + "import util_sibling_xyz\ngraph = builder.compile()\n")
    loaded = load(tmp_path, "./loose/g.py:graph")
    assert loaded.module.__name__.startswith("threadloom_user_graphs.")
    assert isinstance(loaded.graph, Pregel)


def test_dotted_attribute(tmp_path: Path) -> None:
    write(tmp_path, "g.py", GRAPH_SRC + "class Holder:\n    graph = builder.compile()\n")
    assert isinstance(load(tmp_path, "./g.py:Holder.graph").graph, Pregel)


@pytest.mark.parametrize(
    ("src", "params"),
    [
        ("def make(config): return builder.compile()", ("config",)),
        ("async def make(config): return builder.compile()", ("config",)),
        ("def make(config, runtime): return builder", ("config", "runtime")),
        ("def make(runtime): return builder", ("runtime",)),
        ("def make(): return builder", ()),
        (
            "from langchain_core.runnables import RunnableConfig\n"
            "def make(cfg: RunnableConfig): return builder",
            ("config",),
        ),
    ],
)
def test_factories_are_recognised(tmp_path: Path, src: str, params: tuple[str, ...]) -> None:
    write(tmp_path, "g.py", GRAPH_SRC + src + "\n")
    loaded = load(tmp_path, "./g.py:make")
    assert loaded.graph is None and loaded.factory is not None
    assert loaded.factory.params == params


def test_factory_with_too_many_parameters() -> None:
    def make(a: object, b: object, c: object) -> None: ...

    with pytest.raises(GraphLoadError, match="takes"):
        factory_of(make, "x.py:make")


def test_broken_file_error_names_file_line_and_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "examples/agent.py", "import os\n\n\nvalue = x + 1\n")
    with pytest.raises(GraphLoadError) as info:
        load(tmp_path, "./examples/agent.py:graph", "agent")
    detail = info.value.detail
    assert detail.startswith("examples/agent.py:4: NameError: name 'x' is not defined"), detail
    assert "Traceback" not in detail and "\n" not in detail
    assert info.value.lineno == 4 and info.value.graph_id == "agent"


def test_error_in_imported_helper_points_at_helper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "proj/helper_broken_abc.py", "def f():\n    return 1 / 0\n\nf()\n")
    write(tmp_path, "proj/g.py", "import helper_broken_abc\n")
    with pytest.raises(GraphLoadError) as info:
        load(tmp_path, "./proj/g.py:graph")
    assert info.value.detail.startswith("proj/helper_broken_abc.py:2: ZeroDivisionError:")


def test_syntax_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "bad.py", "x = 1\ndef (:\n")
    with pytest.raises(GraphLoadError, match=r"^bad\.py:2: SyntaxError: "):
        load(tmp_path, "./bad.py:graph")


def test_missing_file_and_attribute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GraphLoadError, match=r"file not found: nope\.py"):
        load(tmp_path, "./nope.py:graph")
    write(tmp_path, "g.py", GRAPH_SRC)
    with pytest.raises(GraphLoadError, match=r"no variable 'graph' in g\.py .*builder"):
        load(tmp_path, "./g.py:graph")


def test_missing_module(tmp_path: Path) -> None:
    with pytest.raises(GraphLoadError, match="module 'no_such_mod_qq' not found"):
        load(tmp_path, "no_such_mod_qq:graph")


def test_wrong_object_type(tmp_path: Path) -> None:
    write(tmp_path, "g.py", "graph = 42\n")
    with pytest.raises(GraphLoadError, match="got int"):
        load(tmp_path, "./g.py:graph")
