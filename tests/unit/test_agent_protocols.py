"""The pure parts of the MCP and A2A adapters: tool names and schemas, message parts to run
input, thread messages to A2A history, 1.0 JSON to 0.3's."""

from __future__ import annotations

from typing import Any

import pytest

from threadloom.api.a2a import accepts, legacy
from threadloom.api.mcp_methods import negotiate
from threadloom.services import a2a, a2a_parts
from threadloom.services.mcp_tools import tool_input_schema, tool_name


@pytest.mark.parametrize(
    ("name", "tool"),
    [
        ("agent", "agent"),
        ("  my  agent ", "my_agent"),
        ("Ask Bob (v2)!", "Ask_Bob_v2"),
        ("é-ü.x", "-.x"),
        ("x" * 200, "x" * 128),
        ("???", ""),
    ],
)
def test_tool_name(name: str, tool: str) -> None:
    assert tool_name(name) == tool


def test_message_lists_become_one_user_message() -> None:
    schema = {
        "$defs": {"HumanMessage": {}, "AIMessage": {}, "ToolCall": {}, "Other": {"type": "object"}},
        "properties": {
            "messages": {
                "type": "array",
                "title": "Messages",
                "items": {
                    "oneOf": [{"$ref": "#/$defs/HumanMessage"}, {"$ref": "#/$defs/AIMessage"}]
                },
            },
            "other": {"$ref": "#/$defs/Other"},
        },
        "required": ["messages"],
        "title": "State",
    }
    out = tool_input_schema(schema)
    assert out["properties"]["messages"] == {
        "type": "string",
        "title": "Messages",
        "description": "The user message to send to the agent.",
    }
    assert out["$defs"] == {"Other": {"type": "object"}}
    assert out["type"] == "object" and out["required"] == ["messages"]
    assert "HumanMessage" in schema["$defs"]  # the assistant's own schema is left alone
    assert tool_input_schema({"properties": {"n": {"type": "integer"}}}) == {
        "properties": {"n": {"type": "integer"}},
        "type": "object",
    }


def test_protocol_version_negotiation() -> None:
    assert negotiate("2025-03-26") == "2025-03-26"
    assert negotiate("2024-11-05") == "2024-11-05"
    assert negotiate("2099-01-01") == "2025-11-25"
    assert negotiate(None) == "2025-11-25"


def test_parts_become_run_input() -> None:
    parts: list[dict[str, Any]] = [
        {"text": "hi"},
        {"kind": "data", "data": {"k": 1}},
        {"data": {"j": [2]}},
    ]
    assert a2a_parts.run_input(parts, "ROLE_USER", "m-1", "start-1") == {
        "messages": [
            {
                "role": "human",
                "content": "hi",
                "id": "m-1",
                "additional_kwargs": {"a2a": {"task_start_id": "start-1"}},
            }
        ],
        "k": 1,
        "j": [2],
    }
    with_file = a2a_parts.run_input(
        [
            {"text": "look"},
            {"file": {"uri": "https://x/a.png", "mimeType": "image/png", "name": "a"}},
        ],
        "ROLE_USER",
        "m-2",
        None,
    )
    assert with_file["messages"] == [
        {
            "role": "human",
            "content": [
                {"type": "text", "text": "look"},
                {
                    "type": "image",
                    "url": "https://x/a.png",
                    "mime_type": "image/png",
                    "extras": {"filename": "a"},
                },
            ],
            "id": "m-2",
        }
    ]
    raw = a2a_parts.run_input(
        [{"raw": "QUJD", "mediaType": "application/pdf"}], "ROLE_USER", "m", None
    )
    assert raw["messages"][0]["content"] == [
        {"type": "file", "base64": "QUJD", "mime_type": "application/pdf"}
    ]


@pytest.mark.parametrize(
    "parts",
    [
        [{"text": "a", "data": {}}],  # two kinds in one part
        [{"data": [1]}],  # data that is no object
        [{"kind": "text"}],  # nothing usable
        [{"file": {"uri": "u", "bytes": "b"}}],  # both a URI and bytes
    ],
)
def test_bad_parts_are_refused(parts: list[dict[str, Any]]) -> None:
    with pytest.raises(a2a_parts.A2AError) as err:
        a2a_parts.run_input(parts, "ROLE_USER", "m", None)
    assert err.value.code == a2a_parts.CONTENT_TYPE_NOT_SUPPORTED


def test_history_stamps_each_message_with_its_task() -> None:
    first, second = "ctx:run-1", "ctx:run-2"
    messages = [
        {"type": "system", "content": "be nice", "id": "s"},
        {
            "type": "human",
            "content": "q1",
            "id": "h1",
            "additional_kwargs": {"a2a": {"task_start_id": "t1"}},
        },
        {"type": "ai", "content": "", "id": "a0", "tool_calls": [{"name": "calc"}]},
        {
            "type": "tool",
            "content": "84",
            "id": "t",
            "tool_call_id": "c1",
            "name": "calc",
            "status": "success",
        },
        {
            "type": "ai",
            "content": [{"type": "text", "text": "is "}, {"type": "text", "text": "84"}],
            "id": "a1",
        },
        {
            "type": "human",
            "content": "q2",
            "id": "h2",
            "additional_kwargs": {"a2a": {"task_start_id": "t2"}},
        },
        {"type": "ai", "content": "ok", "id": "a2"},
    ]
    ids = {"t1": first, "t2": second}
    out = a2a_parts.history(messages, second, "ctx", task_ids=ids, length=None)
    # the system message and the AI message with only tool calls are left out
    assert [(m["messageId"], m["role"], m["taskId"]) for m in out] == [
        ("h1", "ROLE_USER", first),
        ("t", "ROLE_AGENT", first),
        ("a1", "ROLE_AGENT", first),
        ("h2", "ROLE_USER", second),
        ("a2", "ROLE_AGENT", second),
    ]
    assert out[-4]["parts"] == [
        {
            "kind": "data",
            "data": {
                "tool_results": [
                    {"toolCallId": "c1", "content": "84", "name": "calc", "status": "success"}
                ]
            },
        }
    ]
    assert out[-3]["parts"] == [{"kind": "text", "text": "is 84"}]
    assert [
        m["messageId"] for m in a2a_parts.history(messages, second, "ctx", task_ids=ids, length=2)
    ] == ["h2", "a2"]
    assert a2a_parts.history(messages, second, "ctx", task_ids=ids, length=0) == []
    task_only = a2a_parts.history(messages, first, "ctx", task_ids=ids, length=None, scope="task")
    assert [m["messageId"] for m in task_only] == ["h1", "t", "a1"]


def test_reply_is_the_turns_last_agent_message() -> None:
    messages = [
        {"type": "human", "content": "q"},
        {"type": "ai", "content": "first"},
        {"type": "tool", "content": "x", "tool_call_id": "c"},
        {"type": "ai", "content": "last"},
    ]
    assert a2a_parts.reply_parts({"messages": messages}) == [{"kind": "text", "text": "last"}]
    assert a2a_parts.reply_parts({"n": 1}) == [{"kind": "text", "text": "{'n': 1}"}]
    assert a2a_parts.reply_parts({"messages": [{"type": "human", "content": "q"}]}) == [
        {"kind": "text", "text": ""}
    ]


def test_legacy_rendering() -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {
            "task": {
                "status": {"state": "TASK_STATE_INPUT_REQUIRED"},
                "history": [{"role": "ROLE_USER"}, {"role": "ROLE_AGENT"}],
            }
        },
    }
    assert legacy(body) == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {
            "status": {"state": "input-required"},
            "history": [{"role": "user"}, {"role": "agent"}],
        },
    }


@pytest.mark.parametrize(
    ("accept", "json_ok", "sse_ok"),
    [
        ("", False, False),
        ("*/*", True, True),
        ("application/*", True, False),
        ("text/event-stream", False, True),
        ("application/json; q=0.9, text/event-stream", True, True),
        ("text/html", False, False),
    ],
)
def test_accept_header(accept: str, json_ok: bool, sse_ok: bool) -> None:
    assert accepts(accept, "application/json") is json_ok
    assert accepts(accept, "text/event-stream") is sse_ok


def test_task_states_follow_runs() -> None:
    class R:
        def __init__(self, status: str) -> None:
            self.status = status

    assert a2a.state_of(R("pending"), False) == a2a.SUBMITTED  # type: ignore[arg-type]
    assert a2a.state_of(R("running"), False) == a2a.WORKING  # type: ignore[arg-type]
    assert a2a.state_of(R("success"), False) == a2a.COMPLETED  # type: ignore[arg-type]
    assert a2a.state_of(R("success"), True) == a2a.INPUT_REQUIRED  # type: ignore[arg-type]
    assert a2a.state_of(R("interrupted"), False) == a2a.CANCELED  # type: ignore[arg-type]
    assert a2a.state_of(R("timeout"), False) == a2a.FAILED  # type: ignore[arg-type]
    assert a2a.parse_task_id("c:r") == ("c", "r")
    assert a2a.parse_task_id("r") == ("", "r")
