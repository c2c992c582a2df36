"""The dashboard's pure parts: where it is served, the overview's numbers, run-list cursors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.server import TEST_PROJECT
from threadloom.api.dashboard import dashboard_served
from threadloom.app import create_app
from threadloom.errors import Unprocessable
from threadloom.graphs.project import parse_project
from threadloom.services.dashboard import decode_cursor, percentile, summarize
from threadloom.settings import Settings
from threadloom.storage.operations import RunMeasure

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("host", "keys", "custom", "setting", "served"),
    [
        ("127.0.0.1", [], False, "auto", True),
        ("::1", [], False, "auto", True),
        ("0.0.0.0", [], False, "auto", False),  # anyone could read every thread
        ("0.0.0.0", ["k"], False, "auto", True),
        ("0.0.0.0", [], True, "auto", True),
        ("0.0.0.0", [], False, "on", True),
        ("127.0.0.1", [], False, "off", False),
        ("0.0.0.0", ["k"], True, "off", False),
    ],
)
def test_served_only_where_safe_unless_told(
    host: str, keys: list[str], custom: bool, setting: str, served: bool
) -> None:
    settings = Settings(host=host, api_keys=keys, dashboard=setting)  # type: ignore[arg-type]
    assert dashboard_served(settings, auth_configured=custom) is served


def test_an_open_bind_without_auth_has_no_dashboard_routes() -> None:
    project = parse_project(
        {"graphs": {"echo": "./graphs.py:echo"}}, base_dir=TEST_PROJECT.parent, warn=False
    )
    open_app = create_app(Settings(config=str(TEST_PROJECT), host="0.0.0.0"), project)
    assert not [r for r in open_app.routes if getattr(r, "path", "").startswith("/dashboard")]
    local = create_app(Settings(config=str(TEST_PROJECT)), project)
    assert "/dashboard/api/overview" in [getattr(r, "path", "") for r in local.routes]


def _measure(
    ago_s: float,
    *,
    took: float | None,
    status: str = "success",
    ttft: float | None = None,
    tokens: int = 0,
) -> RunMeasure:
    created_ms = NOW.timestamp() * 1000 - ago_s * 1000
    duration = took * 1000 if took is not None else None
    first = ttft * 1000 if ttft is not None else None
    return RunMeasure(f"run-{ago_s}", created_ms, duration, first, status, tokens)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.95) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0


def test_summary_counts_the_hour_in_minute_buckets() -> None:
    measures = [
        _measure(10, took=1.0, ttft=0.2, tokens=5),
        _measure(30, took=3.0, status="error", tokens=7),
        _measure(90, took=None, status="running"),
        _measure(3599, took=2.0),
        _measure(4000, took=9.0),  # older than the hour: not counted
    ]
    out = summarize(measures, now=NOW, pending=4, running=1)
    assert out["runs"] == 4
    assert out["runs_per_second"] == round(2 / 60, 3)  # two in the last minute
    assert (out["pending"], out["running"], out["errors"], out["tokens"]) == (4, 1, 1, 12)
    assert out["duration_ms"] == {"p50": 2000.0, "p95": 3000.0}
    assert out["ttft_ms"] == {"p50": 200.0, "p95": 200.0}
    series = out["series"]
    assert len(series["runs"]) == 60 and series["runs"][-1] == 2 and series["runs"][-2] == 1
    assert series["runs"][0] == 1 and series["errors"][-1] == 1
    assert series["tokens"][-1] == 12
    assert series["duration_p50_ms"][-1] == 1000.0  # nearest rank of (1 s, 3 s)
    assert series["ttft_p50_ms"][-1] == 200.0  # only the run that produced a token counts
    assert series["ttft_p50_ms"][0] is None and series["ttft_p50_ms"][-2] is None


@pytest.mark.parametrize("token", ["nope", "", "bm8gc2VwYXJhdG9y", "MjAyNi0wMS0wMXxhYmM"])
def test_a_bad_cursor_is_a_422(token: str) -> None:
    if token == "":
        return  # an empty cursor is no cursor (the first page)
    with pytest.raises(Unprocessable):
        decode_cursor(token)
