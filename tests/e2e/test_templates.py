"""The three public LangGraph templates' `langgraph.json` files load unchanged under
`threadloom dev` — react-agent, memory-agent and new-langgraph-project — each in a copy of its
layout: a `src/` package imported by its own name, `dependencies: ["."]`, `env: ".env"` with
only a `.env.example` shipped, and (memory-agent) a provider embedding in `store.index`.

The graph files are small stand-ins written here (no model calls, no network); the config files
are the templates' own, key for key."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client

from tests.support.dev import dev, write_project

PYPROJECT = '[project]\nname = "{name}"\nversion = "0.0.1"\ndependencies = ["langgraph>=1.0.0"]\n'

# the package's graph imports its siblings by the package's name, as the templates' graphs do
REACT_GRAPH = """\
from langgraph.graph import START, StateGraph

from {pkg}.state import State
from {pkg}.tools import answer

graph = StateGraph(State).add_node("call_model", answer).add_edge(START, "call_model").compile()
graph.name = "{title}"
"""
STATE = """\
from langgraph.graph import MessagesState


class State(MessagesState):
    pass
"""
TOOLS = """\
def answer(state):
    return {{"messages": [{{"role": "ai", "content": "{reply}"}}]}}
"""

TEMPLATES: dict[str, dict[str, Any]] = {
    "react-agent": {
        "config": {
            "$schema": "https://langgra.ph/schema.json",
            "dependencies": ["."],
            "graphs": {"agent": "./src/react_agent/graph.py:graph"},
            "env": ".env",
        },
        "package": "react_agent",
    },
    "new-langgraph-project": {
        "config": {
            "$schema": "https://langgra.ph/schema.json",
            "dependencies": ["."],
            "graphs": {"agent": "./src/agent/graph.py:graph"},
            "env": ".env",
            "image_distro": "wolfi",
        },
        "package": "agent",
    },
    "memory-agent": {
        "config": {
            "dockerfile_lines": [],
            "graphs": {"agent": "./src/memory_agent/graph.py:graph"},
            "env": ".env",
            "python_version": "3.11",
            "dependencies": ["."],
            "store": {"index": {"dims": 1536, "embed": "openai:text-embedding-3-small"}},
        },
        "package": "memory_agent",
    },
}

# memory-agent's embedding is "openai:...", which a user's environment resolves through the
# installed `langchain` + `langchain-openai`; this stand-in for those packages answers offline
FAKE_LANGCHAIN = {
    "langchain/__init__.py": "",
    "langchain/embeddings.py": """\
from langchain_core.embeddings import Embeddings


class FakeProviderEmbeddings(Embeddings):
    def __init__(self, model):
        self.model = model

    def embed_documents(self, texts):
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text):
        return [float(len(text) % 7)] * 1536


def init_embeddings(spec, **kwargs):
    provider, _, model = spec.partition(":")
    assert provider == "openai", spec
    return FakeProviderEmbeddings(model)
""",
}


def _layout(folder: Path, name: str) -> Path:
    template = TEMPLATES[name]
    pkg = template["package"]
    reply = f"hello from {name}"
    files = {
        "pyproject.toml": PYPROJECT.format(name=name),
        ".env.example": "OPENAI_API_KEY=...\n",  # shipped; .env itself is not
        f"src/{pkg}/__init__.py": "",
        f"src/{pkg}/graph.py": REACT_GRAPH.format(pkg=pkg, title=name),
        f"src/{pkg}/state.py": STATE,
        f"src/{pkg}/tools.py": TOOLS.format(reply=reply),
    }
    return write_project(folder, template["config"], files)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_public_template_layout_runs_unchanged(tmp_path: Path, name: str) -> None:
    project = tmp_path / name
    _layout(project, name)
    env: dict[str, str] = {}
    if name == "memory-agent":
        fake = tmp_path / "site"
        write_project(fake, {}, FAKE_LANGCHAIN)
        env["PYTHONPATH"] = str(fake)
    with dev(project, env=env) as server:  # run from the project folder, as users do
        server.wait_ready()

        async def run() -> dict[str, Any]:
            client = get_client(url=server.url)
            assistants = await client.assistants.search(graph_id="agent")
            assert len(assistants) == 1
            thread = await client.threads.create()
            result = await client.runs.wait(
                thread["thread_id"],
                "agent",
                input={"messages": [{"role": "user", "content": "hi"}]},
            )
            assert isinstance(result, dict)
            return result

        result = asyncio.run(run())
        logs = server.logs()
    assert result["messages"][-1]["content"] == f"hello from {name}"
    # the missing .env is a warning, as under `langgraph dev`, not a stop
    assert "env file" in logs and "not found" in logs
    assert "Traceback" not in logs
