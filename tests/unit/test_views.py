"""Record → view mappings: the status table in every vocabulary, Letta/SeekrFlow fields, streams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from threadloom.services.views import analytics, status
from threadloom.services.views import letta_view as letta
from threadloom.services.views import seekr_view as seekr
from threadloom.services.views.streams import LettaStream, VercelStream
from threadloom.storage.records import Run

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def make(status_: str, stop: str | None = None, **fields: Any) -> Run:
    ended = T0 + timedelta(seconds=2) if status_ not in ("pending", "running") else None
    return Run(
        run_id="r1",
        thread_id="t1",
        assistant_id="a1",
        status=status_,
        multitask_strategy="enqueue",
        metadata={"assistant_id": "a1", "k": "v"},
        kwargs=fields.pop("kwargs", {}),
        created_at=T0,
        updated_at=T0,
        ended_at=ended,
        stop_reason=stop,
        **fields,
    )


TABLE = [
    # canonical status, stop_reason → Letta status, Letta stop_reason, SeekrFlow status
    ("pending", None, "created", None, "queued"),
    ("running", None, "running", None, "running"),
    ("success", "end_turn", "completed", "end_turn", "completed"),
    ("success", "requires_approval", "completed", "requires_approval", "completed"),
    ("error", "max_steps", "completed", "max_steps", "failed"),
    ("error", "llm_api_error", "failed", "llm_api_error", "failed"),
    ("error", "error", "failed", "error", "failed"),
    ("timeout", "timeout", "failed", "error", "failed"),
    ("interrupted", "cancelled", "cancelled", "cancelled", "cancelled"),
]


@pytest.mark.parametrize(("canonical", "stop", "l_status", "l_stop", "s_status"), TABLE)
def test_status_table(
    canonical: str, stop: str | None, l_status: str, l_stop: str | None, s_status: str
) -> None:
    run = make(canonical, stop)
    assert status.letta_status(run) == l_status
    assert status.letta_stop_reason(run) == l_stop
    assert status.seekr_status(run) == s_status
    # the Letta filter of that status selects the run back
    clauses = status.letta_status_clauses([l_status])
    assert any(
        c.status == canonical
        and (
            c.stop_reason is None
            or (c.stop_reason != stop if c.exclude_stop_reason else c.stop_reason == stop)
        )
        for c in clauses
    )


def test_unknown_letta_status_is_refused() -> None:
    with pytest.raises(ValueError):
        status.letta_status_clauses(["done"])


def test_analytics_and_letta_run() -> None:
    run = make(
        "error",
        "error",
        error={"error": "ValueError", "message": "boom"},
        first_token_at=T0 + timedelta(milliseconds=250),
        usage={
            "input_tokens": 10,
            "output_tokens": 5,
            "total_tokens": 15,
            "input_token_details": {"cache_read": 4},
            "output_token_details": {"reasoning": 2},
        },
        steps=[{"type": "llm", "model": "m1", "usage": {"output_tokens": 5}}],
        webhook={"url": "https://x", "sent_at": "s", "status_code": 500, "error": "HTTP 500"},
    )
    assert analytics.ttft_ns(run) == 250_000_000
    assert analytics.total_duration_ns(run) == 2_000_000_000
    view = letta.render_run(run)
    assert view["id"] == "run-r1" and view["agent_id"] == "agent-a1"
    assert view["metadata"] == {"k": "v", "error": "ValueError: boom"}
    assert (view["callback_url"], view["callback_status_code"]) == ("https://x", 500)
    assert view["callback_error"] == "HTTP 500"
    usage = letta.render_usage(run)
    assert usage["prompt_tokens_details"]["cached_tokens"] == 4
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 2


def test_ttft_without_streaming_uses_first_llm_output() -> None:
    end = T0 + timedelta(milliseconds=40)
    run = make(
        "success",
        "end_turn",
        steps=[
            {"type": "tool", "ended_at": (T0 + timedelta(milliseconds=10)).isoformat()},
            {"type": "llm", "ended_at": end.isoformat(), "usage": {"output_tokens": 3}},
        ],
    )
    assert analytics.ttft_ns(run) == 40_000_000


def test_seekr_run_fields() -> None:
    active = make("running", kwargs={"compat": {"model_settings": {"temperature": 0.2}}})
    view = seekr.render_run(active, graph_id="agent", run_timeout_seconds=60)
    assert view["is_active"] is True and view["usage"] is None
    assert view["expires_at"] == T0 + timedelta(seconds=60)
    assert view["model"] == "agent" and view["temperature"] == 0.2 and view["top_p"] == 1.0
    done = make("interrupted", "cancelled", model_snapshot={"model": "gpt", "top_p": 0.5})
    view = seekr.render_run(done, graph_id="agent", run_timeout_seconds=60)
    assert view["status"] == "cancelled" and view["cancelled_at"] == done.ended_at
    assert view["completed_at"] is None and view["model"] == "gpt" and view["top_p"] == 0.5
    assert view["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def _event(message: dict[str, Any]) -> bytes:
    return orjson.dumps([message, {}])


def test_letta_stream_numbers_chunks_by_seq() -> None:
    run = make("success", "end_turn")
    stream = LettaStream(run, now=T0)
    out = stream.feed(3, "messages", _event({"type": "AIMessageChunk", "id": "m", "content": "Hi"}))
    assert out[0]["message_type"] == "assistant_message" and out[0]["seq_id"] == 3
    assert stream.feed(4, "values", b"{}") == []
    err = stream.feed(5, "error", b'{"error": "ValueError", "message": "x"}')
    assert err[0]["message_type"] == "error_message" and err[0]["error_type"] == "ValueError"
    stop, usage = stream.finish(run)
    assert (stop["seq_id"], usage["seq_id"]) == (6, 7)


def test_vercel_stream_parts() -> None:
    run = make("success", "end_turn")
    stream = VercelStream(run)
    parts = stream.start()
    chunk = {
        "type": "AIMessageChunk",
        "id": "m",
        "content": "",
        "tool_call_chunks": [{"id": "c1", "name": "calc", "args": '{"x": 1}', "index": 0}],
    }
    parts += stream.feed(1, "messages", _event(chunk))
    parts += stream.feed(
        2, "messages", _event({"type": "tool", "tool_call_id": "c1", "content": "1"})
    )
    parts += stream.feed(
        3, "messages", _event({"type": "AIMessageChunk", "id": "m2", "content": "ok"})
    )
    parts += stream.finish(run)
    kinds = [p["type"] for p in parts]
    assert kinds == [
        "start",
        "start-step",
        "tool-input-start",
        "tool-input-delta",
        "tool-input-available",
        "tool-output-available",
        "text-start",
        "text-delta",
        "text-end",
        "finish-step",
        "finish",
    ]
    assert parts[4]["input"] == {"x": 1}
