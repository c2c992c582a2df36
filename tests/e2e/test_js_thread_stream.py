"""The JS SDK's thread stream (`@langchain/langgraph-sdk`, `client.threads.stream(...)`) in
node, over SSE and the WebSocket: token deltas, tool calls, output, an interrupt answered
with `input.respond`. The SDK (and `ws`: node 20 has no global WebSocket) is installed from npm
into a cache directory on first use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.server import ServerProcess

SCRIPT = Path(__file__).parent / "js" / "thread_stream.mjs"
CACHE = Path(os.environ.get("THREADLOOM_JS_CACHE", Path.home() / ".cache" / "threadloom-js"))
PACKAGES = ("@langchain/langgraph-sdk", "ws")


@pytest.fixture(scope="session")
def js_sdk() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the JS SDK test")
    CACHE.mkdir(parents=True, exist_ok=True)
    missing = [p for p in PACKAGES if not (CACHE / "node_modules" / p / "package.json").exists()]
    if missing:
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", *missing],
            cwd=CACHE,
            check=True,
            timeout=300,
        )
    # the script imports the packages by name: it runs from the cache's directory
    target = CACHE / SCRIPT.name
    shutil.copyfile(SCRIPT, target)
    return target


@pytest.mark.parametrize("transport", ["sse", "websocket"])
def test_js_thread_stream(server: ServerProcess, js_sdk: Path, transport: str) -> None:
    done = subprocess.run(
        ["node", str(js_sdk), server.url, transport],
        cwd=js_sdk.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["texts"] == [[], ["The ", "answer ", "is ", "5."]]
    # the SDK yields a tool call's handle as it starts and again as it finishes
    assert set(result["tools"]) == {"calculator:call_2_0"}
    assert _text(result["output"]["messages"][-1]) == "The answer is 5."
    assert result["interrupted"] is True
    (pending,) = result["interrupts"]
    assert pending["payload"]["question"] == "Approve these tool calls?"
    assert "sent" in _text(result["resumed"]["messages"][-1])


def _text(message: dict) -> str:  # type: ignore[type-arg]
    """A message's text, as the JS SDK's output (serialised constructors) or state has it."""
    content = message.get("kwargs", message)["content"]
    return content if isinstance(content, str) else content[0]["text"]
