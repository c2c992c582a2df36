"""Webhook and callback delivery: once a run has ended, POST its outcome to the URL it gave.

Delivery happens after the terminal write, in tasks of its own, so it never delays or changes a
run's status. Each attempt is recorded on the run (`storage.runs.set_webhook`): what Letta shows
as `callback_sent_at` / `callback_status_code` / `callback_error`. Improving on both LangGraph
and Letta: a bounded timeout, retries with exponential backoff on network errors, 5xx, 408 and
429, an HMAC-SHA256 signature, no redirects followed, and the outbound URL policy checked again
against the addresses the host resolves to *now* (DNS may have changed since the run was made).

The body's shape depends on which API created the run; the server passes a `PayloadBuilder`
(services know the views, the runtime does not), and the URL policy
(`services.webhook_policy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from threadloom.errors import ThreadloomError
from threadloom.serde import dumps, isoformat, utcnow
from threadloom.settings import Settings
from threadloom.storage.base import Storage
from threadloom.storage.records import Run, RunStatus

logger = logging.getLogger(__name__)

PayloadBuilder = Callable[[Run, Any], Awaitable[dict[str, Any]]]
UrlPolicy = Callable[[str], None]  # raises ThreadloomError for a URL that may not be called
SIGNATURE_HEADER = "X-Threadloom-Signature"
TIMESTAMP_HEADER = "X-Threadloom-Timestamp"
RETRY_STATUSES = frozenset({408, 425, 429})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>." + body): the timestamp is signed
    too, so a receiver can refuse replays of old deliveries."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def webhook_url(run: Run) -> str | None:
    hook = run.webhook or {}
    url = hook.get("url") or (run.kwargs or {}).get("webhook")
    return url if isinstance(url, str) and url else None


class WebhookSender:
    """Delivers webhooks in background tasks, at most `concurrency` at once."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        build_payload: PayloadBuilder,
        url_policy: UrlPolicy,
        *,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        concurrency: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.build_payload = build_payload
        self.url_policy = url_policy
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._limit = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": "threadloom-webhooks"},
        )

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Give in-flight deliveries a moment, then drop them (their attempts are recorded)."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._client.aclose()

    def submit(self, run: Run, values: Any = None) -> None:
        """Schedule delivery for an ended run (no-op without a URL). Never raises, never waits."""
        if webhook_url(run) is None:
            return
        task = asyncio.get_running_loop().create_task(self._guarded(run, values))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, run: Run, values: Any) -> None:
        async with self._limit:
            try:
                await self.deliver(run, values)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("webhook delivery for run %s failed", run.run_id)

    async def deliver(self, fallback: Run, values: Any = None) -> dict[str, Any]:
        """Deliver one run's webhook with retries; returns the delivery record."""
        run = await self.storage.runs.get(fallback.run_id) or fallback
        url = webhook_url(run) or webhook_url(fallback)
        assert url is not None
        record: dict[str, Any] = {"url": url, "attempts": [], "delivered": False}
        body = dumps(await self.build_payload(run, values))
        attempts = self.settings.webhook_max_attempts
        for attempt in range(1, attempts + 1):
            retry = await self._attempt(run.run_id, url, body, record)
            await self._record(run.run_id, record)
            if not retry or attempt == attempts:
                break
            await asyncio.sleep(self._backoff(attempt))
        return record

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds)
        return delay * (0.9 + random.random() * 0.2)  # a little jitter: no thundering herds

    async def _attempt(self, run_id: str, url: str, body: bytes, record: dict[str, Any]) -> bool:
        """One POST; records it and answers whether another attempt may succeed."""
        sent_at = utcnow()
        status: int | None = None
        error: str | None = None
        retry = False
        try:
            await asyncio.to_thread(self.url_policy, url)  # resolves DNS: off the loop
        except ThreadloomError as exc:
            error = f"refused by the outbound URL policy: {exc.detail}"
        else:
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Threadloom-Run-Id": run_id,
                TIMESTAMP_HEADER: timestamp,
            }
            if self.settings.webhook_secret:
                headers[SIGNATURE_HEADER] = sign(self.settings.webhook_secret, timestamp, body)
            try:
                response = await self._client.post(url, content=body, headers=headers)
                status = response.status_code
                if status >= 300:
                    error = f"HTTP {status}"
                    retry = status >= 500 or status in RETRY_STATUSES
            except httpx.TimeoutException:
                error, retry = f"timed out after {self.settings.webhook_timeout_seconds:g}s", True
            except httpx.HTTPError as exc:
                error, retry = f"{type(exc).__name__}: {exc}", True
        attempt = {"sent_at": isoformat(sent_at), "status_code": status, "error": error}
        record["attempts"].append(attempt)
        record.update(attempt)
        record["delivered"] = status is not None and 200 <= status < 300
        return retry

    async def _record(self, run_id: str, record: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            await self.storage.runs.set_webhook(run_id, record)


def ended_copy(run: Run, status: RunStatus, stop_reason: str | None, error: Any) -> Run:
    """The run as it ended, for when its row is gone (temporary threads are deleted)."""
    return dataclasses.replace(
        run, status=status, stop_reason=stop_reason, error=error, ended_at=utcnow()
    )
