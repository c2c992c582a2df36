"""`/mcp`: the assistants as MCP tools over Streamable HTTP, stateless and JSON-only.

One POST carries one JSON-RPC message and gets one `application/json` answer; there are no
sessions (no `Mcp-Session-Id`), so `GET` (a server-initiated stream) is 405 and `DELETE` (ending a
session) finds none: 404, as the reference answers. The methods are `initialize` (the client's
protocol version if this server speaks it, else the newest it does — the handshake versions of
the `mcp` SDK), `ping`, `tools/list` and `tools/call` (services/mcp_tools.py); notifications
and responses from the client are acknowledged with 202 and no body.

Results are built with the `mcp` SDK's protocol types, so what goes out is what its clients
parse. The framing errors keep the reference's statuses and words (`{"error": ...}`), with
Threadloom's `detail` beside them.
"""

from __future__ import annotations

from typing import Any

import mcp.types as mcp_types
from fastapi import APIRouter, Depends, Request, Response
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION
from pydantic import ValidationError

import threadloom
from threadloom.api.deps import get_ctx
from threadloom.api.docs import JSON_RPC, status_only
from threadloom.api.http import JSONResponse
from threadloom.api.json_body import InvalidBody, parse_json
from threadloom.api.schemas import RunCreate
from threadloom.errors import Forbidden, Rejected, ThreadloomError
from threadloom.services import mcp_tools
from threadloom.services.context import ServerContext

router = APIRouter(tags=["MCP"], default_response_class=JSONResponse)

SERVER_NAME = "LangGraph"  # what the reference calls itself; clients show it


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_none=True, exclude_unset=True, mode="json")


def framing_error(message: str, status_code: int = 400) -> Response:
    return JSONResponse({"error": message, "detail": message}, status_code=status_code)


def rpc_error(code: int, message: str) -> dict[str, Any]:
    return {"error": _dump(mcp_types.ErrorData(code=code, message=message))}


def accepts(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept or "text/event-stream" in accept


def negotiate(requested: Any) -> str:
    """The client's protocol version when this server speaks it, else the newest it does."""
    return requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION


def initialize(params: dict[str, Any]) -> dict[str, Any]:
    result = mcp_types.InitializeResult(
        protocol_version=negotiate(params.get("protocolVersion", LATEST_HANDSHAKE_VERSION)),
        capabilities=mcp_types.ServerCapabilities(
            tools=mcp_types.ToolsCapability(list_changed=False)
        ),
        server_info=mcp_types.Implementation(name=SERVER_NAME, version=threadloom.__version__),
    )
    return {"result": _dump(result)}


def _cursor(params: dict[str, Any]) -> int:
    try:
        return max(int(params.get("cursor", 0)), 0)
    except (TypeError, ValueError):
        return 0


async def tools_list(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    page = await mcp_tools.list_tools(ctx, _cursor(params))
    result: dict[str, Any] = {
        "tools": [_dump(mcp_types.Tool.model_validate(t)) for t in page.tools]
    }
    if page.next_cursor is not None:
        # an offset, as a string: MCP's `Cursor` is a string, and the SDK's client refuses
        # the reference's number (docs/compat.md)
        result["nextCursor"] = str(page.next_cursor)
    return {"result": result}


async def tools_call(
    ctx: ServerContext, params: dict[str, Any], request: Request
) -> dict[str, Any]:
    try:
        assistant_id = await mcp_tools.resolve_tool(ctx, params.get("name"))
        body = RunCreate.model_validate(
            {
                "assistant_id": assistant_id,
                "input": params.get("arguments") or {},
                "context": params.get("context"),
            }
        )
        outcome = await mcp_tools.call_tool(
            ctx, body.model_dump(exclude_none=True), request.headers
        )
    except ValidationError as exc:
        return rpc_error(mcp_types.INVALID_PARAMS, _first_error(exc))
    except (Forbidden, Rejected):
        raise  # the caller may not: an HTTP answer, as on every other route
    except ThreadloomError as exc:  # the run could not be created: the caller's input
        return rpc_error(mcp_types.INVALID_PARAMS, exc.detail)
    result = _dump(
        mcp_types.CallToolResult(
            content=[mcp_types.TextContent(type="text", text=outcome.text)],
            is_error=outcome.is_error,
        )
    )
    if not outcome.is_error:
        result.pop("isError", None)  # the reference says it only when true
    return {"result": result}


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    field = {"input": "arguments"}.get(where, where)
    return f"Invalid params: {field}: {err.get('msg', 'invalid')}"


async def dispatch(
    ctx: ServerContext, method: str, params: dict[str, Any], request: Request
) -> dict[str, Any]:
    if method == "initialize":
        return initialize(params)
    if method == "ping":
        return {"result": {}}
    if method == "tools/list":
        return await tools_list(ctx, params)
    if method == "tools/call":
        return await tools_call(ctx, params, request)
    return rpc_error(mcp_types.METHOD_NOT_FOUND, f"Method not found: {method}")


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
        params = message.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            answer = rpc_error(mcp_types.INVALID_PARAMS, "Invalid params: must be an object")
        else:
            answer = await dispatch(ctx, method, params, request)
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
