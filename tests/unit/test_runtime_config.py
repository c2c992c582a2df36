"""run_config: config layering, command mapping, durability, stream-mode normalisation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from langgraph.types import Command, Send

from threadloom.runtime import run_config
from threadloom.runtime.failures import error_payload, error_stop_reason
from threadloom.runtime.stream_modes import requested_modes
from threadloom.storage.records import Run


def make_run(**kwargs: Any) -> Run:
    now = datetime.now(UTC)
    return Run(
        run_id="00000000-0000-0000-0000-000000000001",
        thread_id="t1",
        assistant_id="a1",
        status="running",
        multitask_strategy="enqueue",
        metadata={"user": "x"},
        kwargs=kwargs,
        created_at=now,
        updated_at=now,
        attempt=2,
    )


def test_merge_configs_layers() -> None:
    merged = run_config.merge_configs(
        {"tags": ["a"], "configurable": {"x": 1, "y": 1}, "recursion_limit": 5},
        {"tags": ["b", "a"], "configurable": {"y": 2}},
        {"configurable": {"z": 3}, "recursion_limit": 9},
    )
    assert merged == {
        "tags": ["a", "b"],
        "configurable": {"x": 1, "y": 2, "z": 3},
        "recursion_limit": 9,
    }


def test_build_config_enriches_and_forks() -> None:
    run = make_run(
        config={"configurable": {"run_id": "spoofed", "k": "v"}},
        checkpoint={"checkpoint_id": "c1", "checkpoint_ns": ""},
    )
    config = run_config.build_config(
        run,
        graph_id="g",
        assistant_config={"metadata": {"m": 1}},
        thread_config=None,
        resuming=False,
    )
    conf = config["configurable"]
    assert conf["run_id"] == run.run_id and conf["k"] == "v" and conf["checkpoint_id"] == "c1"
    assert conf["thread_id"] == "t1" and conf["graph_id"] == "g" and conf["assistant_id"] == "a1"
    assert config["metadata"]["run_id"] == run.run_id
    assert config["metadata"]["run_attempt"] == 2 and config["metadata"]["user"] == "x"
    assert config["metadata"]["m"] == 1
    resumed = run_config.build_config(
        run, graph_id="g", assistant_config=None, thread_config=None, resuming=True
    )
    assert "checkpoint_id" not in resumed["configurable"]
    assert run_config.latest_state_config(config)["configurable"].get("checkpoint_id") is None


def test_build_command_and_input() -> None:
    command = run_config.build_command(
        {"resume": "ok", "update": {"a": 1}, "goto": ["n1", {"node": "n2", "input": {"x": 1}}]}
    )
    assert isinstance(command, Command)
    assert command.resume == "ok" and command.update == {"a": 1}
    assert command.goto == ["n1", Send("n2", {"x": 1})]
    assert isinstance(
        run_config.build_input(make_run(input={"a": 1}, command={"resume": 1}), resuming=False),
        Command,
    )
    assert run_config.build_input(make_run(input={"a": 1}), resuming=False) == {"a": 1}
    assert run_config.build_input(make_run(input={"a": 1}), resuming=True) is None


def test_durability_and_interrupts() -> None:
    assert run_config.durability({"durability": "sync"}) == "sync"
    assert run_config.durability({"checkpoint_during": True}) == "async"
    assert run_config.durability({"checkpoint_during": False}) == "exit"
    # a stateless run's checkpoints are held back unless it asks for sync durability
    assert run_config.stateless_checkpoint_delay({}, 0.1) == 0.1
    assert run_config.stateless_checkpoint_delay({"durability": "async"}, 0.1) == 0.1
    assert run_config.stateless_checkpoint_delay({"durability": "exit"}, 0.1) == 0.1
    assert run_config.stateless_checkpoint_delay({"durability": "sync"}, 0.1) == 0.0
    assert run_config.durability({}) is None
    assert run_config.interrupt_nodes("*") == "*"
    assert run_config.interrupt_nodes(["a"]) == ["a"]
    assert run_config.interrupt_nodes([]) is None


def test_requested_modes() -> None:
    assert requested_modes(None) == ["values"]
    assert requested_modes("updates") == ["updates"]
    assert requested_modes(["values", "values", "messages-tuple", "bogus"]) == [
        "values",
        "messages-tuple",
    ]


def test_error_payloads() -> None:
    assert error_payload(KeyError("k")) == {"error": "KeyError", "message": "k"}
    assert error_payload(OSError("secret")) == {
        "error": "OSError",
        "message": "An internal error occurred",
    }
    assert error_stop_reason(OSError(), llm_failed=True) == "llm_api_error"
    assert error_stop_reason(OSError(), llm_failed=False) == "error"
