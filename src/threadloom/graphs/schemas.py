"""JSON schemas and drawable structure of a graph, for `/assistants/{id}/schemas|graph|subgraphs`.

Studio calls these on every page load; a graph with one exotic type in its state must still
render, so each schema is built on its own and a failure becomes `None` plus a log line.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import is_dataclass
from inspect import isclass
from typing import Any, is_typeddict

from pydantic import BaseModel, TypeAdapter, create_model

logger = logging.getLogger("threadloom")

SCHEMA_KEYS = ("input_schema", "output_schema", "state_schema", "config_schema", "context_schema")


def graph_schemas(graph: Any) -> dict[str, dict[str, Any] | None]:
    """`{input_schema, output_schema, state_schema, config_schema, context_schema}`."""
    name = _name(graph)
    return {
        "input_schema": _safe(name, "input", lambda: graph.get_input_jsonschema()),
        "output_schema": _safe(name, "output", lambda: graph.get_output_jsonschema()),
        "state_schema": _safe(name, "state", lambda: state_jsonschema(graph)),
        "config_schema": _safe(name, "config", lambda: config_jsonschema(graph)),
        "context_schema": _safe(name, "context", lambda: context_jsonschema(graph)),
    }


def state_jsonschema(graph: Any) -> dict[str, Any] | None:
    """The full state: the StateGraph's state type, else every streamed channel's value type."""
    builder = getattr(graph, "builder", None)
    state_type = getattr(builder, "state_schema", None)
    if state_type is not None:
        if isclass(state_type) and issubclass(state_type, BaseModel):
            return state_type.model_json_schema()
        if is_typeddict(state_type) or is_dataclass(state_type):
            return TypeAdapter(state_type).json_schema()
    channels = getattr(graph, "channels", None)
    stream_channels = getattr(graph, "stream_channels_list", None)
    if not channels or stream_channels is None:
        return None
    fields: dict[str, Any] = {}
    for key in stream_channels:
        channel = channels.get(key)
        value_type = getattr(channel, "ValueType", None)
        if value_type is not None:
            fields[key] = (value_type, None)
    model = create_model(graph.get_name("State"), **fields)
    return model.model_json_schema()


# configurable keys the server owns: never part of a served config schema
_SERVER_CONFIGURABLE = (
    "__pregel_checkpointer",
    "__pregel_store",
    "checkpoint_id",
    "checkpoint_ns",
    "thread_id",
)


def config_jsonschema(graph: Any) -> dict[str, Any] | None:
    """The (deprecated in LangGraph 1.x but still served) config schema, as the reference
    serves it: the schema of what goes *in* `configurable` (for a graph with a
    `context_schema`, that schema itself), titled after the graph's config type, without the
    server's own keys; `{}` for a graph whose config has no `configurable`."""
    getter = getattr(graph, "config_schema", None)
    if getter is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = getter()
        config_type = getattr(graph, "config_type", None)
    fields = getattr(model, "model_fields", None)
    if not fields or "configurable" not in fields:
        return {}
    annotation: Any = fields["configurable"].annotation
    schema: dict[str, Any] = TypeAdapter(annotation).json_schema()
    if schema:
        properties = schema["properties"]  # a schema without them is served as none (None)
        for key in _SERVER_CONFIGURABLE:
            properties.pop(key, None)
    name = getattr(config_type, "__name__", None)
    if config_type is not None and name is not None:
        schema["title"] = name
    return schema


def context_jsonschema(graph: Any) -> dict[str, Any] | None:
    getter = getattr(graph, "get_context_jsonschema", None)
    return getter() if getter is not None else None


def drawable_graph(graph: Any, xray: bool | int = False) -> dict[str, Any]:
    """`{nodes: [{id, type, data, metadata?}], edges: [{source, target, data?, conditional}]}`.

    Raises ValueError when the graph cannot be drawn (the API answers 422).
    """
    try:
        drawable = graph.get_graph(xray=xray)
    except Exception as exc:
        raise ValueError(f"graph {_name(graph)!r} cannot be drawn: {exc}") from exc
    return _drawable_json(drawable)


async def adrawable_graph(graph: Any, xray: bool | int = False) -> dict[str, Any]:
    """Async variant: lets remote or async subgraphs be fetched without blocking the loop."""
    getter = getattr(graph, "aget_graph", None)
    if getter is None:
        return drawable_graph(graph, xray)
    try:
        drawable = await getter(xray=xray)
    except Exception as exc:
        raise ValueError(f"graph {_name(graph)!r} cannot be drawn: {exc}") from exc
    return _drawable_json(drawable)


def _drawable_json(drawable: Any) -> dict[str, Any]:
    data: dict[str, Any] = drawable.to_json()
    for edge in data.get("edges", []):
        edge["conditional"] = bool(edge.get("conditional", False))
    return data


def subgraph_schemas(
    graph: Any, namespace: str | None = None, recurse: bool = False
) -> dict[str, dict[str, dict[str, Any] | None]]:
    """`{namespace: schemas}` for the graph's subgraphs (namespaces joined with `|`)."""
    getter = getattr(graph, "get_subgraphs", None)
    if getter is None:
        return {}
    return {ns: graph_schemas(sub) for ns, sub in getter(namespace=namespace, recurse=recurse)}


async def asubgraph_schemas(
    graph: Any, namespace: str | None = None, recurse: bool = False
) -> dict[str, dict[str, dict[str, Any] | None]]:
    """Async variant of `subgraph_schemas`, using `aget_subgraphs`."""
    getter = getattr(graph, "aget_subgraphs", None)
    if getter is None:
        return subgraph_schemas(graph, namespace, recurse)
    return {
        ns: graph_schemas(sub) async for ns, sub in getter(namespace=namespace, recurse=recurse)
    }


def _safe(graph_name: str, what: str, build: Callable[[], dict[str, Any] | None]) -> Any:
    try:
        return build()
    except Exception as exc:
        logger.warning("graph %r: cannot build its %s schema: %s", graph_name, what, exc)
        return None


def _name(graph: Any) -> str:
    return str(getattr(graph, "name", None) or type(graph).__name__)
