"""The storage a request with a custom-auth caller sees: every read, search, count, update,
delete and create asks the authorization handlers first and carries their filter into the query.

This is where the decision lives so that no route can forget it: routes reach data only through
`ServerContext.storage`, and a request's context holds this view whenever custom auth is on
(`auth/context.py`). Each repository method is mapped to the (resource, action) the reference
asks about, with the value it hands the handler; a handler's changes to that value (metadata it
stamps) are what gets written. Methods the server itself uses to run work (claiming, leases,
finishing, snapshots) pass through: a request never reaches them without a guarded read first.
A new repository method is refused until it is listed here (`GUARDED` / `PASS_THROUGH`), which
the unit tests check against `storage/base.py`.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from threadloom.auth.policy import Filter, Policy
from threadloom.auth.users import RequestAuth
from threadloom.errors import NotFound
from threadloom.storage import filters as filter_language
from threadloom.storage.base import AssistantStore, CronStore, RunStore, Storage, ThreadStore
from threadloom.storage.operations import RunActivity
from threadloom.storage.records import Assistant, Cron, Page, Run, Thread

# repository methods a request may reach only through the policy, per repository
GUARDED: dict[str, frozenset[str]] = {
    "threads": frozenset({"create", "get", "update", "delete", "search", "count"}),
    "runs": frozenset(
        {"create_run", "get", "list", "search_all", "activity", "delete", "request_cancel"}
    ),
    "assistants": frozenset(
        {"create", "get", "update", "delete", "search", "count", "versions", "set_latest"}
    ),
    "crons": frozenset({"create", "get", "update", "delete", "search", "count"}),
}
# repository methods that are the server's own (workers, snapshots after a guarded read)
PASS_THROUGH: dict[str, frozenset[str]] = {
    "threads": frozenset({"set_snapshot", "sweep_expired"}),  # the TTL sweeper is the server's
    "runs": frozenset(
        {
            "inflight",
            "claim",
            "claim_batch",
            "next_due_at",
            "heartbeat",
            "requeue",
            "reap_expired",
            "finish",
            "record_progress",
            "set_webhook",
            "finish_wakes_workers",
            "queue_stats",  # whole-queue gauges of /metrics, no run's content
        }
    ),
    "assistants": frozenset({"upsert_system", "get_for_run"}),
    "crons": frozenset({"claim_due", "consume", "next_due_at"}),  # the scheduler is the server's
}


def _and(policy_filter: Filter, given: Any) -> Filter:
    return filter_language.merge(policy_filter, given)


class _Guard:
    """What every guarded repository shares: the raw one, the policy, the caller."""

    _name = ""

    def __init__(self, raw: Any, policy: Policy, caller: RequestAuth) -> None:
        self._raw = raw
        self._policy = policy
        self._caller = caller

    async def _ask(self, resource: str, action: str, value: dict[str, Any]) -> Filter:
        return await self._policy.authorize(self._caller, resource, action, value)

    def __getattr__(self, name: str) -> Any:
        if name in PASS_THROUGH[self._name]:
            return getattr(self._raw, name)
        raise AttributeError(
            f"{self._name}.{name} is not mapped to an authorization decision (auth/guarded.py)"
        )


class GuardedThreads(_Guard):
    _name = "threads"

    async def create(
        self,
        *,
        thread_id: str,
        metadata: dict[str, Any],
        if_exists: Any = "raise",
        ttl: Any = None,
        filters: Filter = None,
    ) -> Thread:
        value: dict[str, Any] = {
            "thread_id": thread_id,
            "metadata": metadata,
            "if_exists": if_exists,
            "ttl": ttl,
        }
        found = await self._ask("threads", "create", value)
        return await self._raw.create(
            thread_id=thread_id,
            metadata=dict(value.get("metadata") or {}),
            if_exists=if_exists,
            ttl=ttl,
            filters=_and(found, filters),
        )

    async def get(self, thread_id: str, *, filters: Filter = None) -> Thread | None:
        found = await self._ask("threads", "read", {"thread_id": thread_id})
        thread: Thread | None = await self._raw.get(thread_id, filters=_and(found, filters))
        return thread

    async def update(
        self,
        thread_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        ttl: Any = None,
        filters: Filter = None,
    ) -> Thread | None:
        value: dict[str, Any] = {"thread_id": thread_id, "metadata": metadata}
        found = await self._ask("threads", "update", value)
        thread: Thread | None = await self._raw.update(
            thread_id, metadata=value.get("metadata"), ttl=ttl, filters=_and(found, filters)
        )
        return thread

    async def delete(self, thread_id: str, *, filters: Filter = None) -> bool:
        found = await self._ask("threads", "delete", {"thread_id": thread_id})
        return bool(await self._raw.delete(thread_id, filters=_and(found, filters)))

    async def search(self, *, filters: Filter = None, **query: Any) -> Page:
        value = {k: query.get(k) for k in ("metadata", "values", "status", "limit", "offset")}
        found = await self._ask("threads", "search", value)
        page: Page = await self._raw.search(**query, filters=_and(found, filters))
        return page

    async def count(self, *, filters: Filter = None, **query: Any) -> int:
        value = {k: query.get(k) for k in ("metadata", "values", "status")}
        found = await self._ask("threads", "search", value)
        return int(await self._raw.count(**query, filters=_and(found, filters)))


class GuardedRuns(_Guard):
    """Runs are `threads` to the handlers (as on the reference): creating one is `create_run`,
    reading one is reading its thread, cancelling is updating it."""

    _name = "runs"

    def __init__(self, raw: Any, policy: Policy, caller: RequestAuth, assistants: Any) -> None:
        super().__init__(raw, policy, caller)
        self._assistants = assistants

    async def create_run(
        self, run: Run, *, filters: Filter = None, assistant: Assistant | None = None, **opts: Any
    ) -> Any:
        value: dict[str, Any] = {
            "thread_id": None if run.temporary else run.thread_id,
            "assistant_id": run.assistant_id,
            "run_id": run.run_id,
            "status": run.status,
            "metadata": run.metadata,
            "prevent_insert_if_inflight": opts.get("prevent_insert_if_inflight", False),
            "multitask_strategy": run.multitask_strategy,
            "if_not_exists": opts.get("if_not_exists", "reject"),
            "after_seconds": 0,
            "kwargs": run.kwargs,
        }
        found = await self._ask("threads", "create_run", value)
        run.metadata = dict(value.get("metadata") or {})
        # the assistant a run starts from must be one the caller may read (system ones always)
        if assistant is not None and assistant.metadata.get("created_by") != "system":
            readable = await self._ask("assistants", "read", {"assistant_id": run.assistant_id})
            if readable and not filter_language.evaluate(assistant.metadata, readable):
                raise NotFound("Thread or assistant not found.")
        return await self._raw.create_run(
            run, filters=_and(found, filters), assistant=assistant, **opts
        )

    async def get(
        self, run_id: str, *, thread_id: str | None = None, filters: Filter = None
    ) -> Run | None:
        found = await self._ask("threads", "read", {"thread_id": thread_id, "run_id": run_id})
        run: Run | None = await self._raw.get(
            run_id, thread_id=thread_id, filters=_and(found, filters)
        )
        return run

    async def list(
        self, thread_id: str, *, filters: Filter = None, **query: Any
    ) -> builtins.list[Run] | None:
        found = await self._ask("threads", "read", {"thread_id": thread_id})
        runs: builtins.list[Run] | None = await self._raw.list(
            thread_id, **query, filters=_and(found, filters)
        )
        return runs

    async def search_all(self, *, filters: Filter = None, **query: Any) -> builtins.list[Run]:
        found = await self._ask(
            "threads", "search", {"thread_id": query.get("thread_id"), "metadata": None}
        )
        runs: builtins.list[Run] = await self._raw.search_all(**query, filters=_and(found, filters))
        return runs

    async def activity(self, *, filters: Filter = None, **query: Any) -> RunActivity:
        found = await self._ask("threads", "search", {"thread_id": None, "metadata": None})
        activity: RunActivity = await self._raw.activity(**query, filters=_and(found, filters))
        return activity

    async def delete(self, run_id: str, *, thread_id: str, filters: Filter = None) -> bool:
        found = await self._ask("threads", "delete", {"thread_id": thread_id, "run_id": run_id})
        return bool(
            await self._raw.delete(run_id, thread_id=thread_id, filters=_and(found, filters))
        )

    async def request_cancel(
        self,
        *,
        run_ids: Sequence[str] | None = None,
        thread_id: str | None = None,
        filters: Filter = None,
        **opts: Any,
    ) -> builtins.list[Run]:
        value = {
            "thread_id": thread_id,
            "run_ids": list(run_ids) if run_ids else None,
            "status": opts.get("status"),
            "action": opts.get("action", "interrupt"),
        }
        found = await self._ask("threads", "update", value)
        runs: builtins.list[Run] = await self._raw.request_cancel(
            run_ids=run_ids, thread_id=thread_id, filters=_and(found, filters), **opts
        )
        return runs


class GuardedAssistants(_Guard):
    _name = "assistants"

    async def create(self, *, filters: Filter = None, **fields: Any) -> Assistant:
        value = {
            k: fields.get(k)
            for k in (
                "assistant_id",
                "graph_id",
                "config",
                "context",
                "metadata",
                "if_exists",
                "name",
                "description",
            )
        }
        value["metadata"] = dict(value["metadata"] or {})
        await self._ask("assistants", "create", value)
        fields["metadata"] = value.get("metadata") or {}
        assistant: Assistant = await self._raw.create(**fields)
        return assistant

    async def get(self, assistant_id: str, *, filters: Filter = None) -> Assistant | None:
        found = await self._ask("assistants", "read", {"assistant_id": assistant_id})
        assistant: Assistant | None = await self._raw.get(
            assistant_id, filters=_and(found, filters)
        )
        return assistant

    async def update(self, assistant_id: str, *, filters: Filter = None, **fields: Any) -> Any:
        value = {"assistant_id": assistant_id, **fields}
        found = await self._ask("assistants", "update", value)
        for key in ("graph_id", "config", "context", "metadata", "name", "description"):
            if key in fields:
                fields[key] = value.get(key)
        return await self._raw.update(assistant_id, **fields, filters=_and(found, filters))

    async def delete(self, assistant_id: str, *, filters: Filter = None) -> bool:
        found = await self._ask("assistants", "delete", {"assistant_id": assistant_id})
        return bool(await self._raw.delete(assistant_id, filters=_and(found, filters)))

    async def search(self, *, filters: Filter = None, **query: Any) -> Page:
        value = {k: query.get(k) for k in ("graph_id", "metadata", "limit", "offset")}
        found = await self._ask("assistants", "search", value)
        page: Page = await self._raw.search(**query, filters=_and(found, filters))
        return page

    async def count(self, *, filters: Filter = None, **query: Any) -> int:
        value = {k: query.get(k) for k in ("graph_id", "metadata")}
        found = await self._ask("assistants", "search", value)
        return int(await self._raw.count(**query, filters=_and(found, filters)))

    async def versions(self, assistant_id: str, *, filters: Filter = None, **query: Any) -> Any:
        found = await self._ask("assistants", "read", {"assistant_id": assistant_id})
        return await self._raw.versions(assistant_id, **query, filters=_and(found, filters))

    async def set_latest(
        self, assistant_id: str, version: int, *, filters: Filter = None
    ) -> Assistant | None:
        found = await self._ask(
            "assistants", "update", {"assistant_id": assistant_id, "version": version}
        )
        assistant: Assistant | None = await self._raw.set_latest(
            assistant_id, version, filters=_and(found, filters)
        )
        return assistant


class GuardedCrons(_Guard):
    """Crons are the `crons` resource (`@auth.on.crons.*`); a handler's metadata filter is
    applied to the cron's metadata, and what it stamps on a new cron's metadata is kept."""

    _name = "crons"

    async def create(self, cron: Cron) -> Cron:
        value: dict[str, Any] = {
            "payload": cron.payload,
            "schedule": cron.schedule,
            "cron_id": cron.cron_id,
            "thread_id": cron.thread_id,
            "user_id": cron.user_id,
            "end_time": cron.end_time,
            "metadata": cron.metadata,
        }
        await self._ask("crons", "create", value)
        cron.metadata = dict(value.get("metadata") or {})
        created: Cron = await self._raw.create(cron)
        return created

    async def get(self, cron_id: str, *, filters: Filter = None) -> Cron | None:
        found = await self._ask("crons", "read", {"cron_id": cron_id})
        cron: Cron | None = await self._raw.get(cron_id, filters=_and(found, filters))
        return cron

    async def update(
        self, cron_id: str, changes: dict[str, Any], *, filters: Filter = None
    ) -> Cron | None:
        value = {"cron_id": cron_id, **{k: v for k, v in changes.items() if k != "updated_at"}}
        found = await self._ask("crons", "update", value)
        cron: Cron | None = await self._raw.update(cron_id, changes, filters=_and(found, filters))
        return cron

    async def delete(self, cron_id: str, *, filters: Filter = None) -> bool:
        found = await self._ask("crons", "delete", {"cron_id": cron_id})
        return bool(await self._raw.delete(cron_id, filters=_and(found, filters)))

    async def search(self, *, filters: Filter = None, **query: Any) -> Page:
        value = {
            k: query.get(k) for k in ("assistant_id", "thread_id", "limit", "offset", "metadata")
        }
        found = await self._ask("crons", "search", value)
        page: Page = await self._raw.search(**query, filters=_and(found, filters))
        return page

    async def count(self, *, filters: Filter = None, **query: Any) -> int:
        value = {k: query.get(k) for k in ("assistant_id", "thread_id", "metadata")}
        value.update(limit=0, offset=0)
        found = await self._ask("crons", "search", value)
        return int(await self._raw.count(**query, filters=_and(found, filters)))


class GuardedStorage:
    """A `Storage` whose repositories are guarded for one caller; everything else (checkpoint
    housekeeping, the checkpointer, the store) is the backend's own."""

    def __init__(self, raw: Storage, policy: Policy, caller: RequestAuth) -> None:
        self._raw = raw
        self.assistants: AssistantStore = GuardedAssistants(raw.assistants, policy, caller)  # type: ignore[assignment]
        self.threads: ThreadStore = GuardedThreads(raw.threads, policy, caller)  # type: ignore[assignment]
        self.runs: RunStore = GuardedRuns(raw.runs, policy, caller, raw.assistants)  # type: ignore[assignment]
        self.crons: CronStore = GuardedCrons(raw.crons, policy, caller)  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)
