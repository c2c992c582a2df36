"""What the compat routers share: the `/v1` auth dependency and `data:`-only SSE.

Letta's and SeekrFlow's streams are plain `data: <json>` lines ending with `data: [DONE]`, with
no `event:` names, ids or comment heartbeats (SeekrFlow's SDK parser chokes on comment lines).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Header, Request
from starlette.responses import StreamingResponse

from threadloom.api.http import api_key_of, key_allowed
from threadloom.errors import ThreadloomError
from threadloom.serde import dumps


class Unauthorized(ThreadloomError):
    status_code = 401


async def require_api_key(
    request: Request,
    authorization: str | None = Header(None),
    x_api_key: str | None = Header(None),
    x_team_id: str | None = Header(None),
) -> str | None:
    """With `api_keys` configured, `/v1` routes need one: `Authorization: Bearer <key>` (Letta),
    a bare `Authorization: <key>` (SeekrFlow's SDK) or `x-api-key`. `x-team-id` is accepted
    and recorded on the request (single-tenant: it selects nothing yet)."""
    request.state.team_id = x_team_id
    keys: list[str] = request.app.state.settings.api_keys
    if not keys:
        return None
    given = api_key_of(authorization, x_api_key)
    if not key_allowed(given, keys):
        raise Unauthorized("Missing or invalid API key")
    return given


def sse_data(chunks: AsyncIterator[list[dict[str, Any]]]) -> StreamingResponse:
    """Stream batches of JSON objects as `data:` lines, then `data: [DONE]`."""

    async def body() -> AsyncIterator[bytes]:
        async for batch in chunks:
            if batch:
                yield b"".join(b"data: %s\n\n" % dumps(item) for item in batch)
        yield b"data: [DONE]\n\n"

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
