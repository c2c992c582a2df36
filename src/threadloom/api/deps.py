"""Dependencies every router uses: the server context and pagination headers.

Dependencies are `async def` on purpose: FastAPI runs plain `def` ones in a thread pool.
"""

from __future__ import annotations

from fastapi import Request, Response

from threadloom.services.context import ServerContext


async def get_ctx(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


def pagination_headers(response: Response, *, total: int, offset: int, count: int) -> None:
    """`X-Pagination-Total` and, when more remain, `X-Pagination-Next` (the next offset)."""
    response.headers["X-Pagination-Total"] = str(total)
    if offset + count < total:
        response.headers["X-Pagination-Next"] = str(offset + count)
