"""The run-creating routes, served without FastAPI's per-request machinery.

Creating a run is the request an agent server gets most, and the one whose latency users feel.
FastAPI spends ~0.6 ms of a just-woken process on it before any of Threadloom's code runs
(exception and body-limit layers, routing, dependency solving, body parsing): more than the
rest of the API's work on the request. Here the six run-creating routes are matched directly,
the body is validated by the same pydantic model (`RunCreate`), and the same functions answer
(`respond_created`, `respond_stream`, `respond_wait` in api/runs.py).

Only the happy path is taken here: a body that does not validate is handed to FastAPI as
received, so validation errors, OpenAPI and every other route stay exactly FastAPI's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadloom.api.http import BodyTooLarge, error_response, response_for_error
from threadloom.api.json_body import InvalidBody, parse_json
from threadloom.api.runs import respond_created, respond_stream, respond_wait
from threadloom.api.schemas import RunCreate
from threadloom.auth import request_context
from threadloom.services.context import ServerContext

Responder = Callable[[ServerContext, RunCreate, str | None, Mapping[str, str]], Awaitable[Response]]

STATELESS: dict[str, Responder] = {
    "/runs": respond_created,
    "/runs/stream": respond_stream,
    "/runs/wait": respond_wait,
}
ON_THREAD: dict[str, Responder] = {
    "": respond_created,
    "/stream": respond_stream,
    "/wait": respond_wait,
}


def match(path: str) -> tuple[Responder, str | None] | None:
    """(responder, thread id or None) for a run-creating path; None for any other path."""
    if path.startswith("/runs"):
        responder = STATELESS.get(path)
        return (responder, None) if responder is not None else None
    if not path.startswith("/threads/"):
        return None
    thread_id, sep, rest = path[9:].partition("/runs")
    if not sep or not thread_id or "/" in thread_id:
        return None
    responder = ON_THREAD.get(rest)
    return (responder, thread_id) if responder is not None else None


def template(path: str, matched: tuple[Responder, str | None]) -> str:
    """The route template of a path `match` took (the metrics' `route` label)."""
    if matched[1] is None:
        return path
    return "/threads/{thread_id}/runs" + path.partition("/runs")[2]


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client went away before sending all of it.
    (`receive` raises `BodyTooLarge` past the limit: RequestMiddleware wraps it.)"""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out `body` once, then defers to the connection."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def serve(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    route: tuple[Responder, str | None],
) -> None:
    try:
        body = await read_body(receive)
    except BodyTooLarge as exc:
        await error_response(413, exc.detail)(scope, receive, send)
        return
    if body is None:
        return  # the client is gone: nothing to answer, no run created
    try:
        payload = RunCreate.model_validate(parse_json(body))  # the routes' strict parser
    except (ValidationError, InvalidBody):  # FastAPI says what is wrong, in its own words
        await app(scope, replay(body, receive), send)
        return
    responder, thread_id = route
    # lower-case names already (ASGI); a repeated header keeps its first value, as Starlette's
    headers: dict[str, str] = {}
    for key, value in scope["headers"]:
        headers.setdefault(key.decode("latin-1"), value.decode("latin-1"))
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    try:
        ctx: ServerContext = request_context(scope["app"].state.ctx, scope)
        response = await responder(ctx, payload, thread_id, headers)
        await response(scope, receive, tracking_send)
    except Exception as exc:
        if started:  # too late for an error response: the connection is cut (as in FastAPI)
            raise
        await response_for_error(exc, scope["method"], scope["path"])(scope, receive, send)
