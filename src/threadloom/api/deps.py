"""Dependencies every router uses: the server context and pagination headers.

Dependencies are `async def` on purpose: FastAPI runs plain `def` ones in a thread pool.
"""

from __future__ import annotations

from fastapi import Request, Response

from threadloom.auth import request_context
from threadloom.services.context import ServerContext


async def get_ctx(request: Request) -> ServerContext:
    """The server context, scoped to the request's caller under custom auth (its storage then
    asks the project's auth handlers about everything the route reads or writes)."""
    return request_context(request.app.state.ctx, request.scope)


def pagination_headers(response: Response, *, total: int, offset: int, count: int) -> None:
    """`X-Pagination-Total` and, when more remain, `X-Pagination-Next` (the next offset)."""
    response.headers["X-Pagination-Total"] = str(total)
    if offset + count < total:
        response.headers["X-Pagination-Next"] = str(offset + count)
