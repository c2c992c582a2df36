"""The thread protocol's routes (docs/thread-protocol.md):

- `POST /threads/{thread_id}/commands`: one command in, its response out (JSON);
- `POST /threads/{thread_id}/stream/events`: a filtered SSE stream of the thread's events,
  the body its subscription (`channels`, `namespaces`, `depth`, `since`);
- the WebSocket on `/threads/{thread_id}/stream/events`: commands and `subscription.*`
  in-band; each subscription is a reader of the same event source as an SSE stream, and lives
  until it is unsubscribed or the socket closes — across runs.

Removed with `http.disable_runs` or `http.disable_event_streaming` (api/route_groups.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from starlette.responses import Response

from threadloom.api.deps import get_ctx
from threadloom.api.docs import SSE, ok
from threadloom.api.http import JSONResponse
from threadloom.api.protocol_wire import event_json, json_text, lost_frame, lost_json, sse_frames
from threadloom.api.sse import EventStreamResponse
from threadloom.auth import request_context
from threadloom.errors import InvalidInput, ThreadloomError
from threadloom.serde import dumps, loads
from threadloom.services import thread_protocol as commands
from threadloom.services.context import ServerContext
from threadloom.services.ids import parse_uuid
from threadloom.services.thread_events import (
    Lost,
    Subscription,
    parse_since,
    parse_subscription,
    stream_authorizer,
    stream_opening,
    thread_events,
)

router = APIRouter(tags=["Streaming"], default_response_class=JSONResponse)

OPENING_ORDER_WAIT_SECONDS = 2.0
CLOSE_FELL_BEHIND = 1013  # "try again later": reconnect with `subscription.reconnect`


def _thread_id(raw: str) -> str:
    return str(parse_uuid(raw, "thread_id"))


@router.post(
    "/threads/{thread_id}/commands",
    summary="Send a thread protocol command",
    description="`run.start`, `input.respond`, `agent.getTree`; the response envelope.",
    responses=ok(dict[str, Any], "The command's response envelope (`success` or `error`)"),
)
async def command(thread_id: str, request: Request, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return await respond_command(ctx, thread_id, await request.body(), request.headers)


async def respond_command(
    ctx: ServerContext, thread_id: str, body: bytes, headers: Mapping[str, str]
) -> Response:
    """The route's answer; api/command_fast_path.py answers with it too."""
    try:
        loads(body)
    except ValueError:
        return JSONResponse({"detail": "Invalid JSON body"}, status_code=400)
    try:
        parsed = commands.parse_command(body)
    except commands.NotACommand as exc:
        envelope = commands.error(None, "invalid_argument", exc.message)
        return JSONResponse({**envelope, "detail": exc.message}, status_code=400)
    return JSONResponse(await commands.handle(ctx, thread_id, parsed, headers=headers))


async def _event_frames(
    ctx: ServerContext, thread_id: str, subscription: Subscription, since: int | None
) -> AsyncIterator[bytes]:
    async for item in thread_events(
        ctx, thread_id, since=since, authorize=stream_authorizer(ctx, thread_id)
    ):
        if isinstance(item, Lost):
            yield lost_frame(item)
            return
        matched = [e for e in item if subscription.matches(e)]
        if matched:
            yield sse_frames(matched)


class _OpeningOrder:
    """A thread's event streams send their headers in the order their requests arrived.

    The SDK replaces its shared stream by opening a wider one and closing the old one as soon
    as the new one is ready; a stream it closes before its own headers arrived leaves the
    caller that opened it waiting for them forever. Opening checks the thread (a database
    read), so two streams opened together could otherwise become ready in either order."""

    def __init__(self) -> None:
        self._locks: dict[str, list[Any]] = {}  # thread id -> [lock, requests holding or queued]

    async def enter(self, thread_id: str) -> Callable[[], None]:
        entry = self._locks.setdefault(thread_id, [asyncio.Lock(), 0])
        entry[1] += 1
        held = True
        try:
            # bounded: ordering is a courtesy, and must never hold a stream up for long
            await asyncio.wait_for(entry[0].acquire(), OPENING_ORDER_WAIT_SECONDS)
        except TimeoutError:
            held = False
        except BaseException:
            self._leave(thread_id, entry, held=False)
            raise
        done = False

        def release() -> None:
            nonlocal done
            if not done:
                done = True
                self._leave(thread_id, entry, held=held)

        return release

    def _leave(self, thread_id: str, entry: list[Any], *, held: bool) -> None:
        if held:
            entry[0].release()
        entry[1] -= 1
        if entry[1] == 0 and self._locks.get(thread_id) is entry:
            del self._locks[thread_id]


_opening = _OpeningOrder()


@router.post(
    "/threads/{thread_id}/stream/events",
    summary="Stream a thread's protocol events",
    description="Body: `{channels, namespaces?, depth?, since?}`. Server-sent events until "
    "the client disconnects; `since` replays after a seq.",
    responses=SSE,
)
async def stream_events(
    thread_id: str, request: Request, ctx: ServerContext = Depends(get_ctx)
) -> Response:
    release = await _opening.enter(thread_id)
    try:
        try:
            body = loads(await request.body())
        except ValueError:
            release()
            return JSONResponse({"detail": "Invalid JSON body"}, status_code=400)
        subscription = parse_subscription(body)
        since = parse_since(body.get("since"))
        tid = _thread_id(thread_id)
        await stream_opening(ctx, request.app.state.ctx, tid)
        response = EventStreamResponse(
            _event_frames(ctx, tid, subscription, since),
            heartbeat_seconds=ctx.settings.stream_keepalive_seconds,
        )
    except BaseException:
        release()
        raise
    response.on_started = release
    return response


def subscription_id(subscription: Subscription, serial: int) -> str:
    """A subscription's id carries its filter, so `subscription.reconnect` restores it on any
    connection to any server process without server-side state."""
    packed = base64.urlsafe_b64encode(dumps(subscription.to_json())).rstrip(b"=").decode()
    return f"sub{serial}.{packed}"


def subscription_of(sub_id: object) -> Subscription | None:
    if not isinstance(sub_id, str) or "." not in sub_id:
        return None
    packed = sub_id.split(".", 1)[1]
    try:
        raw = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
        return parse_subscription(loads(raw))
    except (binascii.Error, ValueError, InvalidInput):
        return None


class _Socket:
    """One WebSocket: its subscriptions and one reader of the thread's events for all of them,
    so the socket carries one stream in seq order with each event once (the JS SDK routes
    events to its subscriptions by filter and relies on that order). A new subscription
    restarts the reader from the earliest position any subscription asks for; events sent
    again are de-duplicated by the clients (by `event_id`), as a replay is."""

    def __init__(self, websocket: WebSocket, ctx: ServerContext, thread_id: str) -> None:
        self.websocket = websocket
        self.ctx = ctx
        self.thread_id = thread_id
        self.lock = asyncio.Lock()
        # each subscription with the seq it has been sent up to: a reader restarted for a new
        # subscription replays from the lowest, and must not send the others theirs again
        self.subscriptions: dict[str, list[Any]] = {}
        self.reader: asyncio.Task[None] | None = None
        self.serial = 0
        self.closed = False

    async def send(self, text: str | bytes) -> None:
        async with self.lock:
            if isinstance(text, bytes):
                text = text.decode()
            await self.websocket.send_text(text)

    async def reply(self, response: dict[str, Any]) -> None:
        await self.send(json_text(response))

    def follow(self, sub_id: str, subscription: Subscription, since: int | None) -> None:
        self.subscriptions[sub_id] = [subscription, since or 0]
        if self.reader is not None:
            self.reader.cancel()
        start = min(after for _, after in self.subscriptions.values())
        self.reader = asyncio.ensure_future(self._read(start or None))

    async def _read(self, since: int | None) -> None:
        authorize = stream_authorizer(self.ctx, self.thread_id)
        subscriptions = self.subscriptions
        try:
            async for item in thread_events(
                self.ctx, self.thread_id, since=since, authorize=authorize
            ):
                if isinstance(item, Lost):
                    await self.send(lost_json(item))
                    await self.close(CLOSE_FELL_BEHIND)
                    return
                for event in item:
                    wanted = [
                        entry
                        for entry in subscriptions.values()
                        if event.seq > entry[1] and entry[0].matches(event)
                    ]
                    if wanted:  # once per socket, however many subscriptions match it
                        await self.send(event_json(event))
                        for entry in wanted:
                            entry[1] = event.seq
        except (WebSocketDisconnect, RuntimeError):
            return  # the socket went away mid-send

    async def close(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                await self.websocket.close(code=code)

    async def handle(self, raw: str) -> None:
        try:
            command = commands.parse_command(raw)
        except commands.NotACommand as exc:
            await self.reply(commands.error(None, "invalid_argument", exc.message))
            return
        command_id: int = command["id"]
        method = command["method"]
        params: dict[str, Any] = command.get("params") or {}
        if method == "subscription.subscribe":
            try:
                subscription = parse_subscription(params)
                since = parse_since(params.get("since"))
            except InvalidInput as exc:
                await self.reply(commands.error(command_id, "invalid_argument", exc.detail))
                return
            self.serial += 1
            sub_id = subscription_id(subscription, self.serial)
            await self.reply(
                commands.success(command_id, {"subscription_id": sub_id, "replayed_events": 0})
            )
            self.follow(sub_id, subscription, since)
        elif method == "subscription.unsubscribe":
            given = params.get("subscription_id") or params.get("subscriptionId")
            removed = self.subscriptions.pop(given, None) if isinstance(given, str) else None
            if removed is None:
                await self.reply(
                    commands.error(
                        command_id, "no_such_subscription", f"Unknown subscription: {given}"
                    )
                )
                return
            if not self.subscriptions and self.reader is not None:
                self.reader.cancel()
                self.reader = None
            await self.reply(commands.success(command_id, {}))
        elif method == "subscription.reconnect":
            await self._reconnect(command_id, params)
        else:
            await self.reply(
                await commands.handle(
                    self.ctx, self.thread_id, command, headers=self.websocket.headers
                )
            )

    async def _reconnect(self, command_id: int, params: dict[str, Any]) -> None:
        """Restore subscriptions (by their ids, on this or an earlier socket) and replay what
        each missed after `last_event_id`; without ids, this socket's own are restarted."""
        last = params.get("last_event_id", params.get("lastEventId"))
        try:
            since = parse_since(int(last)) if last is not None else None
        except (TypeError, ValueError, InvalidInput):
            await self.reply(
                commands.error(command_id, "invalid_argument", "last_event_id must be a seq")
            )
            return
        ids = params.get("subscriptions")
        if ids is None:
            ids = list(self.subscriptions)
        if not isinstance(ids, list):
            await self.reply(
                commands.error(command_id, "invalid_argument", "subscriptions must be an array")
            )
            return
        restored: list[tuple[str, Subscription]] = []
        for sub_id in ids:
            subscription = subscription_of(sub_id)
            if subscription is None:
                await self.reply(
                    commands.error(
                        command_id, "no_such_subscription", f"Unknown subscription: {sub_id}"
                    )
                )
                return
            restored.append((sub_id, subscription))
        await self.reply(commands.success(command_id, {"restored": True}))
        for sub_id, subscription in restored:
            self.follow(sub_id, subscription, since)

    async def stop(self) -> None:
        reader = self.reader
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader


@router.websocket("/threads/{thread_id}/stream/events")
async def thread_socket(websocket: WebSocket, thread_id: str) -> None:
    ctx = request_context(websocket.app.state.ctx, websocket.scope)
    release = await _opening.enter(thread_id)  # handshakes complete in arrival order too
    try:
        try:
            tid = _thread_id(thread_id)
            await stream_opening(ctx, websocket.app.state.ctx, tid)
        except ThreadloomError as exc:
            await websocket.send_denial_response(
                JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
            )
            return
        await websocket.accept()
    finally:
        release()
    socket = _Socket(websocket, ctx, tid)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = message["bytes"].decode("utf-8", "replace")
            if text is not None:
                await socket.handle(text)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        socket.closed = True
        await socket.stop()


__all__ = ["router"]
