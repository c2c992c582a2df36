"""`POST /threads/{thread_id}/commands`, served without FastAPI's per-request machinery.

A thread-protocol client starts and resumes its runs with this request (`run.start`,
`input.respond`): it is that protocol's run-creating route, and its latency is the first part
of the protocol's time to first event. FastAPI's routing and dependency solving cost it ~0.7 ms
of ~1.25 ms in the server (Server-Timing; the run-creating routes answer in ~0.55 ms through
api/hot_path.py). As there, the path is matched directly and the route's own function answers
(`respond_command` in api/thread_protocol.py), so the rules and answers stay the route's; the
middleware takes this path only where the route exists and nothing shadows it.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from threadloom.api.hot_path import read_body
from threadloom.api.http import BodyTooLarge, error_response, response_for_error
from threadloom.api.thread_protocol import respond_command
from threadloom.auth import request_context

SUFFIX = "/commands"
TEMPLATE = "/threads/{thread_id}/commands"


def match(method: str, path: str) -> str | None:
    """The thread id of a command request's path; None for any other request."""
    if method != "POST" or not path.startswith("/threads/") or not path.endswith(SUFFIX):
        return None
    thread_id = path[9 : -len(SUFFIX)]
    return thread_id if thread_id and "/" not in thread_id else None


async def serve(scope: Scope, receive: Receive, send: Send, thread_id: str) -> None:
    try:
        body = await read_body(receive)
    except BodyTooLarge as exc:
        await error_response(413, exc.detail)(scope, receive, send)
        return
    if body is None:
        return  # the client is gone: nothing to answer, no run created
    headers: dict[str, str] = {}
    for key, value in scope["headers"]:  # a repeated header keeps its first value
        headers.setdefault(key.decode("latin-1"), value.decode("latin-1"))
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    try:
        ctx = request_context(scope["app"].state.ctx, scope)
        response = await respond_command(ctx, thread_id, body, headers)
        await response(scope, receive, tracking_send)
    except Exception as exc:
        if started:  # too late for an error response: the connection is cut (as in FastAPI)
            raise
        await response_for_error(exc, "POST", scope["path"])(scope, receive, send)
