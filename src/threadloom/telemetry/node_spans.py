"""A span per graph node, from LangChain's chain callbacks (only added when tracing is on).

LangGraph runs each task as a chain named after its node, with `langgraph_node` and the task's
`langgraph_checkpoint_ns` in its metadata; runnables inside the node inherit that metadata but
not the checkpoint namespace's novelty, so a task is the first chain seen for a namespace whose
name is the node's. A subgraph's nodes get their own namespaces and nest under the node that
called the subgraph.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler


class NodeSpans(BaseCallbackHandler):
    run_inline = True  # no thread hop: it only starts and ends spans

    def __init__(self, tracer: Any, run_span: Any) -> None:
        from opentelemetry import trace

        self._trace = trace
        self.tracer = tracer
        self.root = trace.set_span_in_context(run_span)
        self.spans: dict[UUID, Any] = {}  # chain run id -> its node's span
        self.parents: dict[UUID, UUID | None] = {}  # every open chain -> its parent chain
        self.namespaces: set[str] = set()

    @property
    def ignore_llm(self) -> bool:
        return True

    @property
    def ignore_chat_model(self) -> bool:
        return True

    @property
    def ignore_retriever(self) -> bool:
        return True

    @property
    def ignore_agent(self) -> bool:
        return True

    @property
    def ignore_retry(self) -> bool:
        return True

    @property
    def ignore_custom_event(self) -> bool:
        return True

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.parents[run_id] = parent_run_id
        meta = metadata or {}
        node = meta.get("langgraph_node")
        namespace = meta.get("langgraph_checkpoint_ns")
        if not node or name != node or not isinstance(namespace, str):
            return
        if namespace in self.namespaces:
            return
        self.namespaces.add(namespace)
        parent = self._parent_context(parent_run_id)
        span = self.tracer.start_span(
            f"node {node}",
            context=parent,
            attributes={
                "langgraph.node": node,
                "langgraph.step": int(meta.get("langgraph_step") or 0),
                "langgraph.checkpoint_ns": namespace,
            },
        )
        self.spans[run_id] = span

    def _parent_context(self, parent_run_id: UUID | None) -> Any:
        seen = parent_run_id
        while seen is not None:
            span = self.spans.get(seen)
            if span is not None:
                return self._trace.set_span_in_context(span)
            seen = self.parents.get(seen)
        return self.root

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, None)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, error)

    def _close(self, run_id: UUID, error: BaseException | None) -> None:
        self.parents.pop(run_id, None)
        span = self.spans.pop(run_id, None)
        if span is None:
            return
        if error is not None and type(error).__name__ != "GraphInterrupt":
            span.record_exception(error)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, str(error)[:200]))
        span.end()

    def close_all(self) -> None:
        """End what a cancelled run left open."""
        for span in self.spans.values():
            span.end()
        self.spans.clear()
        self.parents.clear()
