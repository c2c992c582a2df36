"""From a run record to what LangGraph needs: the RunnableConfig, the input and the stream options.

Config layering follows the Agent Server: assistant.config ← thread.config ← run config, with
tags concatenated and `configurable`/`metadata` merged; then server-owned keys are written over
whatever the client sent (reference §5 "Server-side enrichment").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from langgraph.types import Command, Send

from threadloom.auth.users import AuthUser
from threadloom.storage.records import Run

# checkpoint keys a client may set to start from (fork) a given checkpoint
_CHECKPOINT_KEYS = ("checkpoint_id", "checkpoint_ns", "checkpoint_map")


def merge_configs(*configs: dict[str, Any] | None) -> dict[str, Any]:
    """Later configs win; tags concatenate (deduplicated), dict sections merge."""
    merged: dict[str, Any] = {}
    for config in configs:
        if not config:
            continue
        for key, value in config.items():
            if value is None:
                continue
            if key == "tags":
                tags = list(merged.get("tags") or [])
                for tag in value:
                    if tag not in tags:
                        tags.append(tag)
                merged["tags"] = tags
            elif key in ("configurable", "metadata") and isinstance(value, dict):
                merged[key] = {**(merged.get(key) or {}), **value}
            else:
                merged[key] = value
    return merged


def build_config(
    run: Run,
    *,
    graph_id: str,
    assistant_config: dict[str, Any] | None,
    thread_config: dict[str, Any] | None,
    resuming: bool,
) -> dict[str, Any]:
    """The RunnableConfig for one attempt of `run`.

    `resuming` (a retried attempt that already checkpointed) drops any start checkpoint so the
    graph continues from its latest checkpoint instead of re-forking.
    """
    kwargs = run.kwargs
    config = merge_configs(assistant_config, thread_config, kwargs.get("config"))
    configurable: dict[str, Any] = dict(config.get("configurable") or {})
    if not resuming:
        checkpoint = kwargs.get("checkpoint")
        if isinstance(checkpoint, dict):
            for key in _CHECKPOINT_KEYS:
                if checkpoint.get(key) is not None:
                    configurable[key] = checkpoint[key]
        if kwargs.get("checkpoint_id"):
            configurable["checkpoint_id"] = kwargs["checkpoint_id"]
    else:
        for key in _CHECKPOINT_KEYS:
            configurable.pop(key, None)
    configurable.update(
        run_id=run.run_id,
        thread_id=run.thread_id,
        graph_id=graph_id,
        assistant_id=run.assistant_id,
    )
    user = configurable.get("langgraph_auth_user")
    if isinstance(
        user, dict
    ):  # stored as JSON; the graph gets a user (`.identity`, `["identity"]`)
        configurable["langgraph_auth_user"] = AuthUser.from_json(user)
    config["configurable"] = configurable
    config["metadata"] = {
        **(config.get("metadata") or {}),
        **(run.metadata or {}),
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "graph_id": graph_id,
        "assistant_id": run.assistant_id,
        "run_attempt": run.attempt,
    }
    try:  # the root trace id is the run id, so LangSmith traces line up with runs
        config["run_id"] = UUID(run.run_id)
    except ValueError:
        pass
    return config


def latest_state_config(config: dict[str, Any]) -> dict[str, Any]:
    """Config that reads the thread's latest checkpoint (not the one a fork started from)."""
    configurable = {k: v for k, v in config["configurable"].items() if k not in _CHECKPOINT_KEYS}
    return {"configurable": configurable}


def _goto(value: Any) -> Any:
    if isinstance(value, list):
        return [_goto(v) for v in value]
    if isinstance(value, dict) and "node" in value:
        return Send(value["node"], value.get("input"))
    return value


def build_command(command: dict[str, Any]) -> Command[Any]:
    """API `{update, resume, goto}` → `langgraph.types.Command` (goto may hold Sends)."""
    fields: dict[str, Any] = {}
    if command.get("update") is not None:
        update = command["update"]
        # the API sends [[key, value], ...] pairs or a dict
        fields["update"] = [tuple(pair) for pair in update] if isinstance(update, list) else update
    if "resume" in command and command["resume"] is not None:
        fields["resume"] = command["resume"]
    if command.get("goto") is not None:
        fields["goto"] = _goto(command["goto"])
    return Command(**fields)


def build_input(run: Run, *, resuming: bool) -> Any:
    """The graph input: the command if given, else `input` (None = continue from state)."""
    if resuming:
        return None
    command = run.kwargs.get("command")
    if command:
        return build_command(command)
    return run.kwargs.get("input")


def durability(kwargs: Mapping[str, Any]) -> str | None:
    """`durability`, or the legacy `checkpoint_during` (true → async, false → exit)."""
    value = kwargs.get("durability")
    if value in ("sync", "async", "exit"):
        return str(value)
    legacy = kwargs.get("checkpoint_during")
    if legacy is True:
        return "async"
    if legacy is False:
        return "exit"
    return None


def stateless_checkpoint_delay(kwargs: Mapping[str, Any], configured: float) -> float:
    """How long a stateless run's checkpoint writes may be held back: `durability: sync` asks
    for every checkpoint to be written before the next step, so none."""
    return 0.0 if durability(kwargs) == "sync" else configured


def interrupt_nodes(value: Any) -> Any:
    """`"*"` or a list of node names; anything else means none."""
    if value == "*":
        return "*"
    if isinstance(value, list) and value:
        return value
    return None


def graph_context(graph: Any, context: dict[str, Any]) -> dict[str, Any]:
    """The `context` a graph with a `context_schema` is invoked with (the reference's rule).

    Always a dict, empty when the run sent none: LangGraph then builds the schema from its
    defaults (`None` would leave `runtime.context` unset). Keys the schema does not declare are
    dropped, so a run's extra configurable keys do not break a dataclass or model schema.
    """
    if not context:
        return {}
    declared = _context_fields(graph)
    if not declared:
        return context
    return {k: v for k, v in context.items() if k in declared}


_CONTEXT_FIELDS: dict[Any, frozenset[str]] = {}


def _context_fields(graph: Any) -> frozenset[str]:
    """The properties the graph's context JSON schema declares (cached per schema type; empty
    when the schema has none or cannot be built)."""
    schema_type = getattr(graph, "context_schema", None)
    try:
        cached = _CONTEXT_FIELDS.get(schema_type)
    except TypeError:  # an unhashable schema: build it each time
        cached = None
    if cached is not None:
        return cached
    try:
        schema = graph.get_context_jsonschema() or {}
        fields = frozenset((schema.get("properties") or {}).keys())
    except Exception:
        fields = frozenset()
    try:
        _CONTEXT_FIELDS[schema_type] = fields
    except TypeError:
        pass
    return fields
