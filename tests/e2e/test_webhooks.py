"""Webhooks and Letta callbacks against a real local HTTP receiver: delivery, retry after a 500,
HMAC signature, the delivery record on the run, and refused private URLs at creation."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import letta_client
import pytest
from langgraph_sdk import get_sync_client
from letta_client import Letta

from tests.support.server import TEST_PROJECT, ServerProcess

SECRET = "s3cret"


class Receiver:
    """Records every POST; answers with the next scripted status (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.script: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        ({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(
        self, count: int, path_hint: str = "", limit: float = 15
    ) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"receiver got {len(self.requests)} of {count} requests")


@pytest.fixture(scope="module")
def hook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        TEST_PROJECT,
        tmp_path_factory.mktemp("webhooks") / "threadloom.db",
        env={"THREADLOOM_WEBHOOK_SECRET": SECRET, "THREADLOOM_WEBHOOK_MAX_ATTEMPTS": "3"},
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.httpd.shutdown()


def verify(headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["x-threadloom-timestamp"]
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["x-threadloom-signature"], f"sha256={mac.hexdigest()}")


def run_record(server: ServerProcess, thread_id: str, run_id: str, attempts: int) -> dict[str, Any]:
    """The LangGraph run once `attempts` delivery attempts are recorded on it."""
    deadline = time.monotonic() + 15
    while True:
        run = httpx.get(f"{server.url}/threads/{thread_id}/runs/{run_id}").json()
        hook = run.get("webhook") or {}
        if len(hook.get("attempts", [])) >= attempts:
            return run
        assert time.monotonic() < deadline, f"webhook record: {hook}"
        time.sleep(0.05)


def start_run(server: ServerProcess, url: str) -> tuple[str, str]:
    thread = httpx.post(f"{server.url}/threads", json={}).json()
    run = httpx.post(
        f"{server.url}/threads/{thread['thread_id']}/runs",
        json={
            "assistant_id": "echo",
            "input": {"messages": [{"role": "user", "content": "hi"}]},
            "webhook": f"{url}/hook?x=1",
        },
    )
    assert run.status_code == 200, run.text
    return thread["thread_id"], run.json()["run_id"]


def test_langgraph_webhook_delivered_signed_and_recorded(
    hook_server: ServerProcess, receiver: Receiver
) -> None:
    tid, rid = start_run(hook_server, receiver.url)
    headers, body = receiver.wait(1)[0]
    assert verify(headers, body)
    assert verify(headers, body + b" ") is False
    payload = json.loads(body)
    assert payload["run_id"] == rid and payload["thread_id"] == tid
    assert payload["status"] == "success" and payload["run_ended_at"]
    assert payload["values"]["messages"][-1]["content"] == "echo: hi"
    assert headers["x-threadloom-run-id"] == rid
    run = run_record(hook_server, tid, rid, 1)
    hook = run["webhook"]
    assert hook["status_code"] == 200 and hook["error"] is None and hook["delivered"] is True
    assert hook["sent_at"] and len(hook["attempts"]) == 1


def test_retry_after_500(hook_server: ServerProcess, receiver: Receiver) -> None:
    receiver.script = [500]
    tid, rid = start_run(hook_server, receiver.url)
    requests = receiver.wait(2)
    assert all(verify(h, b) for h, b in requests)
    assert json.loads(requests[0][1])["run_id"] == json.loads(requests[1][1])["run_id"] == rid
    hook = run_record(hook_server, tid, rid, 2)["webhook"]
    assert [a["status_code"] for a in hook["attempts"]] == [500, 200]
    assert hook["attempts"][0]["error"] == "HTTP 500" and hook["delivered"] is True
    # the run's status was written before, and independently of, delivery
    assert httpx.get(f"{hook_server.url}/threads/{tid}/runs/{rid}").json()["status"] == "success"


def test_gives_up_after_max_attempts(hook_server: ServerProcess, receiver: Receiver) -> None:
    receiver.script = [503, 503, 503, 503]
    tid, rid = start_run(hook_server, receiver.url)
    hook = run_record(hook_server, tid, rid, 3)["webhook"]
    time.sleep(0.3)
    assert len(receiver.requests) == 3 and hook["delivered"] is False
    assert hook["status_code"] == 503


def test_letta_callback(hook_server: ServerProcess, receiver: Receiver) -> None:
    with Letta(base_url=hook_server.url, api_key="x", max_retries=0) as letta:
        run = letta.agents.messages.create_async(
            agent_id="agent", input="what is 2 + 3", callback_url=f"{receiver.url}/cb"
        )
        assert run.callback_url == f"{receiver.url}/cb"
        headers, body = receiver.wait(1)[0]
        assert verify(headers, body)
        payload = json.loads(body)
        assert payload["run_id"] == run.id and payload["status"] == "completed"
        assert payload["completed_at"]
        result = payload["metadata"]["result"]
        assert result["stop_reason"]["stop_reason"] == "end_turn"
        assert result["messages"][-1]["content"] == "The answer is 5."
        deadline = time.monotonic() + 10
        while (current := letta.runs.retrieve(run.id)).callback_status_code is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert current.callback_status_code == 200 and current.callback_sent_at is not None
        assert current.callback_error is None


def _loopback_names() -> list[str]:
    """This machine's own name when the hosts file maps it to loopback (as on most hosts)."""
    name = socket.gethostname()
    try:
        address = socket.gethostbyname(name)
    except OSError:
        return []
    return [f"http://{name}/hook"] if address.startswith("127.") else []


def test_private_urls_refused_at_creation(tmp_path: Path) -> None:
    proc = ServerProcess(
        TEST_PROJECT,
        tmp_path / "threadloom.db",
        env={"THREADLOOM_ALLOW_PRIVATE_NETWORK": "false"},
    )
    proc.start()
    try:
        thread = httpx.post(f"{proc.url}/threads", json={}).json()
        for url in (
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://10.0.0.1/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/hook",
            "ftp://example.com/hook",
            # spelled the ways the sender's resolver still reads as loopback, and CGNAT
            "http://127.1/hook",
            "http://2130706433/hook",
            "http://0x7f000001/hook",
            "http://0177.0.0.1/hook",
            "http://LOCALHOST./hook",
            "http://100.64.0.1/hook",
            *_loopback_names(),
        ):
            response = httpx.post(
                f"{proc.url}/threads/{thread['thread_id']}/runs",
                json={"assistant_id": "echo", "input": {}, "webhook": url},
            )
            assert response.status_code == 422, url
            assert isinstance(response.json()["detail"], str)
        with Letta(base_url=proc.url, api_key="x", max_retries=0) as letta:
            with pytest.raises(letta_client.UnprocessableEntityError):
                letta.agents.messages.create_async(
                    agent_id="echo", input="hi", callback_url="http://127.0.0.1:9/cb"
                )
        assert httpx.get(f"{proc.url}/v1/runs/").json() == []  # nothing was created
        _private_cron_webhooks_refused(proc.url, thread["thread_id"])
    finally:
        proc.stop()


def _private_cron_webhooks_refused(url: str, thread_id: str) -> None:
    """Crons take the runs' webhook policy, as the reference does: create (stateless and on a
    thread) and PATCH refuse a private URL with 422 and write nothing."""
    client = get_sync_client(url=url, api_key=None)
    kept = client.crons.create("echo", schedule="0 3 * * *", webhook="https://93.184.215.14/ok")
    for hook in ("http://127.0.0.1:9/hook", "http://169.254.169.254/x", "ftp://example.com/h"):
        for create in (
            partial(client.crons.create, "echo", schedule="0 3 * * *", webhook=hook),
            partial(
                client.crons.create_for_thread,
                thread_id,
                "echo",
                schedule="0 3 * * *",
                webhook=hook,
            ),
            partial(client.crons.update, kept["cron_id"], webhook=hook, metadata={"x": 1}),
        ):
            with pytest.raises(httpx.HTTPStatusError) as refused:
                create()
            assert refused.value.response.status_code == 422, hook
            assert isinstance(refused.value.response.json()["detail"], str)
    assert client.crons.count() == 1
    (only,) = client.crons.search()
    assert only["payload"]["webhook"] == "https://93.184.215.14/ok" and only["metadata"] == {}


def test_webhook_values_are_the_whole_state(hook_server: ServerProcess, receiver: Receiver) -> None:
    """/wait answers with the output schema's keys; the webhook, like the reference's, sends
    the state the run left (its last checkpoint), stateful and stateless alike."""
    body = {"assistant_id": "runs_shaped", "input": {"question": "q"}, "webhook": receiver.url}
    thread = httpx.post(f"{hook_server.url}/threads", json={}).json()
    waited = httpx.post(f"{hook_server.url}/threads/{thread['thread_id']}/runs/wait", json=body)
    assert waited.json() == {"answer": "re: q"}
    assert httpx.post(f"{hook_server.url}/runs/wait", json=body).json() == {"answer": "re: q"}
    state = {"question": "q", "answer": "re: q", "scratch": "internal notes"}
    payloads = [json.loads(b) for _h, b in receiver.wait(2)]
    assert [p["values"] for p in payloads] == [state, state]
