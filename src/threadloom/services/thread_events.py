"""A thread's protocol event stream: every protocol run's log, in order, filtered per subscriber.

There is no second pipeline: a protocol run's events are entries of its ordinary event log
(runtime/protocol_events.py), whose seqs are time-based so they grow across a thread's runs.
A subscriber follows the thread as `GET /threads/{id}/stream` does — the runs it can still
replay (the thread's recent runs, oldest first), then each run its thread announces — one run
at a time, since a thread runs one run at a time. `since` is a seq: replay after it; without
it the stream replays what the logs still hold, as the reference replays its thread buffer.

Backpressure is the log's: a reader that falls behind its bounded log skips what was dropped
(socket back-pressure stops the reader, never the run). A skip is a gap in one run's seqs,
which the reader reports (`Lost`) and then stops, as the protocol asks, so the client resyncs
from the thread's state instead of silently missing events.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from threadloom.errors import InvalidInput, NotFound
from threadloom.runtime.protocol_events import PREFIX
from threadloom.services import threads as thread_service
from threadloom.services.context import ServerContext
from threadloom.storage.records import INFLIGHT_STATUSES

CHANNELS = frozenset(
    {
        "values",
        "updates",
        "messages",
        "tools",
        "lifecycle",
        "input",
        "tasks",
        "custom",
        "checkpoints",
    }
)
REPLAY_RUNS = 20  # a thread's most recent runs whose logs a new subscriber replays


@dataclass(slots=True)
class ProtocolEvent:
    """Never changed once made; not `frozen`, since one is built per event (see StreamEvent)."""

    seq: int
    method: bytes  # the wire `method`: b"messages", b"input.requested", b"custom", ...
    channel: str  # what subscriptions name: "messages", "input", "custom:progress", ...
    namespace: tuple[str, ...]
    params: bytes  # the `params` JSON


@dataclass(frozen=True, slots=True)
class Lost:
    """The stream fell behind (or `since` is older than what the logs hold)."""

    since: int
    next_seq: int

    @property
    def message(self) -> str:
        return (
            f"Events after seq {self.since} are no longer buffered (the next one kept is "
            f"{self.next_seq}); read the thread's state and subscribe again"
        )


_NAMES: dict[str, tuple[bytes, str, tuple[str, ...]] | None] = {}
_NAMES_MAX = 4096  # distinct entry names remembered (a run's are few: methods by namespaces)


def _split_name(name: str) -> tuple[bytes, str, tuple[str, ...]] | None:
    if not name.startswith(PREFIX):
        return None
    head, *namespace = name[len(PREFIX) :].split("|")
    method = "custom" if head.startswith("custom:") else head
    channel = "input" if method == "input.requested" else head
    return method.encode(), channel, tuple(namespace)


def parse_entry(seq: int, name: str, data: bytes) -> ProtocolEvent | None:
    """A log entry as a protocol event; None for the log's other entries (`metadata`, ...)."""
    try:
        parts = _NAMES[name]
    except KeyError:
        parts = _split_name(name)
        if len(_NAMES) >= _NAMES_MAX:
            _NAMES.clear()
        _NAMES[name] = parts
    if parts is None:
        return None
    return ProtocolEvent(seq, parts[0], parts[1], parts[2], data)


def _normalize(segment: str) -> str:
    cut = segment.find(":")
    return segment if cut == -1 else segment[:cut]


def _prefix_match(namespace: Sequence[str], prefix: Sequence[str]) -> bool:
    """`prefix` leads `namespace`; a prefix segment without `:` also matches a segment's graph
    name (`respond` matches `respond:<task id>`), as the SDK matches them."""
    if len(prefix) > len(namespace):
        return False
    for want, have in zip(prefix, namespace, strict=False):
        if have == want:
            continue
        if ":" in want or _normalize(have) != want:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Subscription:
    channels: frozenset[str]
    namespaces: tuple[tuple[str, ...], ...] | None
    depth: int | None
    # (channel, namespace) -> whether it passes: a run's events have few distinct ones
    _seen: dict[tuple[str, tuple[str, ...]], bool] = field(
        default_factory=dict, compare=False, repr=False
    )

    def matches(self, event: ProtocolEvent) -> bool:
        key = (event.channel, event.namespace)
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) >= 1024:
                self._seen.clear()
            seen = self._seen[key] = self._matches(event)
        return seen

    def _matches(self, event: ProtocolEvent) -> bool:
        channel = event.channel
        if channel not in self.channels and not (
            channel.startswith("custom:") and "custom" in self.channels
        ):
            return False
        if self.namespaces is None:
            return True
        for prefix in self.namespaces:
            if _prefix_match(event.namespace, prefix) and (
                self.depth is None or len(event.namespace) - len(prefix) <= self.depth
            ):
                return True
        return False

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"channels": sorted(self.channels)}
        if self.namespaces is not None:
            out["namespaces"] = [list(ns) for ns in self.namespaces]
        if self.depth is not None:
            out["depth"] = self.depth
        return out


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_subscription(body: object) -> Subscription:
    """An `EventStreamRequest` / `subscription.subscribe` filter; InvalidInput names what is
    wrong (channels are required; namespaces are lists of strings; depth a count)."""
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object with a channels array")
    channels = body.get("channels")
    if not isinstance(channels, list) or not channels:
        raise InvalidInput("channels is required and must be a non-empty array")
    bad = [
        repr(c)
        for c in channels
        if not isinstance(c, str) or not (c in CHANNELS or (c.startswith("custom:") and c[7:]))
    ]
    if bad:
        raise InvalidInput(
            "channels contains unsupported entries: "
            + ", ".join(bad[:5])
            + ". Allowed: "
            + ", ".join(sorted(CHANNELS))
            + ", or any `custom:<name>`."
        )
    raw_ns = body.get("namespaces")
    namespaces: tuple[tuple[str, ...], ...] | None = None
    if raw_ns is not None:
        if not isinstance(raw_ns, list) or not all(
            isinstance(ns, list) and all(isinstance(seg, str) for seg in ns) for ns in raw_ns
        ):
            raise InvalidInput("namespaces must be an array of arrays of strings")
        namespaces = tuple(tuple(ns) for ns in raw_ns) or None
    depth = body.get("depth")
    if depth is not None and (not _is_int(depth) or depth < 0):
        raise InvalidInput("depth must be a non-negative integer")
    return Subscription(frozenset(channels), namespaces, depth)


def parse_since(value: object) -> int | None:
    if value is None:
        return None
    if not _is_int(value) or value < 0:  # type: ignore[operator]
        raise InvalidInput("since must be a non-negative integer (a seq)")
    return value  # type: ignore[return-value]


async def stream_opening(ctx: ServerContext, server: ServerContext, thread_id: str) -> bool:
    """Whether the thread exists; NotFound (a 404) when it does but the caller may not read
    it. A stream may open before its thread exists (the thread is created by `run.start`)."""
    try:
        await thread_service.get(ctx, thread_id)
    except NotFound:
        if ctx is not server and await server.storage.threads.get(thread_id) is not None:
            raise
        return False
    return True


def stream_authorizer(ctx: ServerContext, thread_id: str) -> Callable[[], Awaitable[bool]]:
    """Whether the caller may read the thread, asked once a thread that did not exist when
    the stream opened has a run (under custom auth it may be someone else's)."""

    async def may_read() -> bool:
        try:
            await thread_service.get(ctx, thread_id)
        except NotFound:
            return False
        return True

    return may_read


async def thread_events(
    ctx: ServerContext,
    thread_id: str,
    *,
    since: int | None,
    authorize: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[list[ProtocolEvent] | Lost]:
    """Batches of the thread's protocol events after `since`, live until the caller stops;
    a `Lost` ends it. `authorize` is asked before the first run of a thread that did not exist
    when the stream opened (custom auth: it may turn out to be someone else's); False ends."""
    runs: asyncio.Queue[str] = asyncio.Queue()
    listener_ready = asyncio.Event()

    async def listen() -> None:
        notices = ctx.broker.thread_notices(thread_id)
        waiter = asyncio.ensure_future(anext(notices))
        await asyncio.sleep(0)  # the iterator has subscribed once it first awaits
        listener_ready.set()
        while True:
            notice = await waiter
            if notice.kind == "run_started" and notice.run_id:
                runs.put_nowait(notice.run_id)
            waiter = asyncio.ensure_future(anext(notices))

    listener = asyncio.ensure_future(listen())
    try:
        await listener_ready.wait()
        wait_subscribed = getattr(ctx.broker, "wait_subscribed", None)
        if wait_subscribed is not None:
            await wait_subscribed(thread_id)
        pending: list[tuple[str, bool]] = []  # (run id, still inflight)
        exists = True
        try:
            recent = await ctx.storage.runs.list(thread_id, limit=REPLAY_RUNS, offset=0)
        except InvalidInput:
            raise
        if recent is None:
            exists = False
            recent = []
        for run in sorted(recent, key=lambda r: r.created_at):
            pending.append((run.run_id, run.status in INFLIGHT_STATUSES))
        done: set[str] = set()
        position = since if since is not None else 0
        checked = exists or authorize is None
        while True:
            if pending:
                run_id, follow = pending.pop(0)
            else:
                run_id, follow = await runs.get(), True
            if run_id in done:
                continue
            if not checked:
                assert authorize is not None
                if not await authorize():
                    return
                checked = True
            done.add(run_id)
            async for item in _follow_run(ctx, run_id, position, follow, resume=since is not None):
                if isinstance(item, Lost):
                    yield item
                    return
                position = item[-1].seq
                yield item
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener


async def _follow_run(
    ctx: ServerContext, run_id: str, after: int, follow: bool, *, resume: bool
) -> AsyncIterator[list[ProtocolEvent] | Lost]:
    """One run's protocol events after `after`. Its log opens with `metadata`; reading a run
    from its start, or resuming right after `after`, is whole — anything else skipped events."""
    previous: int | None = None
    async for batch in ctx.broker.read_batches(run_id, after=after, follow=follow):
        if batch[0].seq <= after:
            batch = [entry for entry in batch if entry.seq > after]
            if not batch:
                continue
        first = batch[0]
        if previous is None:
            if resume and first.event != "metadata" and first.seq != after + 1:
                yield Lost(after, first.seq)
                return
        elif first.seq != previous + 1:
            yield Lost(previous, first.seq)
            return
        if batch[-1].seq - first.seq != len(batch) - 1:  # a gap inside the batch: find it
            for prev, entry in itertools.pairwise(batch):
                if entry.seq != prev.seq + 1:
                    yield Lost(prev.seq, entry.seq)
                    return
        previous = batch[-1].seq
        out = [
            event
            for event in (parse_entry(e.seq, e.event, e.data) for e in batch)
            if event is not None
        ]
        if out:
            yield out
