"""The Store API's item routes, served without FastAPI's per-request machinery.

A memory read or write is a small request a graph-side client makes many of; FastAPI's routing,
dependency solving and body parsing cost more than the store call itself (an in-process
`SqliteStore.get` is ~0.1 ms). As api/hot_path.py does for the run-creating routes,
`PUT / GET / DELETE /store/items` and `POST /store/items/search` are matched directly here,
the body is validated by the routes' own pydantic models (api/store.py) and the same functions
of services/store.py answer, so rules and answers stay the routes'.

Only the happy path is taken: a body or query that does not validate (or repeats a query
parameter, or is missing) is handed to FastAPI as received, so its errors stay FastAPI's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from langgraph.store.base import NOT_PROVIDED
from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadloom.api.hot_path import read_body, replay
from threadloom.api.http import BodyTooLarge, JSONResponse, error_response, response_for_error
from threadloom.api.json_body import InvalidBody, parse_json
from threadloom.api.store import StoreDelete, StorePut, StoreSearch
from threadloom.auth import request_context
from threadloom.services import store as service
from threadloom.services.context import ServerContext

Handler = Callable[[ServerContext, Any], Awaitable[Response]]


class _Fallback(Exception):
    """Not for the fast path: FastAPI answers."""


async def _put(ctx: ServerContext, body: StorePut) -> Response:
    await service.put_item(
        ctx,
        body.namespace,
        body.key,
        body.value,
        index=body.index,
        ttl=body.ttl if "ttl" in body.model_fields_set else NOT_PROVIDED,
    )
    return Response(status_code=204)


async def _delete(ctx: ServerContext, body: StoreDelete) -> Response:
    await service.delete_item(ctx, body.namespace, body.key)
    return Response(status_code=204)


async def _search(ctx: ServerContext, body: StoreSearch) -> Response:
    items = await service.search_items(
        ctx,
        body.namespace_prefix,
        filter=body.filter,
        limit=body.limit,
        offset=body.offset,
        query=body.query,
        refresh_ttl=body.refresh_ttl,
    )
    return JSONResponse({"items": items})


async def _get(ctx: ServerContext, query: dict[str, str]) -> Response:
    refresh = query.get("refresh_ttl")
    item = await service.get_item(
        ctx,
        service.namespace_from_query(query.get("namespace")),
        query.get("key"),
        refresh_ttl=None if refresh is None else refresh.lower() == "true",
    )
    return JSONResponse(item)


BODY_ROUTES: dict[tuple[str, str], tuple[type[BaseModel], Handler]] = {
    ("PUT", "/store/items"): (StorePut, _put),
    ("DELETE", "/store/items"): (StoreDelete, _delete),
    ("POST", "/store/items/search"): (StoreSearch, _search),
}
_GET_PARAMS = frozenset({"key", "namespace", "refresh_ttl"})


def match(method: str, path: str) -> bool:
    return (method, path) in BODY_ROUTES or (method == "GET" and path == "/store/items")


def _query(scope: Scope) -> dict[str, str]:
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise _Fallback  # which one counts is FastAPI's rule
    return {name: value for name, value in pairs if name in _GET_PARAMS}


async def serve(app: ASGIApp, scope: Scope, receive: Receive, send: Send, path: str) -> None:
    """Answer `scope`; `path` is the route's path (inside `http.mount_prefix`, if any)."""
    method = scope["method"]
    body = b""
    try:
        if method == "GET":
            payload: Any = _query(scope)
            handler: Handler = _get
        else:
            try:
                read = await read_body(receive)
            except BodyTooLarge as exc:
                await error_response(413, exc.detail)(scope, receive, send)
                return
            if read is None:
                return  # the client is gone: nothing to answer, nothing written
            body = read
            if not body:
                raise _Fallback  # FastAPI's defaults (or its "body required")
            model, handler = BODY_ROUTES[(method, path)]
            payload = model.model_validate(parse_json(body))
    except (_Fallback, ValidationError, InvalidBody):
        await app(scope, replay(body, receive) if method != "GET" else receive, send)
        return
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    try:
        ctx = request_context(scope["app"].state.ctx, scope)
        response = await handler(ctx, payload)
        await response(scope, receive, tracking_send)
    except Exception as exc:
        if started:
            raise
        await response_for_error(exc, method, path)(scope, receive, send)
