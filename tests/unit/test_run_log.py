"""The console's run line and the shapes of the console (rich, plain, json)."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from threadloom.console import JsonFormatter, resolve_format, setup_logging
from threadloom.dev import debugger
from threadloom.dev.studio import studio_link
from threadloom.runtime.executor import ExecutionResult
from threadloom.runtime.measure import RunMeasures
from threadloom.runtime.run_log import format_line, log_run_end, run_fields
from threadloom.storage.records import Run

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RUN_ID = "1f0d2b7c-0000-7000-8000-00000000abcd"


def _run() -> Run:
    return Run(
        run_id=RUN_ID,
        thread_id="t",
        assistant_id="fe096781-5601-53d2-b2f6-0d3403f7e9ca",
        status="running",
        multitask_strategy="reject",
        metadata={},
        kwargs={"config": {"configurable": {"graph_id": "agent"}}},
        created_at=T0,
        updated_at=T0,
        started_at=T0,
        attempt=1,
    )


def _result(status: Any = "success", stop: str = "end_turn", error: Any = None) -> ExecutionResult:
    return ExecutionResult(RUN_ID, "t", 1, status, stop, error, None, None)


def _measures(ttft_ms: int | None = 85, tokens: int | None = 42) -> RunMeasures:
    measures = RunMeasures()
    if ttft_ms is not None:
        measures.first_token_at = T0 + timedelta(milliseconds=ttft_ms)
    if tokens is not None:
        measures.usage = {"total_tokens": tokens}
    return measures


def test_success_line_has_short_id_assistant_status_duration_ttft_tokens() -> None:
    fields = run_fields(_run(), _result(), _measures(), now=T0 + timedelta(milliseconds=1234))
    assert format_line(fields) == "run …0000abcd  agent  success  1.23s  ttft 85ms  42 tok"


def test_interrupt_line_says_it_waits() -> None:
    fields = run_fields(
        _run(), _result(stop="requires_approval"), _measures(None, None), now=T0 + timedelta(0, 2)
    )
    assert fields["status"] == "interrupt"
    assert format_line(fields) == (
        "run …0000abcd  agent  interrupt  2.00s  waiting for input (resume with a command)"
    )


def test_error_line_has_a_one_line_summary() -> None:
    error = {"error": "ValueError", "message": "bad input\nsecond line"}
    fields = run_fields(
        _run(), _result("error", "error", error), _measures(None), now=T0 + timedelta(minutes=2)
    )
    assert (
        format_line(fields) == "run …0000abcd  agent  error  2m00s  42 tok  — ValueError: bad input"
    )


def test_log_record_carries_the_fields_and_json_writes_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="threadloom.runs"):
        log_run_end(_run(), _result(), _measures(), now=T0 + timedelta(seconds=1))
    (record,) = caplog.records
    entry = json.loads(JsonFormatter().format(record))
    assert entry["logger"] == "threadloom.runs" and entry["level"] == "info"
    assert entry["run"]["run_id"] == RUN_ID and entry["run"]["ttft_ms"] == 85
    assert entry["message"].startswith("run …0000abcd  agent  success")


def test_failed_runs_log_at_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="threadloom.runs"):
        log_run_end(_run(), _result("error", "error", {"error": "E"}), _measures())
    assert caplog.records[0].levelno == logging.WARNING


def test_auto_format_is_rich_on_a_terminal_only() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve_format("auto", Tty()) == "rich"
    assert resolve_format("auto", io.StringIO()) == "plain"
    with pytest.raises(ValueError, match="log format must be one of"):
        resolve_format("xml")


def test_rich_console_colours_the_status() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("info", log_format="rich")
        handler = root.handlers[0]
        record = logging.LogRecord("threadloom.runs", logging.INFO, "", 0, "x", None, None)
        record.run = {"status": "error"}
        line = "run …0000abcd  agent  error  1.00s"
        coloured = handler.render_message(record, line)  # type: ignore[attr-defined]
        at = line.index("error")
        assert any(
            "red" in str(span.style) and (span.start, span.end) == (at, at + len("error"))
            for span in coloured.spans
        )
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_studio_link_as_langgraph_dev_prints_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANGSMITH_ENDPOINT", raising=False)
    monkeypatch.delenv("LANGCHAIN_ENDPOINT", raising=False)
    base = "http://127.0.0.1:2025"
    assert studio_link(base) == f"https://smith.langchain.com/studio/?baseUrl={base}"
    assert studio_link(base, "https://eu.smith.example/") == (
        f"https://eu.smith.example/studio/?baseUrl={base}"
    )
    monkeypatch.setenv("LANGSMITH_ENDPOINT", "https://api.smith.example.org")
    assert studio_link(base) == f"https://smith.example.org/studio/?baseUrl={base}"


def test_debug_port_without_debugpy_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "debugpy", None)  # import debugpy -> ImportError
    with pytest.raises(debugger.DebuggerUnavailable) as caught:
        debugger.start_debugger("127.0.0.1", 5678, wait_for_client=False)
    message = str(caught.value)
    assert "\n" not in message and "pip install debugpy" in message
