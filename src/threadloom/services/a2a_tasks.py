"""An A2A agent's tasks read and ended: `tasks/get`, `tasks/cancel` and `tasks/list`, each
resolved to the run (and thread) behind the task as services/a2a.py maps them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from threadloom.errors import NotFound
from threadloom.services import cancel as cancel_service
from threadloom.services import runs as run_service
from threadloom.services import threads as thread_service
from threadloom.services.a2a import (
    CANCELED,
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    SUBMITTED,
    TERMINAL,
    WORKING,
    a2a_meta,
    check_history_length,
    check_history_scope,
    context_messages,
    context_runs,
    now,
    resolve_task,
    state_of,
    task_id_of,
    task_ids_by_start,
)
from threadloom.services.a2a_parts import (
    INVALID_PARAMS,
    TASK_NOT_CANCELABLE,
    TASK_NOT_FOUND,
    A2AError,
    agent_message,
    history,
)
from threadloom.services.context import ServerContext
from threadloom.services.ids import is_uuid


async def get_task(
    ctx: ServerContext,
    assistant_id: str,
    params: dict[str, Any],
    request_headers: Mapping[str, str],
) -> dict[str, Any]:
    task_id, context_id = _task_params(params)
    task = await resolve_task(ctx, task_id, context_id, assistant_id)
    if task is None:
        where = f" in context '{context_id}'" if context_id else ""
        raise A2AError(TASK_NOT_FOUND, f"Task not found: {task_id}{where}")
    length = check_history_length(params.get("historyLength"))
    scope = check_history_scope(params.get("historyScope"), request_headers)
    out: dict[str, Any] = {
        "kind": "task",
        "id": task.task_id,
        "contextId": task.context_id,
        "status": {"state": task.state, "timestamp": task.run.updated_at.isoformat()},
    }
    if length != 0:
        out["history"] = history(
            await context_messages(ctx, task.context_id),
            task.task_id,
            task.context_id,
            task_ids=task.task_ids,
            length=length,
            scope=scope,
        )
    if task.state == COMPLETED:
        out["status"]["message"] = agent_message("Task completed successfully", task.task_id)
    elif task.state == FAILED:
        out["status"]["message"] = agent_message(
            f"Task failed with status: {task.run.status}", task.task_id
        )
    return out


def _task_params(params: dict[str, Any]) -> tuple[str, str | None]:
    task_id, context_id = params.get("id"), params.get("contextId")
    if not task_id:
        raise A2AError(INVALID_PARAMS, "Missing required parameter: id (task_id)")
    if not isinstance(task_id, str) or (context_id is not None and not isinstance(context_id, str)):
        raise A2AError(INVALID_PARAMS, "Task id and contextId must be strings")
    return task_id, context_id


async def cancel_task(
    ctx: ServerContext, assistant_id: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Cancel a task's pending or running run (`interrupt`: its checkpoints stay); a task
    paused for input ends there (its thread is moved past the interrupt)."""
    task_id, context_id = _task_params(params)
    task = await resolve_task(ctx, task_id, context_id, assistant_id)
    if task is None:
        raise A2AError(TASK_NOT_FOUND, f"Task not found: {task_id}")
    if task.state in TERMINAL:
        raise A2AError(TASK_NOT_CANCELABLE, "Task is not cancelable in its current state")
    if task.state == INPUT_REQUIRED:
        # the task's end is a run of its own, cancelled before it starts (so the task reads
        # `canceled`), and the thread is moved past the interrupt
        from threadloom.services import state as state_service

        marker = await run_service.create_run(
            ctx,
            {
                "assistant_id": assistant_id,
                "metadata": {"a2a": {"task_id": task.task_id}},
                "after_seconds": 3600,
            },
            thread_id=task.context_id,
            background=True,
        )
        await cancel_service.cancel_run(ctx, marker, action="interrupt")
        thread = await thread_service.get(ctx, task.context_id)
        await state_service.update_state(
            ctx, thread, values=None, as_node="__end__", checkpoint=None
        )
    elif task.run.status in ("pending", "running"):
        await cancel_service.cancel_run(ctx, task.run, action="interrupt")
        await run_service.final_output(ctx, task.run)  # returns once the run has stopped
    else:
        raise A2AError(TASK_NOT_CANCELABLE, "Task has no active run to cancel")
    return {
        "kind": "task",
        "id": task_id,
        "contextId": task.context_id,
        "status": {
            "state": CANCELED,
            "timestamp": now(),
            "message": agent_message("Task was canceled", task_id),
        },
    }


# --- listing ------------------------------------------------------------------------------
CONTEXT_SEARCH_LIMIT = 1000
MAX_PAGE_SIZE = 100
_KNOWN_STATES = frozenset(
    {SUBMITTED, WORKING, COMPLETED, FAILED, CANCELED, INPUT_REQUIRED, "TASK_STATE_REJECTED"}
)


def _list_params(params: dict[str, Any]) -> tuple[int, int, str | None, str | None, str | None]:
    """(page size, offset, status, statusTimestampAfter, contextId), checked."""
    size = params.get("pageSize", 50)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PAGE_SIZE:
        raise A2AError(INVALID_PARAMS, "pageSize must be an integer between 1 and 100.")
    status = params.get("status")
    if status in (None, "", "TASK_STATE_UNSPECIFIED"):
        status = None
    elif status not in _KNOWN_STATES:
        raise A2AError(INVALID_PARAMS, f"Invalid status value: '{status}'.")
    after = params.get("statusTimestampAfter")
    if after is not None:
        try:
            after = datetime.fromisoformat(str(after).replace("Z", "+00:00")).isoformat()
        except ValueError:
            raise A2AError(
                INVALID_PARAMS, "statusTimestampAfter must be a valid ISO 8601 timestamp."
            ) from None
    token = params.get("pageToken")
    if token is not None and not isinstance(token, str):
        raise A2AError(INVALID_PARAMS, "pageToken must be a string.")
    if token and not token.isdigit():
        raise A2AError(INVALID_PARAMS, "Invalid pageToken.")
    context_id = params.get("contextId")
    if context_id is not None and not isinstance(context_id, str):
        raise A2AError(INVALID_PARAMS, "contextId must be a string.")
    return size, int(token or 0), status, after, context_id


async def list_tasks(
    ctx: ServerContext,
    assistant_id: str,
    params: dict[str, Any],
    request_headers: Mapping[str, str],
) -> dict[str, Any]:
    """The assistant's tasks in the contexts the caller can see (one context with
    `contextId`), newest first, paged by offset (`pageToken`)."""
    size, offset, status, after, context_id = _list_params(params)
    length = check_history_length(params.get("historyLength"))
    scope = check_history_scope(params.get("historyScope"), request_headers)
    if context_id is not None:
        try:
            threads = [await thread_service.get(ctx, context_id)] if is_uuid(context_id) else []
        except NotFound:
            threads = []
    else:
        page = await thread_service.search(
            ctx,
            ids=None,
            metadata=None,
            values=None,
            status=None,
            limit=CONTEXT_SEARCH_LIMIT,
            offset=0,
            sort_by=None,
            sort_order=None,
        )
        threads = list(page.items)
    found: list[tuple[dict[str, Any], dict[str, str]]] = []
    seen: set[str] = set()
    for thread in threads:
        runs = await context_runs(ctx, thread.thread_id)  # newest first
        task_ids = task_ids_by_start(runs, thread.thread_id, assistant_id)
        for run in runs:
            if run.assistant_id != assistant_id:
                continue
            tid = a2a_meta(run).get("task_id") or task_id_of(thread.thread_id, run.run_id)
            if tid in seen:
                continue  # an older run of a task already listed by its latest
            seen.add(tid)
            latest = run.run_id == runs[0].run_id
            state = state_of(run, latest and thread.status == "interrupted")
            stamp = run.updated_at.isoformat()
            if (status and state != status) or (after and stamp < after):
                continue
            task = {
                "kind": "task",
                "id": tid,
                "contextId": thread.thread_id,
                "status": {"state": state, "timestamp": stamp},
            }
            if not params.get("includeArtifacts"):
                task["artifacts"] = []
            found.append((task, task_ids))
    found.sort(key=lambda item: item[0]["status"]["timestamp"], reverse=True)
    page_items = found[offset : offset + size]
    if length != 0:
        for task, task_ids in page_items:
            task["history"] = history(
                await context_messages(ctx, task["contextId"]),
                task["id"],
                task["contextId"],
                task_ids=task_ids,
                length=length,
                scope=scope,
            )
    following = offset + len(page_items)
    return {
        "tasks": [task for task, _ in page_items],
        "totalSize": len(found),
        "pageSize": len(page_items),
        "nextPageToken": str(following) if following < len(found) else "",
    }
