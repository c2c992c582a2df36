"""LangChain messages (as JSON dicts) in the shapes of the compat APIs.

Thread state keeps LangChain messages; Letta and SeekrFlow each have their own message objects.
These helpers read the serialized form (`serde.to_jsonable` of a BaseMessage, or the chunks the
`messages-tuple` stream mode publishes) so they work on checkpoints and on stream events alike.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

ROLE_OF_TYPE = {
    "human": "user",
    "HumanMessageChunk": "user",
    "ai": "assistant",
    "AIMessageChunk": "assistant",
    "tool": "tool",
    "ToolMessageChunk": "tool",
    "system": "system",
    "SystemMessageChunk": "system",
}
TYPE_OF_ROLE = {"user": "human", "assistant": "ai", "tool": "tool", "system": "system"}


def as_dict(message: Any) -> dict[str, Any]:
    """A message object or dict as a plain dict (`model_dump` for LangChain objects)."""
    if isinstance(message, dict):
        return message
    dump = getattr(message, "model_dump", None)
    if callable(dump):
        result = dump()
        if isinstance(result, dict):
            return result
    return {"type": "ai", "content": str(message)}


def role_of(message: dict[str, Any]) -> str:
    kind = message.get("type") or message.get("role") or "ai"
    return ROLE_OF_TYPE.get(str(kind), str(kind))


def text_of(content: Any) -> str:
    """Plain text of a message content (a string, or a list of content blocks)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") in ("text", "output_text", None):
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    return str(content)


def message_id(message: dict[str, Any], fallback_scope: str, index: int) -> str:
    """The message's own id, else a stable one derived from where it sits."""
    mid = message.get("id")
    if mid:
        return str(mid)
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{fallback_scope}/{index}"))


def tool_calls_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Complete tool calls `{id, name, args}` of an AI message."""
    return [c for c in message.get("tool_calls") or () if isinstance(c, dict)]


def arguments_json(args: Any) -> str:
    if isinstance(args, str):
        return args
    return orjson.dumps(args if args is not None else {}).decode()


def new_messages(before: list[Any], after: list[Any]) -> list[dict[str, Any]]:
    """Messages in `after` that `before` did not hold (by id; position when ids are missing)."""
    seen = {as_dict(m).get("id") for m in before}
    seen.discard(None)
    out = []
    for index, raw in enumerate(after):
        message = as_dict(raw)
        mid = message.get("id")
        if mid is not None and mid in seen:
            continue
        if mid is None and index < len(before):
            continue
        out.append(message)
    return out
