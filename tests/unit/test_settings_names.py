"""Settings named for what they are, with the names users already set kept working."""

from __future__ import annotations

import pytest

from threadloom.settings import Settings


@pytest.mark.parametrize(
    ("variable", "field"),
    [
        ("THREADLOOM_RUN_SLOTS", "run_slots"),
        ("THREADLOOM_WORKERS", "run_slots"),
        ("N_JOBS_PER_WORKER", "run_slots"),
        ("THREADLOOM_LEASE_HEARTBEAT_SECONDS", "lease_heartbeat_seconds"),
        ("THREADLOOM_HEARTBEAT_SECONDS", "lease_heartbeat_seconds"),
        ("THREADLOOM_STREAM_KEEPALIVE_SECONDS", "stream_keepalive_seconds"),
        ("THREADLOOM_HEARTBEAT_INTERVAL_SECONDS", "stream_keepalive_seconds"),
    ],
)
def test_every_name_reaches_its_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, field: str
) -> None:
    monkeypatch.setenv(variable, "7")
    assert getattr(Settings(), field) == 7


def test_old_keyword_names_still_build_settings() -> None:
    old = Settings(workers=3, heartbeat_seconds=0.5, heartbeat_interval_seconds=2)
    assert (old.run_slots, old.lease_heartbeat_seconds, old.stream_keepalive_seconds) == (3, 0.5, 2)
