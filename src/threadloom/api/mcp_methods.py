"""The MCP methods `/mcp` answers (api/mcp.py frames them): `initialize` (the client's protocol
version if this server speaks it, else the newest it does — the handshake versions of the `mcp`
SDK), `ping`, `tools/list` and `tools/call` (services/mcp_tools.py).

Results are built with the `mcp` SDK's protocol types, so what goes out is what its clients
parse. api/mcp.py imports this module when the first JSON-RPC request arrives, so the SDK is
loaded only by a server that MCP clients talk to.
"""

from __future__ import annotations

from typing import Any

import mcp.types as mcp_types
from fastapi import Request
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION
from pydantic import ValidationError

import threadloom
from threadloom.api.schemas import RunCreate
from threadloom.errors import Forbidden, Rejected, ThreadloomError
from threadloom.services import mcp_tools
from threadloom.services.context import ServerContext

SERVER_NAME = "LangGraph"  # what the reference calls itself; clients show it


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_none=True, exclude_unset=True, mode="json")


def rpc_error(code: int, message: str) -> dict[str, Any]:
    return {"error": _dump(mcp_types.ErrorData(code=code, message=message))}


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


async def answer(ctx: ServerContext, method: str, params: Any, request: Request) -> dict[str, Any]:
    """`{"result": …}` or `{"error": …}` of one JSON-RPC request (absent params are `{}`)."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return rpc_error(mcp_types.INVALID_PARAMS, "Invalid params: must be an object")
    if method == "initialize":
        return initialize(params)
    if method == "ping":
        return {"result": {}}
    if method == "tools/list":
        return await tools_list(ctx, params)
    if method == "tools/call":
        return await tools_call(ctx, params, request)
    return rpc_error(mcp_types.METHOD_NOT_FOUND, f"Method not found: {method}")
