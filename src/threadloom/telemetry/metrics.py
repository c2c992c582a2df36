"""The process's Prometheus metrics: every family defined once, here, with bounded labels.

Each process (an API process, a `threadloom worker`) keeps and exposes its own numbers; no
multiprocess mode (docs/metrics.md says why). Labels are only values from a closed set: the
graph id (from langgraph.json), a run status, an HTTP method, a route *template*, a status code,
a backend name — never an id or a raw path.

Hot-path cost: the recorders are plain method calls on `prometheus_client` children cached per
label tuple (one dict lookup, then a lock-guarded add). The reference's `lg_api_http_requests_*`
families are derived at scrape time from Threadloom's own HTTP histogram (its buckets include
the reference's bounds), so a request is observed once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

# the reference's HTTP latency buckets (seconds); ours add finer ones below 10 ms
REFERENCE_HTTP_BOUNDS = (0.01, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
HTTP_BUCKETS = tuple(sorted({0.001, 0.0025, 0.005, 0.025, 0.05, 0.25, 2.5, *REFERENCE_HTTP_BOUNDS}))
RUN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
WAIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60)

UNMATCHED = "unmatched"  # the route of a request no route took (a 404, a 401 before routing)
# not counted in the HTTP families: health checks, scrapes, docs (as the reference), and
# requests no route took (their paths are unbounded)
UNCOUNTED_ROUTES = frozenset({"/", "/ok", "/info", "/metrics", "/docs", "/openapi.json", UNMATCHED})

BACKENDS = ("sqlite", "postgres", "redis")

disable_created_metrics()  # no `*_created` timestamp series (the reference has none either)


class Metrics:
    """One process's metrics. `METRICS` is the process's instance; tests may build their own."""

    def __init__(self, *, process_collectors: bool = True) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        if process_collectors:  # as the reference: python_gc_*, python_info, process_*
            GCCollector(registry=registry)
            PlatformCollector(registry=registry)
            ProcessCollector(registry=registry)
        self.http_duration = Histogram(
            "threadloom_http_request_duration_seconds",
            "HTTP request duration, from receiving the request to the end of the response "
            "(a stream: its whole length), by route template",
            ("method", "route", "status"),
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.runs_created = Counter(
            "threadloom_runs_created",
            "Runs created (inserted pending) by this process",
            ("graph_id",),
            registry=registry,
        )
        self.runs_ended = Counter(
            "threadloom_runs_ended",
            "Run attempts that reached a terminal status in this process",
            ("graph_id", "status"),
            registry=registry,
        )
        self.run_duration = Histogram(
            "threadloom_run_duration_seconds",
            "A run attempt's execution time, from its start on a worker to its terminal write",
            ("graph_id", "status"),
            buckets=RUN_BUCKETS,
            registry=registry,
        )
        self.queue_wait = Histogram(
            "threadloom_run_queue_wait_seconds",
            "Time a run waited in the queue: from when it was due (created, or created + "
            "after_seconds) to its first attempt's start",
            ("graph_id",),
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "threadloom_run_ttft_seconds",
            "Time to first token: from a run attempt's start to the first token an LLM streamed",
            ("graph_id",),
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "threadloom_llm_tokens",
            "LLM tokens of finished run attempts (from the AI messages' usage_metadata)",
            ("graph_id", "direction"),
            registry=registry,
        )
        self.open_streams = Gauge(
            "threadloom_open_streams",
            "Long-lived responses being served now: SSE streams and /wait or /join keep-alives",
            ("kind",),
            registry=registry,
        )
        self.backend_errors = Counter(
            "threadloom_backend_errors",
            "Times a backing service was unreachable or failed (a request answered 503, a run "
            "re-queued, a claim or heartbeat that failed)",
            ("backend",),
            registry=registry,
        )
        for backend in BACKENDS:
            self.backend_errors.labels(backend)
        for kind in ("sse", "keepalive"):
            self.open_streams.labels(kind)
        self._http: dict[tuple[str, str, int], Any] = {}
        self._graph: dict[str, tuple[Any, Any, Any, Any, Any]] = {}
        self._ended: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.runtime = _RuntimeCollector()
        registry.register(self.runtime)
        registry.register(_ReferenceHttpCollector(self.http_duration))

    # --- recorders (the hot path) ---------------------------------------------------------
    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._http.get(key)
        if child is None:
            if route in UNCOUNTED_ROUTES or not status:
                return
            child = self._http[key] = self.http_duration.labels(method, route, str(status))
        child.observe(seconds)

    def graph(self, graph_id: str) -> tuple[Any, Any, Any, Any, Any]:
        """(created, queue wait, ttft, input tokens, output tokens) children of one graph."""
        children = self._graph.get(graph_id)
        if children is None:
            children = self._graph[graph_id] = (
                self.runs_created.labels(graph_id),
                self.queue_wait.labels(graph_id),
                self.ttft.labels(graph_id),
                self.tokens.labels(graph_id, "input"),
                self.tokens.labels(graph_id, "output"),
            )
        return children

    def ended(self, graph_id: str, status: str) -> tuple[Any, Any]:
        """(ended counter, duration histogram) children of one graph and status."""
        key = (graph_id, status)
        children = self._ended.get(key)
        if children is None:
            children = self._ended[key] = (
                self.runs_ended.labels(graph_id, status),
                self.run_duration.labels(graph_id, status),
            )
        return children

    def backend_error(self, exc: BaseException) -> None:
        self.backend_errors.labels(backend_of(exc)).inc()


def backend_of(exc: BaseException) -> str:
    """Which backing service an outage exception came from (its cause chain decides)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            break
        module = type(seen).__module__
        if module.startswith(("psycopg", "psycopg_pool")):
            return "postgres"
        if module.startswith("redis"):
            return "redis"
        if module.startswith("sqlite3"):
            return "sqlite"
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    for name, backend in (("redis", "redis"), ("postgres", "postgres"), ("sqlite", "sqlite")):
        if name in text:
            return backend
    return "other"


class _RuntimeCollector(Collector):
    """Gauges read when scraped: worker slots (the reference's `lg_api_workers_*`) and, in an
    API process, the queue (`lg_api_num_pending_runs`, …), which the `/metrics` route reads
    from storage just before it renders (a scrape is synchronous)."""

    def __init__(self) -> None:
        self.slots: Callable[[], tuple[int, int]] | None = None  # (max, active)
        self.queue: dict[str, float | None] | None = None

    def collect(self) -> Iterator[Metric]:
        if self.slots is not None:
            total, active = self.slots()
            for name, value in (
                ("lg_api_workers_max", total),
                ("lg_api_workers_active", active),
                ("lg_api_workers_available", total - active),
            ):
                yield GaugeMetricFamily(name, "Run slots of this process", value=value)
        queue = self.queue
        if queue is not None:
            for name, key, doc in QUEUE_GAUGES:
                reading = queue.get(key)
                if reading is not None:
                    yield GaugeMetricFamily(name, doc, value=reading)


# (Prometheus name, key in the JSON `queue` object, help); names and keys as the reference's
QUEUE_GAUGES = (
    ("lg_api_num_pending_runs", "n_pending", "Runs waiting in the queue (whole queue)"),
    ("lg_api_num_running_runs", "n_running", "Runs running now (whole queue)"),
    (
        "lg_api_pending_runs_wait_time_max",
        "pending_runs_wait_time_max_secs",
        "Longest wait of a due pending run, seconds",
    ),
    (
        "lg_api_pending_runs_wait_time_med",
        "pending_runs_wait_time_med_secs",
        "Median wait of the due pending runs, seconds",
    ),
    (
        "lg_api_pending_unblocked_runs_wait_time_max",
        "pending_unblocked_runs_wait_time_max_secs",
        "Longest wait of a due pending run whose thread has no running run, seconds",
    ),
)


class _ReferenceHttpCollector(Collector):
    """The reference's `lg_api_http_requests_total{method,path,status}` and
    `lg_api_http_requests_latency{method,path}` (milliseconds, its buckets), derived from
    `threadloom_http_request_duration_seconds` when scraped."""

    def __init__(self, source: Histogram) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        totals = CounterMetricFamily(
            "lg_api_http_requests", "HTTP requests by route", labels=("method", "path", "status")
        )
        latency: dict[tuple[str, str], dict[float, float]] = {}
        sums: dict[tuple[str, str], float] = {}
        for family in self.source.collect():
            for sample in family.samples:
                labels = sample.labels
                key = (labels["method"], labels["route"])
                if sample.name.endswith("_count"):
                    totals.add_metric((*key, labels["status"]), sample.value)
                elif sample.name.endswith("_sum"):
                    sums[key] = sums.get(key, 0.0) + sample.value
                elif sample.name.endswith("_bucket"):
                    bound = float(labels["le"])
                    if bound in _REFERENCE_BOUND_SET:
                        buckets = latency.setdefault(key, {})
                        buckets[bound] = buckets.get(bound, 0.0) + sample.value
        yield totals
        histogram = HistogramMetricFamily(
            "lg_api_http_requests_latency",
            "HTTP request latency in milliseconds",
            labels=("method", "path"),
        )
        for key, buckets in latency.items():
            histogram.add_metric(
                key,
                [(_ms(bound), value) for bound, value in sorted(buckets.items())],
                sum_value=sums.get(key, 0.0) * 1000,
            )
        yield histogram


_REFERENCE_BOUND_SET = frozenset({*REFERENCE_HTTP_BOUNDS, float("inf")})


def _ms(bound: float) -> str:
    return "+Inf" if bound == float("inf") else f"{bound * 1000:g}"


def http_requests_json(metrics: Metrics) -> list[dict[str, Any]]:
    """The reference's `api.http_requests_total` list for `/metrics?format=json`."""
    rows: list[dict[str, Any]] = []
    for family in metrics.http_duration.collect():
        for sample in family.samples:
            if sample.name.endswith("_count") and sample.value:
                labels = sample.labels
                rows.append(
                    {
                        "method": labels["method"],
                        "path": labels["route"],
                        "status": int(labels["status"]),
                        "count": int(sample.value),
                    }
                )
    return rows


METRICS = Metrics()
