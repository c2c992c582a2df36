"""Run measures collected from LangChain callbacks: time to first token, token usage, steps and the
model snapshot.

The handler only records in memory; the executor decides when to write (first token at once, the
rest at the end), so a streaming model never causes a database write per token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.outputs import LLMResult

from threadloom.serde import to_jsonable, utcnow

_USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens")


def _add_usage(total: dict[str, Any], usage: dict[str, Any]) -> None:
    """Sum a LangChain `usage_metadata` into `total` (including the cache/reasoning details)."""
    for key in _USAGE_KEYS:
        value = usage.get(key)
        if isinstance(value, (int, float)):
            total[key] = total.get(key, 0) + value
    for details_key, fields in (
        ("input_token_details", ("cache_read", "cache_creation")),
        ("output_token_details", ("reasoning",)),
    ):
        details = usage.get(details_key)
        if not isinstance(details, dict):
            continue
        for field in fields:
            value = details.get(field)
            if isinstance(value, (int, float)):
                bucket = total.setdefault(details_key, {})
                bucket[field] = bucket.get(field, 0) + value


def usage_from_result(response: LLMResult) -> dict[str, Any]:
    """Usage of one LLM call: message usage_metadata, else the provider's `token_usage`."""
    usage: dict[str, Any] = {}
    for generations in response.generations:
        for gen in generations:
            message = getattr(gen, "message", None)
            meta = getattr(message, "usage_metadata", None)
            if meta:
                _add_usage(usage, dict(meta))
    if not usage and response.llm_output:
        raw = response.llm_output.get("token_usage") or response.llm_output.get("usage")
        if isinstance(raw, dict):
            usage = {
                "input_tokens": raw.get("prompt_tokens", raw.get("input_tokens", 0)),
                "output_tokens": raw.get("completion_tokens", raw.get("output_tokens", 0)),
            }
            usage["total_tokens"] = raw.get(
                "total_tokens", usage["input_tokens"] + usage["output_tokens"]
            )
    return usage


def _model_snapshot(
    serialized: dict[str, Any] | None, metadata: dict[str, Any] | None, kwargs: dict[str, Any]
) -> dict[str, Any]:
    params: dict[str, Any] = dict(kwargs.get("invocation_params") or {})
    ser_kwargs: dict[str, Any] = dict((serialized or {}).get("kwargs") or {})
    meta = metadata or {}

    def pick(*names: str) -> Any:
        for source in (params, ser_kwargs):
            for name in names:
                value = source.get(name)
                if value is not None:
                    return value
        return None

    model = pick("model", "model_name", "model_id", "deployment_name") or meta.get("ls_model_name")
    snapshot: dict[str, Any] = {
        "model": model,
        "provider": meta.get("ls_provider"),
        "temperature": pick("temperature")
        if pick("temperature") is not None
        else meta.get("ls_temperature"),
        "top_p": pick("top_p"),
        "max_tokens": pick("max_tokens", "max_output_tokens", "max_completion_tokens")
        or meta.get("ls_max_tokens"),
        "tools": params.get("tools") or ser_kwargs.get("tools") or [],
    }
    return to_jsonable(snapshot)


class RunMeasures(AsyncCallbackHandler):
    """Collects measures for one run. `on_first_token` is called once, synchronously."""

    run_inline = True  # no gather() per callback: the handler never blocks

    def __init__(self, on_first_token: Callable[[datetime], None] | None = None) -> None:
        self.first_token_at: datetime | None = None
        self.usage: dict[str, Any] = {}
        self.steps: list[dict[str, Any]] = []
        self.model_snapshot: dict[str, Any] | None = None
        self.llm_failed = False
        self._open: dict[UUID, tuple[dict[str, Any], int]] = {}
        self._on_first_token = on_first_token

    # chain events are the bulk of callbacks and of no interest here (tools report through
    # the "agent" switch, so that one stays on)
    @property
    def ignore_chain(self) -> bool:
        return True

    @property
    def ignore_retriever(self) -> bool:
        return True

    @property
    def ignore_retry(self) -> bool:
        return True

    @property
    def ignore_custom_event(self) -> bool:
        return True

    @property
    def has_data(self) -> bool:
        return bool(self.steps or self.usage or self.model_snapshot)

    def _start(
        self,
        run_id: UUID,
        kind: str,
        serialized: dict[str, Any] | None,
        name: str | None,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        step_name = name or (serialized or {}).get("name")
        if not step_name and serialized and serialized.get("id"):
            step_name = serialized["id"][-1]
        step: dict[str, Any] = {
            "type": kind,
            "name": step_name,
            "started_at": utcnow().isoformat(),
        }
        if kind == "llm":
            if self.model_snapshot is None:
                self.model_snapshot = _model_snapshot(serialized, metadata, kwargs)
            step["model"] = (
                self.model_snapshot.get("model")
                if self.model_snapshot
                else (metadata or {}).get("ls_model_name")
            )
        else:
            tool_call_id = kwargs.get("tool_call_id")
            if tool_call_id:
                step["tool_call_id"] = tool_call_id
        self._open[run_id] = (step, time.perf_counter_ns())

    def _end(self, run_id: UUID, *, error: BaseException | None = None) -> dict[str, Any] | None:
        entry = self._open.pop(run_id, None)
        if entry is None:
            return None
        step, started = entry
        step["ended_at"] = utcnow().isoformat()
        step["duration_ns"] = time.perf_counter_ns() - started
        if error is not None:
            step["error"] = type(error).__name__
        self.steps.append(step)
        return step

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: Any,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._start(run_id, "llm", serialized, name, metadata, kwargs)

    async def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._start(run_id, "llm", serialized, name, metadata, kwargs)

    async def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if self.first_token_at is not None:
            return
        message = getattr(chunk, "message", None)
        if token or getattr(message, "tool_call_chunks", None):
            self.first_token_at = utcnow()
            if self._on_first_token is not None:
                self._on_first_token(self.first_token_at)

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        step = self._end(run_id)
        usage = usage_from_result(response)
        if usage:
            _add_usage(self.usage, usage)
            if step is not None:
                step["usage"] = usage

    async def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.llm_failed = True
        self._end(run_id, error=error)

    async def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._start(run_id, "tool", serialized, name, metadata, kwargs)

    async def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id)

    async def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error=error)
