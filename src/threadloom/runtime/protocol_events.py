"""A run started through the thread protocol (`run.start`, `input.respond`): the graph's v3
event stream (LangGraph's own `astream_events(version="v3")`, which builds the message and
content-block events) turned into entries of the run's ordinary event log.

Each protocol event is one log entry, named `proto:<method>` (`proto:custom:<name>` for a named
custom event) plus `|ns1|ns2` for a subgraph's namespace, with the event's `params` JSON as data.
The name carries everything a subscription filters on, so the HTTP layer routes events without
parsing them and frames them by splicing bytes (`api/protocol_wire.py`). The run's log still
opens with its `metadata` event and ends with a plain `values` (and `error`) event, which `/join`
and the outcome read; the protocol stream skips every entry that is not `proto:`.

What the server adds to LangGraph's stream, as the reference: the root lifecycle (`running` at
the start; `completed`, `interrupted` or `failed` at the end, once the run's end is written),
subgraph lifecycle events under the subgraph's own namespace, and one `input.requested` per
interrupt the run paused on. Whole (not streamed) messages are dropped from `messages`, as the
reference does: that channel carries content-block events only. A custom write is wrapped as
the protocol's `{payload}` unless it already is a `{name?, payload}` envelope, whose name picks
its `custom:<name>` channel.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

from langchain_core._api import LangChainBetaWarning
from langgraph._internal._config import patch_configurable
from langgraph._internal._constants import CONFIG_KEY_STREAM_MESSAGES_V2
from langgraph.pregel.main import _normalize_stream_transformer_factories
from langgraph.stream import LifecycleTransformer
from langgraph.stream._convert import convert_to_protocol_event
from langgraph.stream._mux import StreamMux

from threadloom.serde import dumps

# LangGraph flags its v3 stream experimental on every run; said once here (docs/compat.md)
warnings.filterwarnings(
    "ignore", message="The v3 streaming protocol", category=LangChainBetaWarning
)

PREFIX = "proto:"

# the graph's stream modes a protocol run asks for: one per channel (`tools` is LangGraph's
# tool-call lifecycle; `messages` gives content-block events with the config flag below)
MODES = ["values", "updates", "messages", "custom", "tasks", "checkpoints", "tools"]


def graph_config(config: dict[str, Any]) -> Any:
    """The run's config, asking LangGraph's messages mode for content-block (v2) events."""
    return patch_configurable(config, {CONFIG_KEY_STREAM_MESSAGES_V2: True})  # type: ignore[arg-type]


class Mux:
    """LangGraph's own v3 event pipeline, driven by the executor's loop.

    `graph.astream_events(version="v3")` is this same pipeline behind a pump that hands each
    graph chunk to a new task and wakes its reader through a condition — measured at a fifth of
    `astream`'s event rate. Here the executor iterates `astream` itself (the modes and flag the
    v3 runner would ask for) and pushes each chunk through LangGraph's mux with its lifecycle
    transformer (subgraph `started`/`completed` from task events), synchronously: the same
    events, none of the hand-offs. Only `tasks` chunks (what the lifecycle transformer reads) go
    through the mux unless the graph brought transformers of its own; the rest are translated as
    they come (`entries`). It touches LangGraph's private `_mux`/`_convert` modules;
    tests/unit/test_thread_events.py checks it yields what `astream_events(version="v3")`
    does, so an upgrade that changes them fails there."""

    def __init__(self, graph: Any = None) -> None:
        self.out: list[Any] = []
        self._translator: ProtocolTranslator | None = None
        # a graph compiled with `transformers=[...]` keeps them: their channels and modes too
        own = _normalize_stream_transformer_factories(getattr(graph, "stream_transformers", None))
        self._mux = StreamMux(factories=[LifecycleTransformer, *own], scope=(), is_async=False)
        self._mux._events._wire(self.out.append)
        # only the lifecycle transformer, which reads `tasks` events: every other chunk can be
        # translated without a trip through the mux
        self.direct = not own
        self.modes = list(MODES)
        for transformer in self._mux._transformers:
            for mode in getattr(transformer, "required_stream_modes", ()):
                if mode not in self.modes:
                    self.modes.append(mode)

    def push(self, part: Any) -> list[Any]:
        """The protocol events one `astream(version="v2")` part makes (take them at once)."""
        self._mux.push(convert_to_protocol_event(part))
        return self.out

    def entries(self, part: Any, translator: ProtocolTranslator) -> Encoded:
        """The log entries one part makes: LangGraph's protocol event for it, translated."""
        if self.direct and part["type"] != "tasks":
            return translator.translate_part(
                part["type"], tuple(part["ns"]), part["data"], _now_ms(), part.get("interrupts")
            )
        out: Encoded = []
        for event in self.push(part):
            out.extend(translator.translate(event))
        self.out.clear()
        return out

    def close(self) -> list[Any]:
        self._mux.close()
        return self.out


SEQS_PER_MS = 1000


def seq_floor(now_ns: int | None = None) -> int:
    """The seq a protocol run's log starts after: its start time in ms times 1000. A thread's
    runs run one at a time, so their events number upwards across runs without a shared
    counter (the thread-wide `seq` the protocol replays by), in any process; an attempt that
    found its log lost starts above the earlier attempt too. Below 2**53 until the year 2255."""
    ns = time.time_ns() if now_ns is None else now_ns
    return ns // 1_000_000 * SEQS_PER_MS


def entry_name(method: str, namespace: Sequence[str]) -> str:
    return PREFIX + method + ("|" + "|".join(namespace) if namespace else "")


Encoded = list[tuple[str, bytes]]

_NAMESPACE_JSON: dict[tuple[str, ...], bytes] = {(): b"[]"}
_NAMESPACE_JSON_MAX = 4096  # distinct namespaces remembered (a run's are few)


def _params(namespace: tuple[str, ...], timestamp: Any, data: Any) -> bytes:
    """`{"namespace", "timestamp", "data"}` as JSON, spliced: one is made per event, and the
    namespace's JSON repeats (the same bytes `dumps` gives the whole dict)."""
    ns = _NAMESPACE_JSON.get(namespace)
    if ns is None:
        if len(_NAMESPACE_JSON) >= _NAMESPACE_JSON_MAX:
            _NAMESPACE_JSON.clear()
            _NAMESPACE_JSON[()] = b"[]"
        ns = _NAMESPACE_JSON[namespace] = dumps(list(namespace))
    stamp = b"%d" % timestamp if type(timestamp) is int else dumps(timestamp)
    return b'{"namespace":%s,"timestamp":%s,"data":%s}' % (ns, stamp, dumps(data))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class ProtocolTranslator:
    """Per-run state for turning LangGraph v3 protocol events into log entries. Exposes what
    the executor reads off a v1 `StreamTranslator` too (`last_values`, `saw_interrupt`)."""

    def __init__(self, graph_name: str) -> None:
        self.graph_name = graph_name
        self.last_values: Any = None
        self.last_state: Any = None
        self.saw_values = False
        self.saw_interrupt = False
        self.interrupts: list[Any] = []  # of the last root `values`: what the run paused on
        self._graph_names: dict[tuple[str, ...], str] = {}

    def start(self) -> Encoded:
        data = {"event": "running", "graph_name": self.graph_name}
        return [(entry_name("lifecycle", ()), _params((), _now_ms(), data))]

    def translate(self, event: Any) -> Encoded:
        """Log entries for one LangGraph protocol event (`{method, params}`)."""
        params = event.get("params") or {}
        return self.translate_part(
            event.get("method"),
            tuple(params.get("namespace") or ()),
            params.get("data"),
            params.get("timestamp") or _now_ms(),
            params.get("interrupts"),
        )

    def translate_part(
        self,
        method: Any,
        namespace: tuple[str, ...],
        data: Any,
        timestamp: int,
        interrupts: Any = None,
    ) -> Encoded:
        """Log entries for one event given by its parts (what `Mux.push` hands over)."""
        if method == "values":
            if not namespace:
                self.last_values = data
                self.saw_values = True
                self.interrupts = list(interrupts or ())
                if self.interrupts:
                    self.saw_interrupt = True
            return [(entry_name("values", namespace), _params(namespace, timestamp, data))]
        if method == "messages":
            payload = data[0] if isinstance(data, tuple | list) and len(data) == 2 else data
            if not (isinstance(payload, dict) and isinstance(payload.get("event"), str)):
                return []  # a whole message: the messages channel carries block events only
            return [(entry_name("messages", namespace), _params(namespace, timestamp, payload))]
        if method == "lifecycle":
            return self._lifecycle(namespace, timestamp, data)
        if method == "custom":
            # the protocol's envelope is `{name?, payload}`: a graph that writes one names its
            # channel (`custom:<name>`); anything else it writes is the payload
            if not (isinstance(data, dict) and "payload" in data):
                return [
                    (
                        entry_name("custom", namespace),
                        _params(namespace, timestamp, {"payload": data}),
                    )
                ]
            name = data.get("name")
            channel = f"custom:{name}" if isinstance(name, str) and name else "custom"
            return [(entry_name(channel, namespace), _params(namespace, timestamp, data))]
        if method == "updates" and not namespace and isinstance(data, dict):
            if "__interrupt__" in data:
                self.saw_interrupt = True
        if isinstance(method, str) and method:
            return [(entry_name(method, namespace), _params(namespace, timestamp, data))]
        return []

    def _lifecycle(self, namespace: tuple[str, ...], timestamp: Any, data: Any) -> Encoded:
        """LangGraph reports a subgraph's lifecycle on its parent's namespace, naming the child
        in the data; the protocol puts it on the child's own namespace, with its graph name."""
        if not isinstance(data, dict):
            return []
        child = tuple(data.get("namespace") or namespace)
        graph_name = data.get("graph_name")
        if isinstance(graph_name, str):
            self._graph_names[child] = graph_name
        elif child in self._graph_names:
            data = {**data, "graph_name": self._graph_names[child]}
        return [(entry_name("lifecycle", child), _params(child, timestamp, data))]

    def end(self, status: str, *, paused: bool, error: dict[str, Any] | None) -> Encoded:
        """The run's last protocol events, sent once its end is written: what it paused on
        (`input.requested`), then the root lifecycle's final state."""
        now = _now_ms()
        out: Encoded = []
        if status == "success" and paused:
            for interrupt in self.interrupts:
                interrupt_id = getattr(interrupt, "id", None)
                value = getattr(interrupt, "value", None)
                if interrupt_id is None:
                    continue
                # `payload` is the protocol's field; the Python SDK reads `value`
                request = {"interrupt_id": interrupt_id, "payload": value, "value": value}
                out.append((entry_name("input.requested", ()), _params((), now, request)))
            lifecycle: dict[str, Any] = {"event": "interrupted", "graph_name": self.graph_name}
        elif status == "success":
            lifecycle = {"event": "completed", "graph_name": self.graph_name}
        else:
            message = (error or {}).get("message") or (
                "Run was cancelled" if status == "interrupted" else status
            )
            lifecycle = {"event": "failed", "graph_name": self.graph_name, "error": message}
        out.append((entry_name("lifecycle", ()), _params((), now, lifecycle)))
        return out
