"""Assistants as MCP tools: naming, input schemas, and calling one as a stateless run.

Each assistant the caller can see is one tool. Its name is the assistant's name made a valid MCP
tool name (`^[A-Za-z0-9_.-]{1,128}$`), its title the name as given, its `inputSchema` the
assistant's input schema — with LangChain message lists turned into one plain string, the user's
message, which is what a calling model can fill in (LangGraph's `add_messages` takes a string as
a human message). Two assistants whose names normalise alike: the first in search order wins and
the other is left out (calling that name is then ambiguous, an error), as the reference does.

A call is an ordinary stateless run (`services.runs.create_run` with no thread, waited for with
`final_output`): the same validation, multitask rules, auth filters and workers as `/runs/wait`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from threadloom.errors import ThreadloomError
from threadloom.services import assistants as assistant_service
from threadloom.services import runs as run_service
from threadloom.services.context import ServerContext
from threadloom.storage.records import Assistant

logger = logging.getLogger("threadloom.mcp")

PAGE_SIZE = 100  # tools per tools/list page (the cursor is an offset into the assistants)
MAX_ASSISTANTS = 1000  # searched for the one a tools/call names
MAX_NAME = 128
_INVALID = re.compile(r"[^a-zA-Z0-9_\-.]")
_SPACES = re.compile(r"\s+")

MESSAGE_TYPES = frozenset(
    f"{kind}{suffix}"
    for kind in ("AI", "Human", "Chat", "System", "Function", "Tool")
    for suffix in ("Message", "MessageChunk")
)
SUPPORT_TYPES = frozenset(
    {
        "ToolCall",
        "ToolCallChunk",
        "InvalidToolCall",
        "UsageMetadata",
        "InputTokenDetails",
        "OutputTokenDetails",
    }
)
USER_MESSAGE = "The user message to send to the agent."
TOOL_ANNOTATIONS = {
    "readOnlyHint": False,
    "destructiveHint": False,
    "idempotentHint": False,
    "openWorldHint": True,
}


class UnknownTool(ThreadloomError):
    """A tools/call naming no tool, or a name two assistants share (JSON-RPC invalid params)."""

    status_code = 400


def tool_name(name: str) -> str:
    """An assistant's name as an MCP tool name: spaces to `_`, other invalid characters
    dropped, at most 128 characters (may come out empty: such an assistant is no tool)."""
    return _INVALID.sub("", _SPACES.sub("_", name.strip()))[:MAX_NAME]


def _lists_messages(prop: Any) -> bool:
    if not isinstance(prop, dict) or prop.get("type") != "array":
        return False
    items = prop.get("items") or {}
    for option in items.get("oneOf") or items.get("anyOf") or []:
        ref = option.get("$ref", "") if isinstance(option, dict) else ""
        if ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in MESSAGE_TYPES:
            return True
    return False


def tool_input_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The MCP `inputSchema` for an assistant's input schema: an object schema, with a list of
    LangChain messages (and the message definitions it needed) replaced by a string."""
    out = dict(schema or {})
    defs = out.get("$defs")
    if isinstance(defs, dict) and set(defs) & MESSAGE_TYPES:
        kept = {k: v for k, v in defs.items() if k not in MESSAGE_TYPES | SUPPORT_TYPES}
        if kept:
            out["$defs"] = kept
        else:
            out.pop("$defs")
        props = dict(out.get("properties") or {})
        for key, prop in props.items():
            if _lists_messages(prop):
                props[key] = {
                    "type": "string",
                    "title": prop.get("title", key),
                    "description": USER_MESSAGE,
                }
        out["properties"] = props
    out.setdefault("type", "object")
    return out


@dataclass(slots=True)
class ToolPage:
    tools: list[dict[str, Any]]
    next_cursor: int | None


async def _assistants(ctx: ServerContext, *, limit: int, offset: int) -> list[Assistant]:
    page = await assistant_service.search(
        ctx,
        graph_id=None,
        name=None,
        metadata=None,
        limit=limit,
        offset=offset,
        sort_by=None,
        sort_order=None,
    )
    return list(page.items)


async def list_tools(ctx: ServerContext, cursor: int) -> ToolPage:
    """One page of tools, from the assistants at offset `cursor`."""
    assistants = await _assistants(ctx, limit=PAGE_SIZE, offset=cursor)
    seen: set[str] = set()
    tools = []
    for assistant in assistants:
        name = tool_name(assistant.name)
        if name in seen:
            logger.warning(
                "MCP: assistant name %r duplicates tool %r; left out", assistant.name, name
            )
            continue
        seen.add(name)
        try:
            schemas = await assistant_service.schemas(ctx, assistant.assistant_id)
        except Exception as exc:  # a graph whose schema cannot be built is no tool
            logger.warning("MCP: no input schema for assistant %s: %s", assistant.assistant_id, exc)
            continue
        if schemas.get("input_schema") is None:
            logger.warning("MCP: no input schema for assistant %s", assistant.assistant_id)
            continue
        tools.append(
            {
                "name": name,
                "title": assistant.name,
                "description": assistant.description
                or f"Tool based on the {assistant.name} assistant",
                "inputSchema": tool_input_schema(schemas["input_schema"]),
                "annotations": dict(TOOL_ANNOTATIONS),
            }
        )
    next_cursor = cursor + PAGE_SIZE if len(assistants) == PAGE_SIZE else None
    return ToolPage(tools, next_cursor)


async def resolve_tool(ctx: ServerContext, name: str | None) -> str:
    """The assistant id a tool name stands for."""
    if not name:
        raise UnknownTool(f"Unknown tool: {name}")
    matches = [
        a
        for a in await _assistants(ctx, limit=MAX_ASSISTANTS, offset=0)
        if tool_name(a.name) == name
    ]
    if not matches:
        raise UnknownTool(f"Unknown tool: {name}")
    if len(matches) > 1:
        raise UnknownTool("Multiple tools found with the same name.")
    return matches[0].assistant_id


@dataclass(slots=True)
class ToolOutcome:
    text: str
    is_error: bool


async def call_tool(
    ctx: ServerContext, payload: dict[str, Any], request_headers: Mapping[str, str]
) -> ToolOutcome:
    """Run the assistant `payload["assistant_id"]` stateless and wait for it. The result is
    the run's output as Python's `repr` of its JSON (the reference's text); a run that failed
    is an error result naming the error's type."""
    run = await run_service.create_run(
        ctx,
        payload,
        thread_id=None,
        background=False,
        need_values=True,
        durable=False,
        request_headers=request_headers,
    )
    output = await run_service.final_output(ctx, run)
    if isinstance(output, dict) and "__error__" in output:
        error = output["__error__"]
        kind = error.get("error") if isinstance(error, dict) else None
        return ToolOutcome(str(kind or error), True)
    return ToolOutcome(repr(output), False)
