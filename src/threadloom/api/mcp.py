"""`/mcp`: the assistants as MCP tools over Streamable HTTP, stateless and JSON-only.

One POST carries one JSON-RPC message and gets one `application/json` answer; there are no
sessions (no `Mcp-Session-Id`), so `GET` (a server-initiated stream) is 405 and `DELETE` (ending a
session) finds none: 404, as the reference answers. This module is the transport: the framing
checks and the routes. A request's method is answered by api/mcp_methods.py (`initialize`,
`ping`, `tools/list`, `tools/call`), built with the `mcp` SDK's protocol types and imported on
the first request: the SDK is ~24 MB of a process's memory, which a server no MCP client
talks to need not hold. Notifications and responses from the client are acknowledged with 202
and no body.

The framing errors keep the reference's statuses and words (`{"error": ...}`), with
Threadloom's `detail` beside them.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from threadloom.api.deps import get_ctx
from threadloom.api.docs import JSON_RPC, status_only
from threadloom.api.http import JSONResponse
from threadloom.api.json_body import InvalidBody, parse_json
from threadloom.services.context import ServerContext

router = APIRouter(tags=["MCP"], default_response_class=JSONResponse)


def framing_error(message: str, status_code: int = 400) -> Response:
    return JSONResponse({"error": message, "detail": message}, status_code=status_code)


def accepts(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept or "text/event-stream" in accept


@router.post(
    "/mcp", summary="MCP Streamable HTTP endpoint (one JSON-RPC message)", responses=JSON_RPC
)
async def post_mcp(request: Request, ctx: ServerContext = Depends(get_ctx)) -> Response:
    try:
        message = parse_json(await request.body())
    except InvalidBody:
        return framing_error("Invalid JSON")
    if not accepts(request):
        return framing_error("Accept header must include application/json or text/event-stream")
    if not isinstance(message, dict):
        return framing_error("Invalid message format.")
    if message.get("jsonrpc") != "2.0":
        return framing_error("Invalid JSON-RPC message. Missing or invalid jsonrpc version.")
    id_, method = message.get("id"), message.get("method")
    if id_ is not None and method:
        if not isinstance(method, str) or not isinstance(id_, (str, int)):
            return framing_error("Invalid JSON-RPC request: id must be a string or a number.")
        from threadloom.api import mcp_methods  # the `mcp` SDK: on the first request only

        answer = await mcp_methods.answer(ctx, method, message.get("params"), request)
        return JSONResponse({"jsonrpc": "2.0", "id": id_, **answer})
    if id_ is not None or method:  # a response, or a notification: nothing to answer
        return Response(status_code=202)
    return framing_error(
        "Invalid message format. A message is to be either a JSON-RPC request, response, "
        "or notification. Please see the Messages section of the Streamable HTTP RFC for "
        "more information."
    )


@router.get(
    "/mcp",
    summary="MCP server-initiated stream (not offered: stateless)",
    responses=status_only(405, "Not offered: the server is stateless"),
)
async def get_mcp() -> Response:
    return Response(status_code=405, headers={"Allow": "POST, DELETE"})


@router.delete(
    "/mcp",
    summary="MCP session termination (no sessions: stateless)",
    responses=status_only(404, "No such session: the server keeps none"),
)
async def delete_mcp() -> Response:
    return Response(status_code=404)
