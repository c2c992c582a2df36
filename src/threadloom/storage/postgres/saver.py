"""LangGraph's PostgreSQL checkpointer, with checkpoint writes that cost one round trip each.

`AsyncPostgresSaver` is kept for everything it reads and for the tables it creates; this
subclass changes how it writes, not what: the same rows land in the same tables, so any
LangGraph saver can read them.

- Upstream serialises every checkpoint read and write of a process behind one asyncio.Lock, even
  with a pool (the lock exists for the single-connection case); each pool checkout is its own
  connection, so runs here checkpoint in parallel.
- A checkpoint's blobs and the checkpoint row go in one statement (a CTE over arrays), and a
  task's writes in one statement, instead of a psycopg pipeline of several; values are
  serialised inline instead of in a worker thread. On a busy worker each of those was a
  process wake-up (thread hand-off, pipeline flush, sync) that the run waited for.
- A fresh thread's first read is answered without a query (`storage/fresh_threads.py`).
- Writes may be held back briefly and sent several in one transaction, or dropped with a
  stateless run's thread (`storage/held_writes.py`); a stateless run's are written without
  waiting for the disk. Values are serialised when LangGraph hands them over, held or not, so a
  held write records the state as it was then.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg import AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from threadloom.storage import fresh_threads
from threadloom.storage.checkpoint_metadata import ThreadIdMetadata
from threadloom.storage.held_writes import Statement
from threadloom.storage.postgres.queries import RELAXED
from threadloom.storage.thread_hints import ThreadHints

# A temporary thread's checkpoints (`ThreadHints.temporary`) commit without waiting for
# the disk (the `RELAXED` CTE): the thread goes with its run, whose /wait insert and whose end do
# not wait either (docs/deployment.md).
_BLOBS = """blobs AS (
    INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT %(thread_id)s, %(ns)s, b.channel, b.version, b.type, b.blob
    FROM unnest(%(channels)s::text[], %(versions)s::text[], %(types)s::text[],
                %(blobs)s::bytea[]) AS b(channel, version, type, blob)
    ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
)"""


def _with(ctes: list[str]) -> str:
    return f"WITH {', '.join(ctes)}\n" if ctes else ""


def _put(*, blobs: bool, relaxed: bool) -> str:
    """A checkpoint row (replaced if it exists), with its blobs (kept if they exist) when it
    has any: upstream's conflict handling, one statement."""
    ctes = ([RELAXED] if relaxed else []) + ([_BLOBS] if blobs else [])
    return (
        _with(ctes) + "INSERT INTO checkpoints"
        " (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)\n"
        "SELECT %(thread_id)s, %(ns)s, %(id)s, %(parent)s, %(checkpoint)s, %(metadata)s\n"
        + ("FROM relaxed WHERE relaxed.off IS NOT NULL\n" if relaxed else "")
        + "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)\n"
        "DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata"
    )


def _writes(*, upsert: bool, relaxed: bool) -> str:
    """A task's writes from arrays. Special channels (errors, interrupts, resume) replace an
    earlier write at their index; ordinary writes keep the first one (upstream's two
    statements)."""
    return (
        _with([RELAXED] if relaxed else []) + "INSERT INTO checkpoint_writes"
        " (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)\n"
        "SELECT %(thread_id)s, %(ns)s, %(id)s, %(task_id)s, %(task_path)s,"
        " w.idx, w.channel, w.type, w.blob\n"
        "FROM unnest(%(idx)s::int[], %(channels)s::text[], %(types)s::text[], %(blobs)s::bytea[])"
        " AS w(idx, channel, type, blob)\n"
        + (", relaxed WHERE relaxed.off IS NOT NULL\n" if relaxed else "")
        + "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)\n"
        + (
            "DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob"
            if upsert
            else "DO NOTHING"
        )
    )


# keyed by (with blobs / upsert, relaxed)
PUT = {(b, r): _put(blobs=b, relaxed=r) for b in (False, True) for r in (False, True)}
WRITES = {(u, r): _writes(upsert=u, relaxed=r) for u in (False, True) for r in (False, True)}


def _as_is(text: str) -> str:
    return text


def _json(value: Any) -> Jsonb:
    """JSON text now (what psycopg would send at execute), so a held write keeps the values it
    was given even if the objects change afterwards."""
    return Jsonb(json.dumps(value), dumps=_as_is)


def split_channel_values(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inline, blobs): primitives stay in the checkpoint document, everything else is a blob;
    a delta snapshot is a blob with a `True` marker left inline (upstream's layout)."""
    inline = dict(values)
    blobs: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, _DeltaSnapshot):
            blobs[key] = value
            inline[key] = True
        elif value is None or isinstance(value, (str, int, float, bool)):
            continue
        else:
            blobs[key] = inline.pop(key)
    return inline, blobs


class OneTripWrites(AsyncPostgresSaver):
    """`AsyncPostgresSaver` whose checkpoint and task writes are one statement each (the
    `hints` it reads are given by `FreshThreadSaver`, ahead of it in `PooledPostgresSaver`)."""

    hints: ThreadHints

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        configurable = config["configurable"]
        thread_id = configurable["thread_id"]
        ns = configurable["checkpoint_ns"]
        inline, blob_values = split_channel_values(checkpoint["channel_values"])
        document = {**checkpoint, "channel_values": inline}
        params: dict[str, Any] = {
            "thread_id": thread_id,
            "ns": ns,
            "id": checkpoint["id"],
            "parent": configurable.get("checkpoint_id"),
            "checkpoint": _json(document),
            "metadata": _json(get_serializable_checkpoint_metadata(config, metadata)),
        }
        blob_versions = {k: v for k, v in new_versions.items() if k in blob_values}
        if blob_versions:
            rows = self._dump_blobs(thread_id, ns, blob_values, blob_versions)
            params["channels"] = [row[2] for row in rows]
            params["versions"] = [row[3] for row in rows]
            params["types"] = [row[4] for row in rows]
            params["blobs"] = [row[5] for row in rows]
        await self._write(config, PUT[bool(blob_versions), self.hints.is_temporary(config)], params)
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        if not writes:
            return
        configurable = config["configurable"]
        rows = self._dump_writes(
            configurable["thread_id"],
            configurable["checkpoint_ns"],
            configurable["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        upsert = all(w[0] in WRITES_IDX_MAP for w in writes)
        if upsert:
            # one statement may not update a row twice: of repeated indexes the last write
            # wins, as it does when upstream upserts them one by one
            rows = list({row[5]: row for row in rows}.values())
        await self._write(
            config,
            WRITES[upsert, self.hints.is_temporary(config)],
            {
                "thread_id": configurable["thread_id"],
                "ns": configurable["checkpoint_ns"],
                "id": configurable["checkpoint_id"],
                "task_id": task_id,
                "task_path": task_path,
                "idx": [row[5] for row in rows],
                "channels": [row[6] for row in rows],
                "types": [row[7] for row in rows],
                "blobs": [row[8] for row in rows],
            },
        )

    async def _write(self, config: RunnableConfig, query: str, params: dict[str, Any]) -> None:
        held = self.hints.held_for(config)
        if held is not None:
            await held.write((query, params), self._send)
        else:
            await self._send([(query, params)])

    async def _send(self, statements: list[Statement]) -> None:
        """One statement on its own; several (held back) in one transaction and round trip."""
        if len(statements) == 1:
            async with self._cursor() as cur:
                await cur.execute(*statements[0])
            return
        async with self._cursor(pipeline=True) as cur, cur.connection.transaction():
            for query, params in statements:
                await cur.execute(query, params)


class PooledPostgresSaver(ThreadIdMetadata, fresh_threads.FreshThreadSaver, OneTripWrites):
    """The saver Threadloom runs on: parallel checkpointing on a pool, one round trip per
    write, no read for a fresh thread, `metadata.thread_id` on every checkpoint."""

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        if not isinstance(self.conn, AsyncConnectionPool):
            async with super()._cursor(pipeline=pipeline) as cur:
                yield cur
            return
        async with self.conn.connection() as conn:
            if pipeline and self.supports_pipeline:
                async with conn.pipeline(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
            elif pipeline:
                async with (
                    conn.transaction(),
                    conn.cursor(binary=True, row_factory=dict_row) as cur,
                ):
                    yield cur
            else:
                async with conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
