"""`threadloom new PATH` writes a project a first-time user can run at once: `threadloom dev` in
it serves the offline agent, streams, pauses for approval and resumes — and the console says so,
one line per run."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from langgraph_sdk import get_client

from tests.support.dev import dev


def _new(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "threadloom.cli", "new", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_new_then_dev_runs_the_agent(tmp_path: Path) -> None:
    project = tmp_path / "my-agent"
    made = _new(str(project))
    assert made.returncode == 0, made.stderr
    assert (project / "langgraph.json").is_file() and (project / "agent" / "graph.py").is_file()
    assert "threadloom dev" in made.stdout

    with dev(project) as server:
        server.wait_ready()

        async def talk() -> tuple[list[str], str]:
            client = get_client(url=server.url)
            thread = await client.threads.create()
            events = [
                part.event
                async for part in client.runs.stream(
                    thread["thread_id"],
                    "agent",
                    input={"messages": [{"role": "user", "content": "What is 12 * 7?"}]},
                    stream_mode="messages-tuple",
                )
            ]
            await client.runs.wait(
                thread["thread_id"],
                "agent",
                input={
                    "messages": [{"role": "user", "content": "Send an email to ann@example.com"}]
                },
            )
            state = await client.threads.get_state(thread["thread_id"])
            assert state["tasks"] and state["tasks"][0]["interrupts"]
            done = await client.runs.wait(
                thread["thread_id"], "agent", command={"resume": {"approved": True}}
            )
            assert isinstance(done, dict)
            return events, done["messages"][-1]["content"]

        events, last = asyncio.run(talk())
        server.wait_for_log("  interrupt  ")
        server.wait_for(lambda: server.logs().count("  agent  success") >= 2, 30, "two run lines")
        logs = server.logs()
    assert "messages" in events
    assert "ann@example.com" in last
    run_lines = [line for line in logs.splitlines() if "threadloom.runs" in line]
    assert len(run_lines) == 3
    assert "ttft " in run_lines[0] and " tok" in run_lines[0]  # streamed: time to first token
    assert "waiting for input" in run_lines[1]
    assert "Traceback" not in logs and "not found" not in logs  # the scaffold ships its .env


def test_new_refuses_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    refused = _new(str(tmp_path))
    assert refused.returncode == 1
    assert "is not empty" in refused.stderr and "--force" in refused.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "langgraph.json").exists()
