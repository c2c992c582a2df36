"""`GET /threads/{thread_id}/runs`, a thread's run list, served without FastAPI's per-request
machinery.

A client that follows its threads lists their runs often; FastAPI's query-parameter handling
(`solve_dependencies` over four declared parameters) was ~30 % of the route's time in the
server, more than its indexed query. As api/store_fast_path.py does for the Store API, the
path is matched directly and the route's own functions answer (`services.runs.list_runs`,
`render.run`, `render.select`), so rules and answers stay the route's.

Only the happy path is taken: a query whose values FastAPI would have to judge (not plain
digits, out of range, an unknown status or field, a repeated scalar) goes to FastAPI as
received, so its errors stay FastAPI's. Unknown parameters are ignored, as FastAPI ignores them.
"""

from __future__ import annotations

from typing import get_args
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadloom.api import render
from threadloom.api.http import JSONResponse, response_for_error
from threadloom.api.runs import MAX_LIST_LIMIT, RunSelect, RunStatusName
from threadloom.api.schemas import MAX_INT64
from threadloom.auth import request_context
from threadloom.services import runs as service

TEMPLATE = "/threads/{thread_id}/runs"
_STATUSES = frozenset(get_args(RunStatusName))
_FIELDS = frozenset(get_args(RunSelect))


def match(method: str, path: str) -> str | None:
    """The thread id of a run-list request's path; None for any other request."""
    if method != "GET" or not path.startswith("/threads/") or not path.endswith("/runs"):
        return None
    thread_id = path[9:-5]
    return thread_id if thread_id and "/" not in thread_id else None


def _count(value: str, most: int) -> int | None:
    if not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if number <= most else None


def parse_query(raw: bytes) -> tuple[int, int, str | None, list[str] | None] | None:
    """(limit, offset, status, select) as the route reads them; None: FastAPI decides."""
    limit, offset, status = 10, 0, None
    select: list[str] = []
    seen: set[str] = set()
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if key in ("limit", "offset", "status"):
            if key in seen:
                return None
            seen.add(key)
        if key == "limit":
            parsed = _count(value, MAX_LIST_LIMIT)
            if parsed is None:
                return None
            limit = parsed
        elif key == "offset":
            parsed = _count(value, MAX_INT64)
            if parsed is None:
                return None
            offset = parsed
        elif key == "status":
            if value not in _STATUSES:
                return None
            status = value
        elif key == "select":
            if value not in _FIELDS:
                return None
            select.append(value)
    return limit, offset, status, select or None


async def serve(app: ASGIApp, scope: Scope, receive: Receive, send: Send, thread_id: str) -> None:
    query = parse_query(scope.get("query_string", b""))
    if query is None:
        await app(scope, receive, send)
        return
    limit, offset, status, select = query
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    try:
        ctx = request_context(scope["app"].state.ctx, scope)
        runs = await service.list_runs(ctx, thread_id, limit=limit, offset=offset, status=status)
        response = JSONResponse(render.select((render.run(r) for r in runs), select))
        await response(scope, receive, tracking_send)
    except Exception as exc:
        if started:  # too late for an error response: the connection is cut (as in FastAPI)
            raise
        await response_for_error(exc, "GET", scope["path"])(scope, receive, send)
