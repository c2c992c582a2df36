"""The webhook sender against an httpx MockTransport: signature, retries, policy at send time."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from threadloom.errors import Unprocessable
from threadloom.runtime.webhooks import WebhookSender, sign
from threadloom.settings import Settings
from threadloom.storage.records import Run


class FakeRuns:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def get(self, run_id: str) -> None:
        return None

    async def set_webhook(self, run_id: str, webhook: dict[str, Any]) -> None:
        self.records.append({**webhook, "attempts": list(webhook["attempts"])})


class FakeStorage:
    def __init__(self) -> None:
        self.runs = FakeRuns()


def run() -> Run:
    now = datetime.now(UTC)
    return Run(
        run_id="r1",
        thread_id="t1",
        assistant_id="a1",
        status="success",
        multitask_strategy="enqueue",
        metadata={},
        kwargs={},
        created_at=now,
        updated_at=now,
        webhook={"url": "https://hooks.example.com/x", "attempts": []},
    )


async def payload(run: Run, values: Any) -> dict[str, Any]:
    return {"run_id": run.run_id, "values": values}


def sender(
    statuses: list[int], seen: list[httpx.Request], policy: Any = None, **settings: Any
) -> tuple[WebhookSender, FakeStorage]:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(statuses.pop(0) if statuses else 200)

    storage = FakeStorage()
    s = WebhookSender(
        storage,  # type: ignore[arg-type]
        Settings(webhook_secret="k", webhook_max_attempts=3, **settings),
        payload,
        policy or (lambda url: None),
        backoff_seconds=0.001,
        transport=httpx.MockTransport(handle),
    )
    return s, storage


async def test_signed_delivery_recorded() -> None:
    seen: list[httpx.Request] = []
    s, storage = sender([], seen)
    record = await s.deliver(run(), {"a": 1})
    assert record["delivered"] is True and record["status_code"] == 200
    request = seen[0]
    ts = request.headers["x-threadloom-timestamp"]
    expected = hmac.new(b"k", ts.encode() + b"." + request.content, hashlib.sha256).hexdigest()
    assert request.headers["x-threadloom-signature"] == f"sha256={expected}"
    assert sign("k", ts, request.content) == f"sha256={expected}"
    assert storage.runs.records[-1]["status_code"] == 200


@pytest.mark.parametrize(
    ("statuses", "attempts", "delivered"),
    [([500, 200], 2, True), ([429, 502, 503], 3, False), ([404], 1, False), ([400, 200], 1, False)],
)
async def test_retries(statuses: list[int], attempts: int, delivered: bool) -> None:
    seen: list[httpx.Request] = []
    s, storage = sender(list(statuses), seen)
    record = await s.deliver(run())
    assert len(seen) == attempts and len(record["attempts"]) == attempts
    assert record["delivered"] is delivered
    assert len(storage.runs.records) == attempts  # every attempt is written as it happens


async def test_policy_rechecked_at_send_time() -> None:
    def refuse(url: str) -> None:
        raise Unprocessable("resolves to 10.0.0.7")

    seen: list[httpx.Request] = []
    s, _ = sender([], seen, policy=refuse)
    record = await s.deliver(run())
    assert seen == [] and record["delivered"] is False
    assert "10.0.0.7" in record["error"] and len(record["attempts"]) == 1


async def test_network_error_retried() -> None:
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused")
        return httpx.Response(204)

    s = WebhookSender(
        FakeStorage(),  # type: ignore[arg-type]
        Settings(webhook_max_attempts=3),
        payload,
        lambda url: None,
        backoff_seconds=0.001,
        transport=httpx.MockTransport(handle),
    )
    record = await s.deliver(run())
    assert calls == 2 and record["delivered"] is True
    assert record["attempts"][0]["error"].startswith("ConnectError")
    assert "x-threadloom-signature" not in record  # no secret, no signature header
