"""What one run attempt tells the metrics and, when tracing is on, its trace.

The executor calls this from one place (`_Execution.run`): `RunWatch(run)` as the attempt
starts, `ended(result, measures)` after its terminal write, `abandoned(exc)` when the attempt
stops without one (shutdown, an outage: the run goes back to the queue). Everything it records
is in memory: counters and histograms of `telemetry.metrics.METRICS`, an OpenTelemetry span.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from threadloom.telemetry import tracing
from threadloom.telemetry.metrics import METRICS

if TYPE_CHECKING:
    from threadloom.runtime.executor import ExecutionResult
    from threadloom.runtime.measure import RunMeasures
    from threadloom.storage.records import Run

UNKNOWN_GRAPH = "unknown"


def graph_of(run: Run) -> str:
    """The run's graph id, as `services.runs.create_run` merged it into the run's config."""
    configurable = (run.kwargs.get("config") or {}).get("configurable") or {}
    graph_id = configurable.get("graph_id")
    return graph_id if isinstance(graph_id, str) and graph_id else UNKNOWN_GRAPH


class RunWatch:
    """One attempt, from its start on this worker."""

    __slots__ = ("_started", "_token", "_wall", "callbacks", "graph_id", "nodes", "span")

    def __init__(self, run: Run) -> None:
        self.graph_id = graph_of(run)
        self._started = time.perf_counter()
        self._wall = time.time()  # first tokens are wall-clock times
        if run.attempt <= 1 and run.started_at is not None:
            waited = (run.started_at - run.created_at).total_seconds()
            METRICS.graph(self.graph_id)[1].observe(max(0.0, waited))
        self.span: Any = None
        self.nodes: Any = None
        self.callbacks: list[Any] = []
        if tracing.TRACER is not None:
            self._start_span(run)

    def _start_span(self, run: Run) -> None:
        configurable = (run.kwargs.get("config") or {}).get("configurable") or {}
        self.span = tracing.TRACER.start_span(
            f"run {self.graph_id}",
            context=tracing.run_parent(configurable),
            attributes={
                "threadloom.run_id": run.run_id,
                "threadloom.thread_id": run.thread_id,
                "threadloom.graph_id": self.graph_id,
                "threadloom.attempt": run.attempt,
            },
        )
        self.nodes = tracing.node_tracer(self.span)
        self.callbacks = [self.nodes]
        # current for the attempt (the graph's task inherits it): spans the graph's own
        # instrumentation makes (an HTTP client's, an LLM SDK's) nest under the run
        self._token = tracing.attach(self.span)

    def ended(self, result: ExecutionResult, measures: RunMeasures) -> None:
        """The attempt's terminal write landed."""
        elapsed = time.perf_counter() - self._started
        counter, duration = METRICS.ended(self.graph_id, result.status)
        counter.inc()
        duration.observe(elapsed)
        children = METRICS.graph(self.graph_id)
        if measures.first_token_at is not None:
            children[2].observe(max(0.0, measures.first_token_at.timestamp() - self._wall))
        usage = measures.usage
        if usage:
            tokens_in = usage.get("input_tokens")
            tokens_out = usage.get("output_tokens")
            if tokens_in:
                children[3].inc(tokens_in)
            if tokens_out:
                children[4].inc(tokens_out)
        if self.span is not None:
            span = self.span
            span.set_attribute("threadloom.status", result.status)
            if result.stop_reason:
                span.set_attribute("threadloom.stop_reason", result.stop_reason)
            if result.status == "error":
                from opentelemetry.trace import Status, StatusCode

                message = (result.error or {}).get("message")
                span.set_status(Status(StatusCode.ERROR, str(message or "error")[:200]))
            self._end_span()

    def abandoned(self, exc: BaseException) -> None:
        """The attempt stopped without a terminal write (it is re-queued)."""
        if self.span is not None:
            self.span.set_attribute("threadloom.status", "requeued")
            self.span.record_exception(exc)
            self._end_span()

    def _end_span(self) -> None:
        if self.nodes is not None:
            self.nodes.close_all()
        tracing.detach(self._token)
        self.span.end()
        self.span = None
