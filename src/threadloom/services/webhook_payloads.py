"""What a webhook POSTs, by the API that created the run (other-apis.md §4.13).

- Letta-origin runs (`callback_url`): Letta's callback body `{run_id, status, completed_at,
  metadata{…, result: LettaResponse}}`, so existing Letta receivers work unchanged.
- Everything else (LangGraph `webhook`): the LangGraph run object plus `values`,
  `run_started_at`, `run_ended_at`, `webhook_sent_at` and `error`, with the analytics fields.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from threadloom.runtime.executor import ExecutionResult, RunExecutor
from threadloom.runtime.webhooks import WebhookSender, ended_copy
from threadloom.serde import to_jsonable, utcnow
from threadloom.services.run_messages import run_messages
from threadloom.services.views import letta_view as letta
from threadloom.services.views.analytics import analytics_fields
from threadloom.services.webhook_policy import validate_webhook_url
from threadloom.settings import Settings
from threadloom.storage.base import Storage
from threadloom.storage.records import Run


def langgraph_payload(run: Run, values: Any) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "assistant_id": run.assistant_id,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "status": run.status,
        "metadata": run.metadata,
        "kwargs": run.kwargs,
        "multitask_strategy": run.multitask_strategy,
        "stop_reason": run.stop_reason,
        "error": run.error,
        "run_started_at": run.started_at,
        "run_ended_at": run.ended_at,
        "webhook_sent_at": utcnow(),
        "values": to_jsonable(values),
        **{k: v for k, v in analytics_fields(run).items() if k != "webhook"},
    }


async def build_payload(storage: Storage, run: Run, values: Any) -> dict[str, Any]:
    if letta.compat_of(run).get("origin") == "letta":
        messages = await run_messages(storage, run) if not run.temporary else []
        return letta.callback_payload(run, messages)
    return langgraph_payload(run, values)


def install_webhooks(
    storage: Storage, settings: Settings, executor: RunExecutor, *, enabled: bool = True
) -> WebhookSender:
    """A sender fed by the executor's post-finish hook (API processes and `threadloom worker`
    alike: whoever executes a run delivers its webhook). Rolled-back runs send nothing, and
    with `http.disable_webhooks` (`enabled=False`) no run does."""
    sender = WebhookSender(
        storage,
        settings,
        partial(build_payload, storage),
        partial(validate_webhook_url, settings=settings),
    )

    def on_finished(run: Run, result: ExecutionResult) -> None:
        if result.deleted or not enabled:
            return
        ended = ended_copy(run, result.status, result.stop_reason, result.error)
        sender.submit(ended, result.state_values)  # the whole state, as the reference sends

    executor.on_finished.append(on_finished)
    return sender
