"""Optional OpenTelemetry traces: a span per HTTP request, per run attempt, per graph node.

Off by default. On when the standard variables ask for an exporter — `OTEL_TRACES_EXPORTER`
(`otlp`, `console`; `none` keeps it off), or an `OTEL_EXPORTER_OTLP_ENDPOINT` /
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` alone (meaning `otlp`) — unless `OTEL_SDK_DISABLED=true`.
Everything else is the SDK's own reading of the standard variables: `OTEL_SERVICE_NAME`
(default here `threadloom`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`,
`OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_*` (endpoint, headers, protocol `http/protobuf` or `grpc`).
Asking for traces without the `otel` extra installed fails start-up (never ignored silently).

A run's span is a child of the request that created it, in whichever process executes it: the
creating request's context rides in the run's `config.configurable` as
`__otel_traceparent__` / `__otel_tracestate__` (the reference's keys; clients cannot set them).
When tracing is off, `TRACER` is None and every hook is one `is None` test.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from threadloom.errors import ThreadloomError

TRACEPARENT_KEY = "__otel_traceparent__"
TRACESTATE_KEY = "__otel_tracestate__"

TRACER: Any = None  # an opentelemetry Tracer once `configure` turned tracing on


class TracingUnavailable(ThreadloomError):
    """OTEL_* asks for traces this installation cannot produce (start-up error)."""


def requested_exporters(environ: Mapping[str, str] | None = None) -> list[str]:
    """The exporters the standard variables ask for; [] when tracing stays off."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not names:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return ["otlp"] if endpoint else []
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    return [] if chosen == ["none"] else [n for n in chosen if n != "none"]


def configure(environ: Mapping[str, str] | None = None) -> bool:
    """Turn tracing on if the environment asks for it (once per process); whether it is on."""
    global TRACER
    if TRACER is not None:
        return True
    exporters = requested_exporters(environ)
    if not exporters:
        return False
    env = os.environ if environ is None else environ
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise TracingUnavailable(
            "OTEL_* variables ask for traces, but opentelemetry-sdk is not installed: "
            "pip install 'threadloom[otel]' (or unset OTEL_TRACES_EXPORTER / "
            "OTEL_EXPORTER_OTLP_ENDPOINT)"
        ) from exc
    attributes = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": "threadloom"}
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in exporters:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name, env)))
    install(provider)
    return True


def _exporter(name: str, env: Mapping[str, str]) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise TracingUnavailable(
            f"OTEL_TRACES_EXPORTER={name!r} is not supported: use otlp, console or none"
        )
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        elif protocol == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter,
            )
        else:
            raise TracingUnavailable(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use "
                "http/protobuf or grpc"
            )
    except ImportError as exc:
        package = (
            "opentelemetry-exporter-otlp-proto-grpc"
            if protocol == "grpc"
            else "opentelemetry-exporter-otlp-proto-http"
        )
        raise TracingUnavailable(
            f"the OTLP {protocol} exporter is not installed: pip install {package}"
        ) from exc
    return OTLPSpanExporter()


def install(provider: Any) -> None:
    """Trace through `provider` (an SDK TracerProvider): `configure`, and tests with an
    in-memory exporter."""
    global TRACER
    from opentelemetry import trace

    trace.set_tracer_provider(provider)
    TRACER = provider.get_tracer("threadloom")


def uninstall() -> None:
    """Tracing off again (tests)."""
    global TRACER
    TRACER = None


# --- HTTP ----------------------------------------------------------------------------------
def http_parent(headers: list[tuple[bytes, bytes]]) -> Any:
    """The caller's trace context from `traceparent` / `tracestate` (W3C), if any."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {}
    for key, value in headers:
        if key in (b"traceparent", b"tracestate"):
            carrier[key.decode()] = value.decode("latin-1")
    return TraceContextTextMapPropagator().extract(carrier) if carrier else None


# --- runs ----------------------------------------------------------------------------------
def run_carrier() -> dict[str, str]:
    """The current span's context as the run's configurable keys ({} outside a span)."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    out = {}
    if "traceparent" in carrier:
        out[TRACEPARENT_KEY] = carrier["traceparent"]
        if carrier.get("tracestate"):
            out[TRACESTATE_KEY] = carrier["tracestate"]
    return out


def run_parent(configurable: Mapping[str, Any]) -> Any:
    """The creating request's context, from a run's configurable."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    traceparent = configurable.get(TRACEPARENT_KEY)
    if not isinstance(traceparent, str):
        return None
    carrier = {"traceparent": traceparent}
    tracestate = configurable.get(TRACESTATE_KEY)
    if isinstance(tracestate, str):
        carrier["tracestate"] = tracestate
    return TraceContextTextMapPropagator().extract(carrier)


def attach(span: Any) -> Any:
    """Make `span` the current one (in this task and the tasks it starts); a token for
    `detach`."""
    from opentelemetry import context, trace

    return context.attach(trace.set_span_in_context(span))


def detach(token: Any) -> None:
    from opentelemetry import context

    try:
        context.detach(token)
    except ValueError:  # ended from another context (a cancelled task): nothing to restore
        pass


def node_tracer(run_span: Any) -> Any:
    """A LangChain callback handler that opens a span per graph node under `run_span`."""
    from threadloom.telemetry.node_spans import NodeSpans

    return NodeSpans(TRACER, run_span)
