"""Thread TTL: which threads expire when, and what a sweep does with them.

The policy comes from `LANGGRAPH_THREAD_TTL` (minutes, or a JSON object), else `langgraph.json`
`checkpointer.ttl` (`strategy` delete | keep_latest, `default_ttl` minutes, `sweep_interval_minutes`,
`sweep_limit`), as the LangGraph server reads them. `default_ttl` applies to every thread created
without a `ttl` of its own (by `POST /threads` or by a run); a thread's own `ttl {strategy, ttl}`
on create or patch wins, and a patch starts its clock again. A run's creation and end, and a state
update, push the expiry one TTL on.

A `delete` thread is gone for readers the moment its TTL runs out (storage never returns it); the
sweep (`sweep_once`, run by `runtime/ttl_sweeper.py`) deletes it with its runs and checkpoints and
drops its runs' replay buffers. A `keep_latest` thread stays; the sweep keeps only its latest
checkpoint. A thread with a pending or running run waits until it is idle.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from threadloom.graphs.errors import ProjectError
from threadloom.graphs.project import ThreadTTLConfig
from threadloom.serde import utcnow
from threadloom.storage.records import ThreadTTL

if TYPE_CHECKING:
    from threadloom.graphs.project import ProjectConfig
    from threadloom.runtime.broker import Broker
    from threadloom.storage.base import Storage

logger = logging.getLogger(__name__)

DEFAULT_SWEEP_INTERVAL_MINUTES = 5.0
DEFAULT_SWEEP_LIMIT = 10_000
# the most threads one sweep transaction deletes, whatever `sweep_limit` allows: measured on
# PostgreSQL (bench/thread_ttl.py), a 10,000-thread transaction doubled the p99 of concurrent
# `/wait` traffic; 1,000 with the sweeper's pauses left it unchanged
MAX_SWEEP_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class ThreadTTLPolicy:
    strategy: Literal["delete", "keep_latest"] = "delete"
    default_ttl_minutes: float | None = None
    sweep_interval_minutes: float = DEFAULT_SWEEP_INTERVAL_MINUTES
    sweep_limit: int = DEFAULT_SWEEP_LIMIT

    @property
    def batch_size(self) -> int:
        """Threads per sweep transaction: `sweep_limit`, at most `MAX_SWEEP_BATCH`."""
        return min(self.sweep_limit, MAX_SWEEP_BATCH)

    def for_new_thread(self) -> ThreadTTL | None:
        """The TTL a thread created without one gets (None: it never expires)."""
        if self.default_ttl_minutes is None:
            return None
        return ThreadTTL(self.strategy, self.default_ttl_minutes)


def policy_for(
    project: ProjectConfig | None, environ: Mapping[str, str] | None = None
) -> ThreadTTLPolicy:
    """`LANGGRAPH_THREAD_TTL` wins over `checkpointer.ttl`; neither: threads expire only by a
    `ttl` of their own, and the sweeper still looks every five minutes."""
    env = os.environ if environ is None else environ
    config: ThreadTTLConfig | None = None
    if raw := (env.get("LANGGRAPH_THREAD_TTL") or "").strip():
        config = _from_env(raw)
    elif project is not None and project.checkpointer is not None:
        config = project.checkpointer.ttl
    if config is None:
        return ThreadTTLPolicy()
    return ThreadTTLPolicy(
        strategy=config.strategy,
        default_ttl_minutes=config.default_ttl,
        sweep_interval_minutes=config.sweep_interval_minutes or DEFAULT_SWEEP_INTERVAL_MINUTES,
        sweep_limit=config.sweep_limit or DEFAULT_SWEEP_LIMIT,
    )


def _from_env(raw: str) -> ThreadTTLConfig:
    from pydantic import ValidationError

    try:
        data = json.loads(raw) if raw.startswith("{") else {"default_ttl": float(raw)}
        return ThreadTTLConfig.model_validate(data)
    except (ValueError, ValidationError) as exc:
        reason = str(exc).splitlines()[0]
        raise ProjectError(
            f"LANGGRAPH_THREAD_TTL: expected minutes or a JSON object ({reason})"
        ) from None


async def sweep_once(
    storage: Storage, broker: Broker, policy: ThreadTTLPolicy, now: datetime | None = None
) -> int:
    """One bounded batch (`batch_size` threads at most, one transaction); how many it took."""
    swept = await storage.threads.sweep_expired(now or utcnow(), policy.batch_size)
    for item in swept:
        if item.strategy == "keep_latest":
            await storage.prune_thread_checkpoints(item.thread_id)
            continue
        for run_id in item.run_ids:  # their events are not replayed after the thread is gone
            await broker.reset(run_id)
    if swept:
        deleted = sum(item.strategy == "delete" for item in swept)
        logger.info("TTL sweep: %d threads deleted, %d pruned", deleted, len(swept) - deleted)
    return len(swept)
