"""`threadloom dev` takes the flags `langgraph dev` users type, and each does what it says.

Each test starts real servers (embedded shape: these are `dev` flags) and reads their console
the way a person or a log pipeline would: stdout/stderr of the process, not a terminal."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.dev import MESSAGES_GRAPH, dev, write_project
from tests.support.server import free_port

# an async node that makes a blocking call: `langgraph dev` raises on it unless --allow-blocking
BLOCKING_GRAPH = """\
import time

from langgraph.graph import START, MessagesState, StateGraph


async def reply(state):
    time.sleep(0.001)
    if state["messages"][-1].content == "fail":
        raise ValueError("the node refused")
    return {"messages": [{"role": "ai", "content": "REPLY"}]}


graph = StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply").compile()
"""


def _project(tmp_path: Path, graph: str = MESSAGES_GRAPH, **config: Any) -> Path:
    write_project(
        tmp_path, {"graphs": {"agent": "./agent.py:graph"}, **config}, {"agent.py": graph}
    )
    return tmp_path


async def _runs(url: str, *contents: str) -> list[Any]:
    client = get_client(url=url)
    thread = await client.threads.create()
    results = []
    for content in contents:
        results.append(
            await client.runs.wait(
                thread["thread_id"],
                "agent",
                input={"messages": [{"role": "user", "content": content}]},
                raise_error=False,
            )
        )
    return results


def _json_lines(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def test_langgraph_dev_flags_are_accepted_and_honoured(tmp_path: Path) -> None:
    folder = _project(tmp_path, BLOCKING_GRAPH)
    debug_port = free_port()
    flags = [
        "--host", "127.0.0.1",
        "--config", "langgraph.json",
        "--no-reload",
        "--no-browser",
        "--n-jobs-per-worker", "3",
        "--allow-blocking",
        "--studio-url", "https://studio.example.test",
        "--debug-port", str(debug_port),
        "--log-format", "json",
        "--access-log",
    ]  # fmt: skip
    with dev(folder, *flags) as server:
        server.wait_ready()
        with socket.create_connection(("127.0.0.1", debug_port), timeout=5):
            pass  # debugpy listens in the server process
        ok, failed = asyncio.run(_runs(server.url, "hi", "fail"))
        server.wait_for_log('"status":"error"')
        records = _json_lines(server.logs())
    assert ok["messages"][-1]["content"] == "REPLY"  # the blocking call did not fail the run
    assert "__error__" in failed
    banner = next(r for r in records if "server" in r)["server"]
    assert banner["api"] == server.url
    assert banner["studio"] == f"https://studio.example.test/studio/?baseUrl={server.url}"
    assert banner["workers"] == "3 runs at once"
    assert banner["graphs"] == ["agent"]
    runs = [r["run"] for r in records if "run" in r]
    assert [r["status"] for r in runs] == ["success", "error"]
    assert runs[0]["assistant"] == "agent" and runs[0]["duration_ms"] >= 0
    assert runs[1]["error"] == "ValueError: the node refused"
    assert any(r["logger"] == "uvicorn.access" and "/runs/wait" in r["message"] for r in records)


def test_defaults_studio_url_plain_console_and_quiet_access_log(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    with dev(folder, "--config", "langgraph.json") as server:
        server.wait_ready()
        asyncio.run(_runs(server.url, "hi"))
        server.wait_for_log("threadloom.runs")
        assert server.proc is not None
        server.proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert server.wait_exit() == 0
        logs = server.logs()
    assert "Aborted!" not in logs and "Traceback" not in logs
    # the Studio link, as `langgraph dev` prints it
    assert f"https://smith.langchain.com/studio/?baseUrl={server.url}" in logs
    # the banner's values line up after its longest key (which keys it has varies)
    assert re.search(r"^  API: +http://", logs, re.M) and re.search(
        r"^  Graphs: +agent$", logs, re.M
    )
    assert re.search(r"^  Storage: +SQLite", logs, re.M)
    line = next(x for x in logs.splitlines() if "threadloom.runs" in x)
    assert " run …" in line and "  agent  success  " in line
    assert "\x1b[" not in logs  # not a terminal: no colour codes
    assert "/runs/wait" not in logs  # request logs are off in dev unless asked for


def test_browser_opens_studio_and_server_log_level_quiets_the_server(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "fake-browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
    env = {"BROWSER": str(browser)}
    with dev(folder, "--browser", "--server-log-level", "warning", env=env) as server:
        server.wait_ready()
        server.wait_for(opened.exists, 30, "the browser to be opened")
        asyncio.run(_runs(server.url, "hi"))
        logs = server.logs()
    assert opened.read_text().strip() == f"https://smith.langchain.com/studio/?baseUrl={server.url}"
    assert "threadloom.runs" not in logs and "uvicorn" not in logs  # server loggers at warning


def test_wait_for_client_holds_the_server_until_a_debugger_attaches(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    debug_port = free_port()
    with dev(folder, "--debug-port", str(debug_port), "--wait-for-client") as server:
        server.wait_for_log("waiting for a debugger client")
        with socket.create_connection(("127.0.0.1", debug_port), timeout=5):
            pass
        assert not server._ok()
        assert server.proc is not None and server.proc.poll() is None


def test_wait_for_client_needs_debug_port(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    with dev(folder, "--wait-for-client") as server:
        code = server.wait_exit()
    assert code == 1
    assert "--wait-for-client needs --debug-port" in server.logs()


def test_tunnel_without_cloudflared_explains_and_stops(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {"PATH": str(empty)}
    with dev(folder, "--tunnel", env=env, program=[sys.executable, "-m", "threadloom.cli"]) as cmd:
        code = cmd.wait_exit()
    logs = cmd.logs()
    assert code == 1
    assert "--tunnel needs the `cloudflared` program on PATH, and internet access" in logs
    assert "Traceback" not in logs


def test_tunnel_through_cloudflared_links_studio_to_the_public_url(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    args_file = tmp_path / "cloudflared-args.txt"
    fake = bin_dir / "cloudflared"  # prints what cloudflared prints, then stays up
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {args_file}\n'
        'echo "INF |  https://quiet-fox-1234.trycloudflare.com  |" >&2\n'
        "exec sleep 600\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    with dev(folder, "--tunnel", env=env) as server:
        server.wait_ready()
        logs = server.logs()
    assert re.search(r"^  Tunnel: +https://quiet-fox-1234\.trycloudflare\.com$", logs, re.M)
    assert "studio/?baseUrl=https://quiet-fox-1234.trycloudflare.com" in logs
    assert f"--url {server.url}" in args_file.read_text()


def test_env_file_that_cannot_be_parsed_is_one_line_with_the_line_number(tmp_path: Path) -> None:
    folder = _project(tmp_path, env=".env")
    (folder / ".env").write_text("GOOD=1\nOPENAI_API_KEY sk-not-for-logs\n")
    done = subprocess.run(
        [sys.executable, "-m", "threadloom.cli", "dev", "--port", str(free_port())],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"{folder / '.env'}:2: cannot parse this line of the env file" in done.stderr
    assert "sk-not-for-logs" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_ssl_pair_serves_https(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with dev(folder, "--ssl-keyfile", str(key), "--ssl-certfile", str(cert)) as server:
        url = server.url.replace("http://", "https://")
        server.wait_for(lambda: _https_ok(url, cert), 90, "https /ok")
        answer = httpx.post(
            f"{url}/runs/wait",
            json={
                "assistant_id": "agent",
                "input": {"messages": [{"role": "user", "content": "x"}]},
            },
            verify=str(cert),
            timeout=30,
        )
        logs = server.logs()
    assert answer.status_code == 200 and answer.json()["messages"][-1]["content"] == "REPLY"
    assert re.search(rf"^  API: +{re.escape(url)}$", logs, re.M)
    assert f"studio/?baseUrl={url}" in logs


def _https_ok(url: str, cert: Path) -> bool:
    try:
        return httpx.get(f"{url}/ok", verify=str(cert), timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_ssl_needs_both_files(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    (folder / "key.pem").write_text("not used")
    with dev(folder, "--ssl-keyfile", "key.pem") as cmd:
        code = cmd.wait_exit()
    assert code == 1
    assert "--ssl-certfile and --ssl-keyfile go together" in cmd.logs()
