"""The metrics registry and the OpenTelemetry pieces, in-process (an in-memory span exporter)."""

from __future__ import annotations

import sqlite3
from typing import Any, TypedDict

import psycopg
import pytest
import redis.exceptions
from langgraph.graph import START, StateGraph
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from threadloom.errors import Unavailable
from threadloom.telemetry import tracing
from threadloom.telemetry.metrics import Metrics, backend_of
from threadloom.telemetry.node_spans import NodeSpans


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_reference_http_families_are_derived_from_ours() -> None:
    metrics = Metrics(process_collectors=False)
    for seconds in (0.004, 0.02, 0.3, 2.0):
        metrics.observe_http("POST", "/runs/wait", 200, seconds)
    metrics.observe_http("POST", "/runs/wait", 422, 0.001)
    metrics.observe_http("GET", "/ok", 200, 0.001)  # not counted, as the reference
    metrics.observe_http("GET", "unmatched", 404, 0.001)  # no route: unbounded paths
    got = samples(metrics)
    wait = (("method", "POST"), ("path", "/runs/wait"))
    assert got[("lg_api_http_requests_total", (*wait, ("status", "200")))] == 4
    assert got[("lg_api_http_requests_total", (*wait, ("status", "422")))] == 1
    bucket = "lg_api_http_requests_latency_bucket"
    # milliseconds, the reference's bounds, both statuses together, cumulative
    assert got[(bucket, (("le", "10"), *wait))] == 2
    assert got[(bucket, (("le", "100"), *wait))] == 3
    assert got[(bucket, (("le", "500"), *wait))] == 4
    assert got[(bucket, (("le", "5000"), *wait))] == 5
    assert got[(bucket, (("le", "+Inf"), *wait))] == 5
    assert got[("lg_api_http_requests_latency_count", wait)] == 5
    assert got[("lg_api_http_requests_latency_sum", wait)] == pytest.approx(2325)
    assert (bucket, (("le", "2.5"), *wait)) not in got  # only the reference's bounds
    assert not any(dict(labels).get("path") in ("/ok", "unmatched") for _, labels in got)
    ours = "threadloom_http_request_duration_seconds_count"
    assert got[(ours, (("method", "POST"), ("route", "/runs/wait"), ("status", "200")))] == 4


def test_slots_and_queue_gauges_only_when_known() -> None:
    metrics = Metrics(process_collectors=False)
    names = {name for name, _ in samples(metrics)}
    assert "lg_api_workers_max" not in names and "lg_api_num_pending_runs" not in names
    metrics.runtime.slots = lambda: (8, 3)
    metrics.runtime.queue = {
        "n_pending": 5,
        "n_running": 3,
        "pending_runs_wait_time_max_secs": None,
    }
    got = samples(metrics)
    assert got[("lg_api_workers_max", ())] == 8
    assert got[("lg_api_workers_active", ())] == 3
    assert got[("lg_api_workers_available", ())] == 5
    assert got[("lg_api_num_pending_runs", ())] == 5
    assert ("lg_api_pending_runs_wait_time_max", ()) not in got  # no run is waiting


def test_backend_of_outage_exceptions() -> None:
    assert backend_of(psycopg.OperationalError("down")) == "postgres"
    assert backend_of(redis.exceptions.ConnectionError("down")) == "redis"
    assert backend_of(sqlite3.OperationalError("database is locked")) == "sqlite"
    try:
        try:
            raise redis.exceptions.TimeoutError("slow")
        except redis.exceptions.TimeoutError as exc:
            raise Unavailable("Redis is unreachable") from exc
    except Unavailable as wrapped:
        assert backend_of(wrapped) == "redis"
    metrics = Metrics(process_collectors=False)
    metrics.backend_error(psycopg.OperationalError("down"))
    got = samples(metrics)
    assert got[("threadloom_backend_errors_total", (("backend", "postgres"),))] == 1
    assert got[("threadloom_backend_errors_total", (("backend", "redis"),))] == 0


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, []),
    ],
)
def test_tracing_is_on_only_when_otel_variables_ask(
    env: dict[str, str], expected: list[str]
) -> None:
    assert tracing.requested_exporters(env) == expected


def test_unknown_exporter_is_a_clear_error() -> None:
    with pytest.raises(tracing.TracingUnavailable, match="zipkin"):
        tracing._exporter("zipkin", {})
    with pytest.raises(tracing.TracingUnavailable, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        tracing._exporter("otlp", {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})


class Inner(TypedDict):
    n: int


class Outer(TypedDict):
    n: int


def _double(state: Inner) -> dict[str, Any]:
    return {"n": state["n"] * 2}


def _plus(state: Outer) -> dict[str, Any]:
    return {"n": state["n"] + 1}


async def test_a_span_per_node_nested_under_the_run_and_its_subgraph() -> None:
    inner = StateGraph(Inner).add_node("double", _double).add_edge(START, "double").compile()
    graph = (
        StateGraph(Outer)
        .add_node("plus", _plus)
        .add_node("sub", inner)
        .add_edge(START, "plus")
        .add_edge("plus", "sub")
        .compile()
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    run_span = tracer.start_span("run")
    nodes = NodeSpans(tracer, run_span)
    assert await graph.ainvoke({"n": 1}, {"callbacks": [nodes]}) == {"n": 4}
    run_span.end()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"run", "node plus", "node sub", "node double"}
    run_id = spans["run"].context.span_id
    assert spans["node plus"].parent.span_id == run_id
    assert spans["node sub"].parent.span_id == run_id
    assert spans["node double"].parent.span_id == spans["node sub"].context.span_id
    assert spans["node plus"].attributes["langgraph.node"] == "plus"
    assert {s.context.trace_id for s in spans.values()} == {spans["run"].context.trace_id}
    assert not nodes.spans  # every node span ended


def test_run_carrier_round_trips_the_request_context() -> None:
    provider = TracerProvider()
    tracing.install(provider)
    try:
        assert tracing.run_carrier() == {}  # no span: nothing to carry
        with tracing.TRACER.start_as_current_span("POST /runs/wait") as span:
            carrier = tracing.run_carrier()
        assert set(carrier) == {tracing.TRACEPARENT_KEY}
        parent = tracing.run_parent(carrier)
        from opentelemetry import trace

        context = trace.get_current_span(parent).get_span_context()
        assert context.span_id == span.get_span_context().span_id
        assert context.trace_id == span.get_span_context().trace_id
        assert tracing.run_parent({}) is None
    finally:
        tracing.uninstall()


class _Down:
    service = "redis"

    async def ping(self) -> None:
        raise Unavailable("Redis unavailable: connection refused")


class _Up:
    service = None

    async def ping(self) -> None:
        return None


async def test_probe_names_the_service_that_did_not_answer() -> None:
    from threadloom.telemetry.health import probe_services

    assert await probe_services(_Up(), _Up(), cluster=False) == {"sqlite": "healthy"}
    assert await probe_services(_Up(), _Down(), cluster=True) == {
        "postgres": "healthy",
        "redis": "unhealthy",
    }
