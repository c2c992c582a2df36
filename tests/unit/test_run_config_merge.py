"""How a run's config is put together, layer by layer.

Two steps: creating the run (`services.runs`) merges the assistant's config and context, the
run's config or context and the request headers into the run's `kwargs` (as the Agent Server
records them); executing an attempt (`runtime.run_config.build_config`) layers assistant ←
thread ← run config and writes the server-owned keys last. The rules checked here are the ones
the reference server shows a graph (its `config` and `runtime.context`), observed side by side.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from threadloom.errors import InvalidInput
from threadloom.runtime import run_config
from threadloom.services import runs as run_service
from threadloom.services.context import ServerContext
from threadloom.settings import Settings
from threadloom.storage.records import Assistant, Run

THREAD = "0b0b0b0b-0000-4000-8000-000000000001"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def assistant(config: dict[str, Any] | None = None, context: dict[str, Any] | None = None) -> Any:
    return Assistant(
        assistant_id="a0a0a0a0-0000-4000-8000-000000000001",
        graph_id="g",
        config=config or {},
        context=context or {},
        metadata={},
        version=1,
        name="a",
        description=None,
        created_at=NOW,
        updated_at=NOW,
    )


def new_run(
    payload: dict[str, Any],
    owner: Assistant,
    headers: dict[str, str] | None = None,
    thread_id: str | None = THREAD,
) -> Run:
    # the real context type, so every default a service reads is there; no I/O happens here
    ctx = ServerContext(settings=Settings(), storage=None, broker=None, registry=None)  # type: ignore[arg-type]
    body = {"assistant_id": owner.assistant_id, "input": {}, **payload}
    run, _ = run_service._new_run(ctx, body, owner, thread_id, False, False, headers, None)
    return run


def stored(**kwargs: Any) -> Run:
    return Run(
        run_id=str(uuid.uuid4()),
        thread_id=THREAD,
        assistant_id="a1",
        status="running",
        multitask_strategy="enqueue",
        metadata={},
        kwargs=kwargs,
        created_at=NOW,
        updated_at=NOW,
        attempt=1,
    )


# --- creating the run: assistant and run, config and context, headers ---------------------


def test_run_configurable_overrides_the_assistants_key_by_key() -> None:
    owner = assistant({"configurable": {"x": "assistant", "y": "assistant"}, "recursion_limit": 7})
    run = new_run({"config": {"configurable": {"y": "run", "w": "run"}}}, owner)
    configurable = run.kwargs["config"]["configurable"]
    assert {k: configurable[k] for k in ("x", "y", "w")} == {
        "x": "assistant",
        "y": "run",
        "w": "run",
    }
    # what the graph sees as context mirrors the same merge
    assert run.kwargs["context"] == {"y": "run", "w": "run"}
    assert run.kwargs["config"]["recursion_limit"] == 7  # the assistant's, the run sent none
    again = new_run({"config": {"recursion_limit": 9}}, owner)
    assert again.kwargs["config"]["recursion_limit"] == 9


def test_run_context_overrides_the_assistants_context_and_reaches_configurable() -> None:
    owner = assistant(context={"x": "actx", "z": "actx"})
    run = new_run({"context": {"z": "rctx"}}, owner)
    assert run.kwargs["context"] == {"x": "actx", "z": "rctx"}
    configurable = run.kwargs["config"]["configurable"]
    assert configurable["x"] == "actx" and configurable["z"] == "rctx"
    # a run's configurable is the older spelling of the same thing
    by_configurable = new_run({"config": {"configurable": {"z": "rconf"}}}, owner)
    assert by_configurable.kwargs["context"] == {"x": "actx", "z": "rconf"}


def test_a_run_cannot_send_both_configurable_and_context() -> None:
    with pytest.raises(InvalidInput, match="Cannot specify both configurable and context"):
        new_run({"config": {"configurable": {"a": 1}}, "context": {"b": 2}}, assistant())


def test_server_owned_keys_cannot_be_set_by_the_client() -> None:
    owner = assistant({"configurable": {"thread_id": "assistant-says", "graph_id": "other"}})
    spoofed = {
        "run_id": "mine",
        "thread_id": "mine",
        "assistant_id": "mine",
        "langgraph_request_id": "mine",
        "langgraph_auth_user_id": "mine",
        "__after_seconds__": 5,
        "__langsmith_project__": "mine",
        "kept": 1,
    }
    run = new_run({"config": {"configurable": spoofed}}, owner, {"x-request-id": "rid-1"})
    configurable = run.kwargs["config"]["configurable"]
    assert configurable["run_id"] == run.run_id
    assert configurable["thread_id"] == THREAD
    assert configurable["graph_id"] == "g"
    assert configurable["assistant_id"] == owner.assistant_id
    assert configurable["langgraph_request_id"] == "rid-1"
    assert "langgraph_auth_user_id" not in configurable
    assert "__after_seconds__" not in configurable
    assert "__langsmith_project__" not in configurable
    assert configurable["kept"] == 1
    assert run.kwargs["context"]["kept"] == 1


def test_tracing_headers_land_in_configurable_over_the_clients_keys() -> None:
    run = new_run(
        {"config": {"configurable": {"langsmith-trace": "from-body"}}},
        assistant(),
        {"langsmith-trace": "from-header", "x-custom": "not taken"},
    )
    configurable = run.kwargs["config"]["configurable"]
    assert configurable["langsmith-trace"] == "from-header"
    assert "x-custom" not in configurable
    assert uuid.UUID(configurable["langgraph_request_id"])  # a fresh id without x-request-id


def test_a_stateless_run_gets_a_thread_of_its_own_in_its_config() -> None:
    run = new_run({}, assistant(), thread_id=None)
    assert run.thread_id != THREAD
    assert run.kwargs["config"]["configurable"]["thread_id"] == run.thread_id


def test_the_fork_checkpoint_goes_into_configurable_but_not_its_thread() -> None:
    checkpoint = {"checkpoint_id": "c1", "checkpoint_ns": "", "thread_id": "elsewhere"}
    run = new_run({"checkpoint": checkpoint}, assistant())
    configurable = run.kwargs["config"]["configurable"]
    assert configurable["checkpoint_id"] == "c1" and configurable["checkpoint_ns"] == ""
    assert configurable["thread_id"] == THREAD
    assert run.kwargs["checkpoint_id"] == "c1"


def test_creating_runs_never_changes_the_assistant() -> None:
    """The assistant is cached and shared by every run created from it."""
    owner = assistant({"configurable": {"x": 1}, "tags": ["a"]}, {"x": 1})
    before = copy.deepcopy(dataclasses.asdict(owner))
    first = new_run({"config": {"configurable": {"y": 2}, "tags": ["r"]}}, owner)
    second = new_run({}, owner)
    assert dataclasses.asdict(owner) == before
    assert "y" not in second.kwargs["config"]["configurable"]
    assert second.kwargs["config"]["configurable"]["run_id"] == second.run_id != first.run_id


# --- executing an attempt: assistant <- thread <- run, then the server's keys ---------------


def test_execution_layers_assistant_then_thread_then_run() -> None:
    run = stored(config={"configurable": {"c": "run"}, "recursion_limit": 9})
    config = run_config.build_config(
        run,
        graph_id="g",
        assistant_config={"configurable": {"a": "assistant", "b": "assistant", "c": "assistant"}},
        thread_config={"configurable": {"b": "thread", "c": "thread"}, "recursion_limit": 3},
        resuming=False,
    )
    configurable = config["configurable"]
    assert (configurable["a"], configurable["b"], configurable["c"]) == (
        "assistant",
        "thread",
        "run",
    )
    assert config["recursion_limit"] == 9


def test_a_layer_that_sends_null_does_not_erase_the_one_below() -> None:
    merged = run_config.merge_configs(
        {"recursion_limit": 5, "configurable": {"x": 1}}, None, {}, {"recursion_limit": None}
    )
    assert merged == {"recursion_limit": 5, "configurable": {"x": 1}}


def test_execution_writes_the_server_owned_keys_over_every_layer() -> None:
    run = dataclasses.replace(
        stored(config={"configurable": {"run_id": "run-says"}}), metadata={"user": "u"}, attempt=3
    )
    layer = {"configurable": {"thread_id": "x", "graph_id": "x", "assistant_id": "x"}}
    config = run_config.build_config(
        run,
        graph_id="g",
        assistant_config=layer,
        thread_config={"metadata": {"run_id": "x", "kept": True}},
        resuming=False,
    )
    assert config["configurable"] == {
        "run_id": run.run_id,
        "thread_id": THREAD,
        "graph_id": "g",
        "assistant_id": "a1",
    }
    assert config["metadata"] == {
        "kept": True,
        "user": "u",
        "run_id": run.run_id,
        "thread_id": THREAD,
        "graph_id": "g",
        "assistant_id": "a1",
        "run_attempt": 3,
    }
    assert config["run_id"] == uuid.UUID(run.run_id)  # LangSmith's root trace is the run


def test_a_retried_attempt_continues_from_the_latest_checkpoint() -> None:
    """A fork's start checkpoint is used by the first attempt only, wherever it was set."""
    run = stored(
        config={"configurable": {"checkpoint_id": "c0", "checkpoint_map": {"": "c0"}}},
        checkpoint={"checkpoint_id": "c1", "checkpoint_ns": "", "thread_id": "elsewhere"},
    )
    first = run_config.build_config(
        run, graph_id="g", assistant_config=None, thread_config=None, resuming=False
    )
    assert first["configurable"]["checkpoint_id"] == "c1"
    assert first["configurable"]["thread_id"] == THREAD
    retried = run_config.build_config(
        run, graph_id="g", assistant_config=None, thread_config=None, resuming=True
    )
    assert not {"checkpoint_id", "checkpoint_ns", "checkpoint_map"} & set(retried["configurable"])
    latest = run_config.latest_state_config(first)["configurable"]
    assert "checkpoint_id" not in latest and latest["thread_id"] == THREAD


def test_building_a_config_never_changes_its_layers() -> None:
    layers = (
        {"configurable": {"a": 1}, "tags": ["t"], "metadata": {"m": 1}},
        {"configurable": {"b": 2}},
    )
    before = copy.deepcopy(layers)
    run = stored(config={"configurable": {"c": 3}})
    run_config.build_config(
        run, graph_id="g", assistant_config=layers[0], thread_config=layers[1], resuming=False
    )
    assert layers == before and run.kwargs == {"config": {"configurable": {"c": 3}}}


def test_graph_context_keeps_only_what_the_schema_declares() -> None:
    class Declares:
        context_schema = "Declares"

        def get_context_jsonschema(self) -> dict[str, Any]:
            return {"properties": {"user": {}, "lang": {}}}

    class NoSchema:
        context_schema = None

    assert run_config.graph_context(Declares(), {}) == {}
    assert run_config.graph_context(Declares(), {"user": "u", "extra": 1}) == {"user": "u"}
    assert run_config.graph_context(NoSchema(), {"user": "u", "extra": 1}) == {
        "user": "u",
        "extra": 1,
    }
