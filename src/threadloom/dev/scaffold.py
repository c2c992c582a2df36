"""`threadloom new PATH`: a small project that runs offline — the example agent (a scripted chat
model, two tools and an approval step), its `langgraph.json`, a `.env` and a README.

The agent's files are the repository's `examples/agent/`; the wheel carries a copy of them
inside the package (`threadloom/dev/template/agent`, see pyproject.toml), so both an installed
Threadloom and a checkout write the same project."""

from __future__ import annotations

import json
from pathlib import Path

import threadloom

TEMPLATE_FILES = ("__init__.py", "graph.py", "model.py", "tools.py")

LANGGRAPH_JSON = {
    "$schema": "https://langgra.ph/schema.json",
    "dependencies": ["."],
    "graphs": {
        "agent": {
            "path": "./agent/graph.py:graph",
            "description": "Offline tool-calling agent with a human approval step",
        }
    },
    "env": ".env",
}

ENV = """\
# Variables for the graphs (langgraph.json "env"). Never commit real keys.
# The agent's model is offline by default; for a real one, e.g.:
#   AGENT_MODEL=openai:gpt-4o-mini   (and OPENAI_API_KEY, with langchain-openai installed)
SCRIPTED_MODEL_TOKEN_DELAY=0.02
"""

GITIGNORE = """\
.threadloom/
.env
__pycache__/
"""

README = """\
# {name}

A LangGraph project made by `threadloom new`. It runs offline: the agent's chat model is
scripted (`agent/model.py`), it has a calculator and a weather tool, and it asks for approval
before it "sends an email".

```bash
threadloom dev --reload      # http://127.0.0.1:2025 (API docs at /docs)
```

Talk to it with the official SDK (`pip install langgraph-sdk`):

```python
import asyncio

from langgraph_sdk import get_client


async def main() -> None:
    client = get_client(url="http://127.0.0.1:2025")
    thread = await client.threads.create()
    result = await client.runs.wait(
        thread["thread_id"], "agent",
        input={{"messages": [{{"role": "user", "content": "What is 12 * 7?"}}]}},
    )
    print(result["messages"][-1]["content"])


asyncio.run(main())
```

Edit `agent/graph.py`; with `--reload` the server picks the change up on save (and keeps the
last good version running while an edit is broken).
"""


class ScaffoldError(Exception):
    """The project cannot be written there; the message says why."""


def template_dir() -> Path:
    """The agent's files: inside the installed package, else the checkout's examples/."""
    package = Path(threadloom.__file__).resolve().parent
    for candidate in (
        package / "dev" / "template" / "agent",
        package.parents[1] / "examples" / "agent",
    ):
        if all((candidate / name).is_file() for name in TEMPLATE_FILES):
            return candidate
    raise ScaffoldError("the project template is missing from this installation of threadloom")


def write_project(path: Path, *, force: bool = False) -> list[Path]:
    """Write the project into `path` (created if needed); returns the files written."""
    if path.exists() and not path.is_dir():
        raise ScaffoldError(f"{path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise ScaffoldError(f"{path} is not empty; pick a new folder or pass --force")
    source = template_dir()
    files: dict[Path, str] = {
        Path("langgraph.json"): json.dumps(LANGGRAPH_JSON, indent=2) + "\n",
        Path(".env"): ENV,
        Path(".gitignore"): GITIGNORE,
        Path("README.md"): README.format(name=path.resolve().name),
    }
    for name in TEMPLATE_FILES:
        files[Path("agent") / name] = (source / name).read_text(encoding="utf-8")
    written: list[Path] = []
    try:
        for relative, text in files.items():
            target = path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
    except OSError as exc:
        raise ScaffoldError(f"cannot write {path}: {exc.strerror or exc}") from None
    return written
