"""Request bodies of the LangGraph API, as pydantic models (the single source of the OpenAPI doc).

Unknown fields are tolerated (clients send fields newer or older than us); types and enums are
checked so bad input gets a 422 with a clear message instead of failing deep inside a run.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SortOrder = Literal["asc", "desc"]
IfExists = Literal["raise", "do_nothing"]
StreamModeName = Literal[
    "values",
    "messages",
    "messages-tuple",
    "tasks",
    "checkpoints",
    "updates",
    "events",
    "debug",
    "custom",
]
STREAM_MODES: frozenset[str] = frozenset(StreamModeName.__args__)  # type: ignore[attr-defined]


# Integers the storage can hold (SQLite INTEGER, PostgreSQL bigint); a larger one is a 422
MAX_INT64 = 2**63 - 1
Offset = Annotated[int, Field(ge=0, le=MAX_INT64)]
# a delay or TTL must land on a date the server can represent and compare
MAX_DELAY_SECONDS = 100 * 365 * 24 * 3600
MAX_TTL_MINUTES = MAX_DELAY_SECONDS / 60
# LangGraph's checkpointers refuse other metadata filter keys ("Invalid filter key")
HISTORY_FILTER_KEY = re.compile(r"^[a-zA-Z0-9_.-]+$")


class Body(BaseModel):
    model_config = ConfigDict(extra="allow")


def dump(model: BaseModel | None) -> dict[str, Any] | None:
    """A nested body as a plain dict without the fields the client left out."""
    return model.model_dump(exclude_none=True) if model is not None else None


class Config(Body):
    tags: list[str] | None = None
    recursion_limit: int | None = Field(default=None, ge=1, le=MAX_INT64)
    configurable: dict[str, Any] | None = None


# --- assistants -----------------------------------------------------------------------------
class AssistantCreate(Body):
    graph_id: str = Field(min_length=1)
    assistant_id: str | None = None
    config: Config | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    if_exists: IfExists = "raise"
    name: str | None = None
    description: str | None = None


class AssistantPatch(Body):
    graph_id: str | None = None
    config: Config | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None


AssistantSortBy = Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"]
AssistantSelect = Literal[
    "assistant_id",
    "graph_id",
    "name",
    "description",
    "config",
    "context",
    "created_at",
    "updated_at",
    "metadata",
    "version",
]


class AssistantSearch(Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: Offset = 0
    sort_by: AssistantSortBy | None = None
    sort_order: SortOrder | None = None
    select: list[AssistantSelect] | None = None


class AssistantCount(Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None


class AssistantVersions(Body):
    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: Offset = 0


class AssistantLatest(Body):
    version: int = Field(ge=1)


# --- threads --------------------------------------------------------------------------------
class TTLBody(Body):
    strategy: Literal["delete", "keep_latest"] = "delete"
    ttl: float = Field(gt=0, le=MAX_TTL_MINUTES, description="Minutes")


class StateUpdateItem(Body):
    values: Any = None
    command: dict[str, Any] | None = None
    as_node: str | None = None


class Superstep(Body):
    updates: list[StateUpdateItem]


class ThreadCreate(Body):
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None
    if_exists: IfExists = "raise"
    ttl: TTLBody | None = None
    supersteps: list[Superstep] | None = None


class ThreadPatch(Body):
    metadata: dict[str, Any] | None = None
    ttl: TTLBody | None = None


ThreadStatusName = Literal["idle", "busy", "interrupted", "error"]
ThreadSortBy = Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"]
ThreadSelect = Literal[
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "config",
    "status",
    "values",
    "interrupts",
]


class ThreadSearch(Body):
    ids: list[str] | None = None
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatusName | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: Offset = 0
    sort_by: ThreadSortBy | None = None
    sort_order: SortOrder | None = None
    select: list[ThreadSelect] | None = None
    extract: dict[str, str] | None = None

    @field_validator("extract")
    @classmethod
    def _extract_paths(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value:
            if len(value) > 10:
                raise ValueError("extract takes at most 10 paths")
            for alias, path in value.items():
                root = path.split(".", 1)[0].split("[", 1)[0]
                if root not in {"values", "metadata", "config", "interrupts"}:
                    raise ValueError(
                        f"extract path {path!r} for {alias!r} must start with "
                        "values, metadata, config or interrupts"
                    )
        return value


class ThreadCount(Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatusName | None = None


class ThreadPrune(Body):
    thread_ids: list[str] = Field(min_length=1)
    strategy: Literal["delete", "keep_latest"] = "delete"


class CheckpointConfig(Body):
    thread_id: str | None = None
    checkpoint_ns: str | None = None
    checkpoint_id: str | None = None
    checkpoint_map: dict[str, Any] | None = None


class StateCheckpointQuery(Body):
    checkpoint: CheckpointConfig
    subgraphs: bool = False


class StateUpdate(Body):
    values: Any = None
    as_node: str | None = None
    checkpoint: CheckpointConfig | None = None
    checkpoint_id: str | None = None


class HistoryQuery(Body):
    limit: int = Field(default=1, ge=1, le=1000)
    before: CheckpointConfig | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointConfig | None = None

    @field_validator("metadata")
    @classmethod
    def _filter_keys(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in value or ():
            if not HISTORY_FILTER_KEY.match(key):
                raise ValueError(
                    f"invalid filter key {key!r}: filter keys may contain only letters, digits, "
                    "underscores, dots and hyphens"
                )
        return value


# --- runs -----------------------------------------------------------------------------------
class CommandBody(Body):
    """LangGraph's Command: any other key is a mistake (the graph would fail on it)."""

    model_config = ConfigDict(extra="forbid")

    update: Any = None
    resume: Any = None
    goto: Any = None


class RunCreate(Body):
    """RunCreateStateful and RunCreateStateless in one model; the route checks what applies."""

    assistant_id: str = Field(min_length=1)
    input: Any = None
    command: CommandBody | None = None
    checkpoint: CheckpointConfig | None = None
    checkpoint_id: str | None = None
    metadata: dict[str, Any] | None = None
    config: Config | None = None
    context: dict[str, Any] | None = None
    webhook: str | None = Field(default=None, max_length=65536)
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    stream_mode: StreamModeName | list[StreamModeName] | None = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    feedback_keys: list[str] | None = None
    multitask_strategy: Literal["reject", "rollback", "interrupt", "enqueue"] | None = None
    if_not_exists: Literal["create", "reject"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    after_seconds: float | None = Field(default=None, ge=0, le=MAX_DELAY_SECONDS)
    durability: Literal["sync", "async", "exit"] | None = None
    checkpoint_during: bool | None = None


class BulkCancel(Body):
    status: Literal["pending", "running", "all"] | None = None
    thread_id: str | None = None
    run_ids: list[str] | None = None
