"""Run event logs (LangGraph `messages-tuple` and `error` events) re-rendered as the Letta SSE
chunk stream and the SeekrFlow / Vercel AI SDK UI-message stream.

Renderers are small state machines fed one log event at a time: `feed` returns the chunks the
event becomes, `finish` the closing chunks. Both streams end with `data: [DONE]` (added by the
transport).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from threadloom.services.views import letta_view as letta
from threadloom.services.views.messages import as_dict, role_of, text_of, tool_calls_of
from threadloom.storage.records import Run


def _message_payload(event: str, data: bytes) -> dict[str, Any] | None:
    """The message of a `messages` (tuple mode) event, root graph or subgraph; else None."""
    if event.split("|", 1)[0] != "messages":
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, list) and value:
        value = value[0]
    return as_dict(value) if isinstance(value, dict) else None


def _error_payload(event: str, data: bytes) -> dict[str, Any] | None:
    if event.split("|", 1)[0] != "error":
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        value = {"message": data.decode(errors="replace")}
    return value if isinstance(value, dict) else {"message": str(value)}


class LettaStream:
    """Letta chunks with `seq_id` = the log event's seq, so `starting_after` resumes exactly."""

    def __init__(self, run: Run, *, now: datetime) -> None:
        self.run = run
        self.now = now
        self.last_seq = 0

    def feed(self, seq: int, event: str, data: bytes) -> list[dict[str, Any]]:
        self.last_seq = max(self.last_seq, seq)
        error = _error_payload(event, data)
        if error is not None:
            return [
                {
                    "message_type": "error_message",
                    "error_type": str(error.get("error") or "internal_error"),
                    "message": str(error.get("message") or "The run failed"),
                    "run_id": letta.run_id(self.run.run_id),
                    "seq_id": seq,
                }
            ]
        message = _message_payload(event, data)
        if message is None or role_of(message) == "user":
            return []
        if message.get("type") == "AIMessageChunk":
            return self._chunk(seq, message)
        return letta.render_message(message, run=self.run, index=seq, date=self.now, seq_id=seq)

    def _chunk(self, seq: int, message: dict[str, Any]) -> list[dict[str, Any]]:
        mid = f"message-{message.get('id') or seq}"
        base = {"id": mid, "date": self.now, "run_id": letta.run_id(self.run.run_id), "seq_id": seq}
        out: list[dict[str, Any]] = []
        text = text_of(message.get("content"))
        if text:
            out.append({**base, "message_type": "assistant_message", "content": text})
        for call in message.get("tool_call_chunks") or ():
            if not (call.get("name") or call.get("args")):
                continue
            tool_call = {
                "name": call.get("name") or "",
                "arguments": call.get("args") or "",
                "tool_call_id": call.get("id") or "",
            }
            out.append({**base, "message_type": "tool_call_message", "tool_call": tool_call})
        return out

    def finish(self, run: Run) -> list[dict[str, Any]]:
        """stop_reason then usage_statistics, numbered after the last log event."""
        stop = {
            "message_type": "stop_reason",
            "stop_reason": letta.letta_stop_reason(run) or "end_turn",
            "seq_id": self.last_seq + 1,
        }
        usage = {**letta.usage_statistics(run), "seq_id": self.last_seq + 2}
        return [stop, usage]


class VercelStream:
    """The AI SDK UI-message stream protocol SeekrFlow's `/stream/vercel` speaks: start, text and
    tool-input parts per message, tool outputs, error, finish."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.open_text: str | None = None
        self.tools: dict[str, dict[str, Any]] = {}  # tool_call_id → {name, args}
        self.tool_by_index: dict[int, str] = {}

    def start(self) -> list[dict[str, Any]]:
        return [{"type": "start", "messageId": self.run.run_id}, {"type": "start-step"}]

    def _close_text(self) -> list[dict[str, Any]]:
        if self.open_text is None:
            return []
        closed, self.open_text = self.open_text, None
        return [{"type": "text-end", "id": closed}]

    def feed(self, seq: int, event: str, data: bytes) -> list[dict[str, Any]]:
        error = _error_payload(event, data)
        if error is not None:
            return [*self._close_text(), {"type": "error", "errorText": str(error.get("message"))}]
        message = _message_payload(event, data)
        if message is None or role_of(message) in ("user", "system"):
            return []
        if role_of(message) == "tool":
            call_id = str(message.get("tool_call_id") or "")
            out = self._close_text()
            out += self._tool_available(call_id)
            output = text_of(message.get("content"))
            if message.get("status") == "error":
                out.append(
                    {"type": "tool-output-error", "toolCallId": call_id, "errorText": output}
                )
            else:
                out.append(
                    {"type": "tool-output-available", "toolCallId": call_id, "output": output}
                )
            return out
        out = []
        text = text_of(message.get("content"))
        mid = str(message.get("id") or f"text-{seq}")
        if text:
            if self.open_text != mid:
                out += self._close_text()
                out.append({"type": "text-start", "id": mid})
                self.open_text = mid
            out.append({"type": "text-delta", "id": mid, "delta": text})
        chunks = message.get("tool_call_chunks")
        if chunks is None:  # a whole message: its tool calls are complete
            chunks = [
                {
                    "id": c.get("id"),
                    "name": c.get("name"),
                    "args": orjson.dumps(c.get("args") or {}).decode(),
                    "index": i,
                }
                for i, c in enumerate(tool_calls_of(message))
            ]
        for chunk in chunks:
            out += self._tool_chunk(chunk)
        return out

    def _tool_chunk(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        index = chunk.get("index")
        call_id = chunk.get("id") or (
            self.tool_by_index.get(index) if isinstance(index, int) else None
        )
        if not call_id:
            return []
        out: list[dict[str, Any]] = []
        if call_id not in self.tools:
            out += self._close_text()
            self.tools[call_id] = {"name": chunk.get("name") or "", "args": "", "done": False}
            if isinstance(index, int):
                self.tool_by_index[index] = call_id
            out.append(
                {
                    "type": "tool-input-start",
                    "toolCallId": call_id,
                    "toolName": self.tools[call_id]["name"],
                }
            )
        if chunk.get("args"):
            self.tools[call_id]["args"] += chunk["args"]
            out.append(
                {"type": "tool-input-delta", "toolCallId": call_id, "inputTextDelta": chunk["args"]}
            )
        return out

    def _tool_available(self, call_id: str) -> list[dict[str, Any]]:
        tool = self.tools.get(call_id)
        if tool is None or tool["done"]:
            return []
        tool["done"] = True
        try:
            parsed = orjson.loads(tool["args"]) if tool["args"] else {}
        except orjson.JSONDecodeError:
            parsed = tool["args"]
        return [
            {
                "type": "tool-input-available",
                "toolCallId": call_id,
                "toolName": tool["name"],
                "input": parsed,
            }
        ]

    def finish(self, run: Run) -> list[dict[str, Any]]:
        out = self._close_text()
        for call_id in list(self.tools):
            out += self._tool_available(call_id)
        out.append({"type": "finish-step"})
        out.append(
            {"type": "finish", "messageMetadata": {"run_id": run.run_id, "status": run.status}}
        )
        return out
