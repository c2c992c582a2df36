"""A2A messages and parts, both ways, free of I/O: a message's parts as a run's input, a
thread's LangChain messages as A2A history, a run's output as the answer's parts and artifacts.

A2A 1.0 JSON throughout (`ROLE_USER`, camelCase), with the `kind` markers 0.3 clients read;
services/a2a.py uses these to map tasks onto runs.
"""

from __future__ import annotations

import uuid
from typing import Any

from threadloom.errors import ThreadloomError

# JSON-RPC and A2A error codes
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TASK_NOT_FOUND = -32001
TASK_NOT_CANCELABLE = -32002
UNSUPPORTED_OPERATION = -32004
CONTENT_TYPE_NOT_SUPPORTED = -32005
_USER_TYPES = {"human", "humanmessage", "humanmessagechunk"}
_AGENT_TYPES = {"ai", "aimessage", "aimessagechunk"}
_CHAT_TYPES = {"chat", "chatmessage", "chatmessagechunk"}


class A2AError(ThreadloomError):
    """An A2A method's error answer: a JSON-RPC error object in a 200 response."""

    status_code = 200

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def agent_message(text: str, task_id: str, context_id: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "kind": "message",
        "role": "ROLE_AGENT",
        "parts": [{"kind": "text", "text": text}],
        "messageId": str(uuid.uuid4()),
        "taskId": task_id,
    }
    if context_id is not None:
        message["contextId"] = context_id
    return message


# --- a message in -------------------------------------------------------------------------
def block_type(mime_type: Any) -> str:
    """The LangChain content-block type for a MIME type (image, audio, video, else file)."""
    top = mime_type.split("/", 1)[0].strip().lower() if isinstance(mime_type, str) else ""
    return top if top in ("image", "audio", "video") else "file"


def file_block(part: dict[str, Any]) -> dict[str, Any]:
    """A file part (0.3 `{"file": {"bytes"|"uri", "mimeType", "name"}}`, 1.0 `{"url"|"raw",
    "mediaType", "filename"}`) as a LangChain content block. A URI is passed on as `url`,
    never fetched here."""
    if "file" in part:
        file = part["file"]
        if not isinstance(file, dict):
            raise A2AError(
                CONTENT_TYPE_NOT_SUPPORTED,
                "FilePart must contain a 'file' object with 'bytes' or 'uri'.",
            )
        data, uri = file.get("bytes"), file.get("uri")
        mime, name = file.get("mimeType"), file.get("name")
    else:
        data, uri = part.get("raw"), part.get("url")
        mime, name = part.get("mediaType"), part.get("filename")
    if (data is None) == (uri is None):
        raise A2AError(
            CONTENT_TYPE_NOT_SUPPORTED, "A file part must contain exactly one of bytes or a URI."
        )
    block: dict[str, Any] = {"type": block_type(mime)}
    if data is not None:
        block["base64"] = data
    else:
        block["url"] = uri
    if mime:
        block["mime_type"] = mime
    if name:
        block["extras"] = {"filename": name}
    return block


FILE_KEYS = ("file", "url", "raw")


def run_input(
    parts: list[dict[str, Any]], role: str, message_id: str, task_start_id: str | None
) -> dict[str, Any]:
    """The run's input for an A2A message's parts: text parts as messages (one message of
    content blocks when a file is among them), data parts merged into the input."""
    messages: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    lc_role = "human" if role == "ROLE_USER" else "assistant"
    with_files = any(k in part for part in parts for k in FILE_KEYS)
    for part in parts:
        kinds = [k for k in ("text", "data", *FILE_KEYS) if k in part]
        if len(kinds) != 1:
            raise A2AError(
                CONTENT_TYPE_NOT_SUPPORTED,
                "Each message part must contain exactly one of 'text', 'file', or 'data'. "
                f"Got: {kinds}.",
            )
        if "text" in part:
            if with_files:
                blocks.append({"type": "text", "text": part["text"]})
            else:
                messages.append({"role": lc_role, "content": part["text"], "id": message_id})
        elif "data" in part:
            if not isinstance(part["data"], dict):
                raise A2AError(
                    CONTENT_TYPE_NOT_SUPPORTED,
                    "DataPart must contain a JSON object in the 'data' field",
                )
            data.update(part["data"])
        else:
            blocks.append(file_block(part))
    if blocks:
        messages.append({"role": lc_role, "content": blocks, "id": message_id})
    if task_start_id:
        for message in messages:
            message["additional_kwargs"] = {"a2a": {"task_start_id": task_start_id}}
    if not messages and not data:
        raise A2AError(
            CONTENT_TYPE_NOT_SUPPORTED,
            "Message must contain at least one valid text, data, or file part",
        )
    return {**({"messages": messages} if messages else {}), **data}


def _label(value: Any) -> str:
    return value.lower().replace("_", "").replace("-", "") if isinstance(value, str) else ""


def role_of(message: dict[str, Any]) -> str | None:
    kind, role = _label(message.get("type")), _label(message.get("role"))
    by_type = by_role = None
    if kind:
        if kind in _USER_TYPES:
            by_type = "ROLE_USER"
        elif kind in _AGENT_TYPES:
            by_type = "ROLE_AGENT"
        elif kind not in _CHAT_TYPES:
            return None
    if role:
        if role in ("human", "user"):
            by_role = "ROLE_USER"
        elif role in ("agent", "assistant"):
            by_role = "ROLE_AGENT"
        else:
            return None
    if by_type and by_role and by_type != by_role:
        return None
    return by_type or by_role


def file_part(block: dict[str, Any]) -> dict[str, Any]:
    """A LangChain media content block as an A2A file part."""
    file: dict[str, Any] = {}
    if block.get("url") is not None:
        file["uri"] = block["url"]
    else:
        file["bytes"] = (
            block.get("base64") if block.get("base64") is not None else block.get("data")
        )
    if block.get("mime_type"):
        file["mimeType"] = block["mime_type"]
    extras = block.get("extras")
    name = block.get("filename") or (extras.get("filename") if isinstance(extras, dict) else None)
    if name:
        file["name"] = name
    return {"kind": "file", "file": file}


def content_parts(content: Any) -> list[dict[str, Any]]:
    """A LangChain message's content as A2A parts: runs of text as one text part, media
    blocks as file parts."""
    if isinstance(content, str):
        return [{"kind": "text", "text": content}]
    if content is None:
        return []
    if not isinstance(content, list):
        return [{"kind": "text", "text": str(content)}]
    parts: list[dict[str, Any]] = []
    text: list[str] = []

    def flush() -> None:
        if text:
            parts.append({"kind": "text", "text": "".join(text)})
            text.clear()

    for block in content:
        if isinstance(block, str):
            text.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            if isinstance(block.get("text"), str):
                text.append(block["text"])
        elif isinstance(block, dict) and block.get("type") in ("image", "audio", "video", "file"):
            flush()
            parts.append(file_part(block))
    flush()
    return parts


def _has_content(parts: list[dict[str, Any]]) -> bool:
    return any(p.get("kind") in ("data", "file") or p.get("text") for p in parts)


def tool_result(message: dict[str, Any]) -> dict[str, Any] | None:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        return None
    out: dict[str, Any] = {"toolCallId": call_id}
    if message.get("content") not in (None, ""):
        out["content"] = message["content"]
    for key in ("name", "status"):
        if isinstance(message.get(key), str) and message[key]:
            out[key] = message[key]
    return out


def tool_results_part(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "data", "data": {"tool_results": results}}


def history(
    messages: list[Any],
    task_id: str,
    context_id: str,
    *,
    task_ids: dict[str, str],
    length: int | None,
    scope: str = "context",
) -> list[dict[str, Any]]:
    """The thread's messages as A2A messages: human and AI turns as text, a tool's result
    as a data part; system messages, empty AI messages (tool calls only) and messages of no
    known task are left out."""
    current: str | None = None if scope == "task" else task_id
    known = set(task_ids.values())
    out = []
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        extra = msg.get("additional_kwargs")
        stored = extra.get("a2a") if isinstance(extra, dict) else None
        if isinstance(stored, dict):
            if isinstance(stored.get("task_id"), str) and stored["task_id"]:
                tid = stored["task_id"]
                current = tid if tid == task_id or tid in known else None
            elif isinstance(stored.get("task_start_id"), str) and stored["task_start_id"]:
                current = task_ids.get(stored["task_start_id"])
        if current is None:
            continue
        role = role_of(msg)
        if role is None:
            result = tool_result(msg)
            if result is None:
                continue
            role, parts = "ROLE_AGENT", [tool_results_part([result])]
        else:
            parts = content_parts(msg.get("content", ""))
            if role == "ROLE_AGENT" and not _has_content(parts):
                continue
            parts = parts or [{"kind": "text", "text": ""}]
        out.append(
            {
                "kind": "message",
                "role": role,
                "parts": parts,
                "messageId": msg.get("id") or str(uuid.uuid4()),
                "taskId": current,
                "contextId": context_id,
            }
        )
    if scope == "task":
        out = [m for m in out if m["taskId"] == task_id]
    if length is None:
        return out
    return out[-length:] if length else []


def _current_turn(messages: list[Any]) -> list[Any]:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], dict) and role_of(messages[index]) == "ROLE_USER":
            return messages[index + 1 :]
    return messages


def reply_parts(output: Any) -> list[dict[str, Any]]:
    """The task's answer: the last agent message of the turn, else the output as text."""
    messages = output.get("messages") if isinstance(output, dict) else None
    if "__error__" in (output or {}) or not isinstance(messages, list) or not messages:
        return [{"kind": "text", "text": str(output)}]
    for message in reversed(_current_turn(messages)):
        if isinstance(message, dict) and role_of(message) == "ROLE_AGENT":
            parts = content_parts(message.get("content"))
            if _has_content(parts):
                return parts
    return [{"kind": "text", "text": ""}]


def response_artifact(parts: list[dict[str, Any]], assistant_id: str) -> dict[str, Any]:
    return {
        "artifactId": str(uuid.uuid4()),
        "name": "Assistant Response",
        "description": f"Response from assistant {assistant_id}",
        "parts": parts,
    }


def interrupt_artifact(interrupts: list[Any]) -> dict[str, Any]:
    parts = []
    for item in interrupts:
        item = item if isinstance(item, dict) else {"value": item}
        data = {"id": item.get("id"), "value": item.get("value")}
        if item.get("response_schema") is not None:
            data["response_schema"] = item["response_schema"]
        parts.append({"kind": "data", "data": data})
    return {
        "artifactId": str(uuid.uuid4()),
        "name": "Interrupt",
        "description": "Agent requires input to continue",
        "parts": parts,
    }
