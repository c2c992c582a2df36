"""Turning LangGraph stream chunks into the SSE events of the Agent Server API (reference §6.2).

Most modes are forwarded raw under their own name (`debug` checkpoints gain the API's
`checkpoint`/`parent_checkpoint` objects). Two need work: `messages-tuple` is LangGraph's
`messages` mode renamed, and `messages` is accumulated server-side into
`messages/metadata` / `messages/partial` / `messages/complete`. Subgraph events are named
`mode|ns1|ns2` — except the accumulated `messages/*` events, which the reference names without a
namespace whatever graph they come from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage, BaseMessageChunk, message_chunk_to_message

from threadloom.serde import dumps
from threadloom.state_view import render_debug_checkpoint

STREAM_MODES: frozenset[str] = frozenset(
    {
        "values",
        "updates",
        "messages",
        "messages-tuple",
        "custom",
        "debug",
        "tasks",
        "checkpoints",
        "events",
    }
)
# API modes forwarded raw (the LangGraph mode has the same name)
RAW_MODES: frozenset[str] = frozenset(
    {"values", "updates", "custom", "debug", "tasks", "checkpoints"}
)

Encoded = list[tuple[str, bytes]]


def requested_modes(stream_mode: Any) -> list[str]:
    """Normalise the run's `stream_mode` (str, list or missing) to a de-duplicated list."""
    if stream_mode is None:
        return ["values"]
    modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)
    out: list[str] = []
    for mode in modes:
        if mode in STREAM_MODES and mode not in out:
            out.append(mode)
    return out or ["values"]


def event_name(mode: str, ns: Sequence[str]) -> str:
    return mode if not ns else mode + "|" + "|".join(ns)


class StreamTranslator:
    """Per-run state for turning `(ns, mode, chunk)` triples into encoded SSE events.

    `graph_modes` is what to ask LangGraph for: always `values` (the last one is the /wait result
    and tells whether the run paused), plus what the requested modes need.
    """

    def __init__(self, modes: Sequence[str], *, track_state: bool = False) -> None:
        """`track_state` also follows the root checkpoints, whose values are the whole state
        (`values` events carry only the output schema's keys): `last_state`."""
        self.modes = list(modes)
        self.events_mode = "events" in modes
        self.raw = frozenset(m for m in modes if m in RAW_MODES)
        self.messages_tuple = "messages-tuple" in modes
        self.messages_accumulate = "messages" in modes
        graph_modes = ["values"]
        for mode in modes:
            if mode in RAW_MODES and mode not in graph_modes:
                graph_modes.append(mode)
        if self.messages_tuple or self.messages_accumulate:
            graph_modes.append("messages")
        if track_state and "checkpoints" not in graph_modes:
            graph_modes.append("checkpoints")
        self.graph_modes = graph_modes
        self.last_values: Any = None
        self.last_state: Any = None
        self.saw_values = False
        self.saw_interrupt = False
        self._seen: set[str] = set()
        self._partial: dict[str, BaseMessageChunk] = {}
        self._anon = 0

    def translate(self, ns: Sequence[str], mode: str, chunk: Any) -> Encoded:
        """Encoded events for one LangGraph chunk (often none or one)."""
        if mode == "values" and not ns:
            self.last_values = chunk
            self.saw_values = True
            if isinstance(chunk, dict) and chunk.get("__interrupt__"):
                self.saw_interrupt = True
        elif mode == "updates" and not ns and isinstance(chunk, dict) and "__interrupt__" in chunk:
            self.saw_interrupt = True
        elif mode == "checkpoints" and not ns and isinstance(chunk, dict):
            self.last_state = chunk.get("values")
        if mode in self.raw:
            if mode == "debug" and isinstance(chunk, dict) and chunk.get("type") == "checkpoint":
                chunk = {**chunk, "payload": render_debug_checkpoint(chunk.get("payload"))}
            return [(event_name(mode, ns), dumps(chunk))]
        if mode == "messages":
            # as the reference: asking for both modes gets the tuples only
            if self.messages_tuple:
                return [(event_name("messages", ns), dumps(chunk))]
            if self.messages_accumulate:
                return self._accumulate(chunk)
        return []

    def _accumulate(self, chunk: Any) -> Encoded:
        """`messages` mode: `messages/metadata` the first time a message id is seen, then for a
        chunk `messages/partial` with the message accumulated so far (as a whole message), for
        a whole message `messages/complete`. A streamed message gets no `messages/complete`."""
        try:
            message, metadata = chunk
        except (TypeError, ValueError):
            return []
        if not isinstance(message, BaseMessage):
            return []
        msg_id = message.id
        if not msg_id:
            self._anon += 1
            msg_id = f"__anonymous_{self._anon}"
        out: Encoded = []
        previous = self._partial.get(msg_id)
        if msg_id not in self._seen:
            self._seen.add(msg_id)
            out.append(("messages/metadata", dumps({msg_id: {"metadata": metadata}})))
        if isinstance(message, BaseMessageChunk):
            merged = message if previous is None else previous + message
            self._partial[msg_id] = merged
            out.append(("messages/partial", dumps([message_chunk_to_message(merged)])))
        else:
            self._partial.pop(msg_id, None)
            out.append(("messages/complete", dumps([message])))
        return out


def split_part(part: Any, subgraphs: bool) -> tuple[tuple[str, ...], str, Any]:
    """LangGraph yields `(mode, chunk)`, or `(ns, mode, chunk)` with subgraphs=True."""
    if subgraphs:
        ns, mode, chunk = part
        return ns, mode, chunk
    mode, chunk = part
    return (), mode, chunk
