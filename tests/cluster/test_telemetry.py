"""Metrics and traces across processes: an API process (`serve --workers 0`) creates the runs, a
`threadloom worker` executes them. Each process exposes its own `/metrics` (the worker on
`--metrics-port`); traces go over real OTLP/HTTP to a receiver in this test, and a run's span,
made in the worker, is a child of the request span the API process made."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.cluster import ClusterBackends, WorkerProcess
from tests.support.prometheus import parse, value
from tests.support.server import TEST_PROJECT, ServerProcess, free_port

HI = {"messages": [{"role": "user", "content": "hi"}]}


@dataclass
class Span:
    name: str
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    role: str
    attributes: dict[str, Any]


class Receiver:
    """An OTLP/HTTP trace receiver: decodes every export into `spans`."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.add(request)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {}
                    for a in span.attributes:
                        v = a.value
                        attributes[a.key] = v.string_value or v.int_value
                    with self.lock:
                        self.spans.append(
                            Span(
                                span.name,
                                span.trace_id,
                                span.span_id,
                                span.parent_span_id,
                                resource.get("threadloom.role", ""),
                                attributes,
                            )
                        )

    def named(self, name: str) -> list[Span]:
        with self.lock:
            return [s for s in self.spans if s.name == name]

    def close(self) -> None:
        self.server.shutdown()


@dataclass
class Deployment:
    api: ServerProcess
    worker: WorkerProcess
    worker_metrics: str
    receiver: Receiver


def _otel(receiver: Receiver, role: str) -> dict[str, str]:
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{receiver.port}/v1/traces",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_SERVICE_NAME": f"threadloom-{role}",
        "OTEL_RESOURCE_ATTRIBUTES": f"threadloom.role={role}",
    }


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    backends = ClusterBackends.create()
    tmp: Path = tmp_path_factory.mktemp("telemetry")
    receiver = Receiver()
    api = ServerProcess(
        TEST_PROJECT,
        tmp / "api.db",
        command="serve",
        env={**backends.env(workers=0), **_otel(receiver, "api")},
    )
    port = free_port()
    worker = WorkerProcess(
        TEST_PROJECT,
        tmp / "worker.log",
        {
            **backends.env(fast_leases=True),
            **_otel(receiver, "worker"),
            "THREADLOOM_WORKERS": "4",
            "THREADLOOM_METRICS_PORT": str(port),
        },
    )
    try:
        api.start(timeout=60)
        worker.start()
        yield Deployment(api, worker, f"http://127.0.0.1:{port}", receiver)
    finally:
        worker.stop()
        api.stop()
        receiver.close()
        backends.cleanup()


async def test_each_process_exposes_its_own_metrics(deployment: Deployment) -> None:
    client = get_client(url=deployment.api.url, api_key=None)
    async with httpx.AsyncClient(timeout=30) as http:
        api_before = parse((await http.get(f"{deployment.api.url}/metrics")).text)
        worker_before = parse((await http.get(f"{deployment.worker_metrics}/metrics")).text)
        for _ in range(2):
            await client.runs.wait(None, "echo", input=HI)
        api_after = parse((await http.get(f"{deployment.api.url}/metrics")).text)
        worker_after = parse((await http.get(f"{deployment.worker_metrics}/metrics")).text)
        worker_json = (await http.get(f"{deployment.worker_metrics}/metrics?format=json")).json()
        worker_ok = await http.get(f"{deployment.worker_metrics}/ok", params={"check_db": 1})
        missing = await http.get(f"{deployment.worker_metrics}/threads")
    await client.http.client.aclose()

    def moved(before: Any, after: Any, name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    created = "threadloom_runs_created_total"
    ended = "threadloom_runs_ended_total"
    # the API process created them; the worker ran them
    assert moved(api_before, api_after, created, graph_id="echo") == 2
    assert moved(api_before, api_after, ended, graph_id="echo", status="success") == 0
    assert moved(worker_before, worker_after, ended, graph_id="echo", status="success") == 2
    assert moved(worker_before, worker_after, created, graph_id="echo") == 0
    # slots: the worker's; the API process executes nothing and has none; the queue is the API's
    assert value(worker_after, "lg_api_workers_max") == 4
    assert ("lg_api_workers_max", frozenset()) not in api_after
    assert ("lg_api_num_pending_runs", frozenset()) in api_after
    assert worker_json == {"workers": {"max": 4, "active": 0, "available": 4}}
    assert worker_ok.status_code == 200
    assert worker_ok.json() == {"ok": True, "services": {"postgres": "healthy", "redis": "healthy"}}
    assert missing.status_code == 404 and missing.json()["detail"]


async def test_a_runs_span_is_a_child_of_the_request_across_processes(
    deployment: Deployment,
) -> None:
    client = get_client(url=deployment.api.url, api_key=None)
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "echo", input=HI)
    await client.http.client.aclose()
    receiver = deployment.receiver
    route = "POST /threads/{thread_id}/runs/wait"
    runs: list[Span] = []
    for _ in range(200):
        requests = [s for s in receiver.named(route) if s.role == "api"]
        runs = [
            s
            for s in receiver.named("run echo")
            if s.attributes.get("threadloom.thread_id") == thread["thread_id"]
        ]
        if requests and runs and receiver.named("node reply"):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"spans did not arrive: {[s.name for s in receiver.spans]}")
    (run,) = runs
    (request,) = [s for s in requests if s.trace_id == run.trace_id]
    assert run.role == "worker"
    assert run.parent_span_id == request.span_id
    assert request.attributes["http.route"] == "/threads/{thread_id}/runs/wait"
    assert request.attributes["http.response.status_code"] == 200
    assert run.attributes["threadloom.status"] == "success"
    assert run.attributes["threadloom.graph_id"] == "echo"
    nodes = [s for s in receiver.named("node reply") if s.trace_id == run.trace_id]
    assert [n.parent_span_id for n in nodes] == [run.span_id]
    assert nodes[0].role == "worker"
