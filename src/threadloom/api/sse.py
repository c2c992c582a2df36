"""Long-lived responses: Server-Sent Events for streams and keep-alive JSON for /wait and /join.

Both send a heartbeat while nothing else is flowing (proxies close idle connections) and notice
a client that goes away, so a run can be cancelled on disconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from threadloom.runtime.broker import StreamEvent
from threadloom.serde import dumps
from threadloom.storage.errors import is_unavailable
from threadloom.telemetry.metrics import METRICS

logger = logging.getLogger(__name__)

OUTAGE_RETRY_SECONDS = 0.2  # first pause before reading a result again after an outage
OUTAGE_RETRY_MAX_SECONDS = 5.0

Disconnect = Callable[[], Awaitable[None]] | None


def encode_events(batch: list[StreamEvent], with_ids: bool = True) -> bytes:
    parts = []
    for event in batch:
        if with_ids:
            parts.append(
                b"event: %s\r\ndata: %s\r\nid: %d\r\n\r\n"
                % (event.event.encode(), event.data, event.seq)
            )
        else:
            parts.append(b"event: %s\r\ndata: %s\r\n\r\n" % (event.event.encode(), event.data))
    return b"".join(parts)


def encode_event(name: str, data: Any, event_id: str | None = None) -> bytes:
    payload = data if isinstance(data, bytes) else dumps(data)
    if event_id is not None:
        return b"event: %s\r\ndata: %s\r\nid: %s\r\n\r\n" % (
            name.encode(),
            payload,
            event_id.encode(),
        )
    return b"event: %s\r\ndata: %s\r\n\r\n" % (name.encode(), payload)


class _LiveResponse(Response):
    """Shared machinery: headers, a heartbeat, disconnect detection, ordered sends."""

    media_type = "text/event-stream"
    heartbeat_bytes = b": heartbeat\r\n\r\n"
    stream_kind = "sse"  # the `kind` label of `threadloom_open_streams`

    def __init__(
        self,
        *,
        headers: dict[str, str] | None = None,
        heartbeat_seconds: float = 5.0,
        on_disconnect: Disconnect = None,
        status_code: int = 200,
    ) -> None:
        self.heartbeat_seconds = heartbeat_seconds
        self.on_disconnect = on_disconnect
        self.status_code = status_code
        self.background = None
        self._lock = asyncio.Lock()
        self._started = False
        self._finished = False
        # called once the headers are out (or the response ends without them)
        self.on_started: Callable[[], None] | None = None
        self.raw_headers = [
            (b"content-type", self.media_type.encode()),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),
        ]
        self.raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]

    async def _start(self, send: Send, content_length: int | None = None) -> None:
        """Headers go out with the first bytes, not before: a response that is ready quickly
        (most /wait calls) costs two socket writes instead of four."""
        self._started = True
        headers = self.raw_headers
        if content_length is not None:
            headers = [*headers, (b"content-length", str(content_length).encode())]
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        self._started_hook()

    def _started_hook(self) -> None:
        hook, self.on_started = self.on_started, None
        if hook is not None:
            hook()

    async def _send_body(self, send: Send, body: bytes) -> None:
        async with self._lock:
            if not self._started:
                await self._start(send)
            await send({"type": "http.response.body", "body": body, "more_body": True})

    async def _send_last(self, send: Send, body: bytes) -> None:
        """The final bytes; with nothing sent yet, a plain response with a Content-Length."""
        async with self._lock:
            if not self._started:
                await self._start(send, content_length=len(body))
            await send({"type": "http.response.body", "body": body, "more_body": False})
            self._finished = True

    async def produce(self, send: Send) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._started = False
        self._finished = False

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(self.heartbeat_seconds)
                await self._send_body(send, self.heartbeat_bytes)

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return

        producer = asyncio.ensure_future(self.produce(send))
        beats = asyncio.ensure_future(heartbeat())
        watcher = asyncio.ensure_future(watch())
        gauge = METRICS.open_streams.labels(self.stream_kind)
        gauge.inc()
        try:
            done, _ = await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            beats.cancel()
            gauge.dec()
            self._started_hook()
        if producer in done:
            watcher.cancel()
            producer.result()  # surface errors
            if not self._finished:
                with contextlib.suppress(OSError, RuntimeError):
                    await self._send_last(send, b"")
            return
        # the client went away first
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await producer
        if self.on_disconnect is not None:
            await self.on_disconnect()


class EventStreamResponse(_LiveResponse):
    """SSE from batches of already-encoded frames."""

    def __init__(self, frames: AsyncIterator[bytes], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.frames = frames

    async def produce(self, send: Send) -> None:
        async with self._lock:  # headers at once: clients learn the run id before it starts
            if not self._started:
                await self._start(send)
        async for chunk in self.frames:
            if chunk:
                await self._send_body(send, chunk)


class KeepAliveJSONResponse(_LiveResponse):
    """`/wait`, `/join`: newline keep-alives until the result is known, then the JSON body.

    `result` is called to read the result, and called again if a backing service drops out
    after the first keep-alive went out: a 503 can no longer be sent then, and cutting the
    connection would lose a wait the run may still answer, so the read rides the outage out.
    Before the first byte an outage surfaces as usual (503)."""

    stream_kind = "keepalive"

    media_type = "application/json"
    heartbeat_bytes = b"\n"

    def __init__(self, result: Callable[[], Awaitable[Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.result = result

    async def produce(self, send: Send) -> None:
        delay = OUTAGE_RETRY_SECONDS
        while True:
            try:
                value = await self.result()
                break
            except Exception as exc:
                if not self._started or not is_unavailable(exc):
                    raise
                METRICS.backend_error(exc)
                logger.warning("waiting out a backing-service outage for a /wait: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, OUTAGE_RETRY_MAX_SECONDS)
        await self._send_last(send, dumps(value))
