"""Executing one claimed run: graph in, events out, one terminal write.

The run's graph is streamed in a child task so a cancel (from the broker) can stop it at once
without being confused with the worker itself being cancelled (shutdown → requeue, handled by the
pool). Per run the executor adds to the graph's own work: at most one progress write per
LLM-using run plus the first-token write, one final `aget_state` (none for a temporary thread)
and one `finish` transaction. The broker gets the start-up (cancel listen, log open,
`run_started`) and the end (`run_done`, log end, wake-up) as one call each (`begin_run`,
`end_run`), so Redis can send each as a single round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig

from threadloom.runtime import protocol_events, run_config
from threadloom.runtime.broker import Broker, CancelAction, ThreadNotice
from threadloom.runtime.failures import error_payload, error_stop_reason
from threadloom.runtime.measure import RunMeasures
from threadloom.runtime.run_log import log_run_end
from threadloom.runtime.run_metrics import RunWatch
from threadloom.runtime.stream_modes import StreamTranslator, requested_modes, split_part
from threadloom.serde import dumps, to_jsonable
from threadloom.settings import Settings
from threadloom.state_view import render_interrupt
from threadloom.storage.base import Storage
from threadloom.storage.errors import is_unavailable
from threadloom.storage.held_writes import HeldWrites
from threadloom.storage.operations import SlotOffer
from threadloom.storage.records import Assistant, Run, RunStatus, Thread, ThreadSnapshot

logger = logging.getLogger(__name__)

ACCESS_CONTEXT = "threads.create_run"


class GraphBuilder(Protocol):
    """What the executor needs from `threadloom.graphs.GraphRegistry`."""

    def build(
        self,
        graph_id: str,
        config: dict[str, Any],
        *,
        checkpointer: Any,
        store: Any,
        access_context: str = ...,
    ) -> AbstractAsyncContextManager[Any]: ...


@dataclass(slots=True)
class ExecutionResult:
    """How one attempt ended. `values` is the last root `values` chunk (raw, not encoded): the
    output schema's keys; `state_values` the thread's whole state then (webhooks send it)."""

    run_id: str
    thread_id: str
    attempt: int
    status: RunStatus  # success | error | timeout | interrupted
    stop_reason: str | None
    error: dict[str, Any] | None
    values: Any
    thread: ThreadSnapshot | None
    deleted: bool = False  # rollback removed the run (and its checkpoints)
    state_values: Any = None


class RunExecutor:
    """Executes claimed runs; one instance serves a whole worker pool."""

    def __init__(
        self, storage: Storage, broker: Broker, registry: GraphBuilder, settings: Settings
    ) -> None:
        self.storage = storage
        self.broker = broker
        self.registry = registry
        self.settings = settings
        # called with (run as claimed, result) after each terminal write: webhook delivery
        # hangs off this; a hook must not block or raise (failures are only logged)
        self.on_finished: list[Callable[[Run, ExecutionResult], None]] = []
        # asked as a run ends: put its slot back on offer with the terminal write? (the pool)
        self.offer_slot: Callable[[Run], SlotOffer | None] | None = None

    async def execute(self, run: Run) -> ExecutionResult:
        """Run one attempt to a terminal state. Raises CancelledError only if the *calling*
        task is cancelled (worker shutdown): the caller then requeues the run."""
        return await _Execution(self, run).run()

    async def fail(
        self, run: Run, error: dict[str, Any], stop_reason: str = "error"
    ) -> ExecutionResult:
        """End a claimed run as an error without executing it (e.g. attempts exhausted)."""
        return await _Execution(self, run, preset_error=error, preset_stop=stop_reason).run()


class _Execution:
    """The state of one attempt."""

    def __init__(
        self,
        owner: RunExecutor,
        run: Run,
        *,
        preset_error: dict[str, Any] | None = None,
        preset_stop: str = "error",
    ) -> None:
        self.owner = owner
        self.storage = owner.storage
        self.broker = owner.broker
        self.run_record = run
        self.run_id = run.run_id
        # a temporary thread leaves no snapshot to read the whole state from: a webhook
        # (which sends it) needs the root checkpoints followed
        self.translator: StreamTranslator | protocol_events.ProtocolTranslator
        # a run started through the thread protocol streams LangGraph's v3 events instead
        self.protocol: protocol_events.ProtocolTranslator | None = None
        if run.kwargs.get("protocol") == "v3":
            graph_id = (run.kwargs.get("config") or {}).get("configurable", {}).get("graph_id")
            self.protocol = protocol_events.ProtocolTranslator(str(graph_id or run.assistant_id))
            self.translator = self.protocol
        else:
            self.translator = StreamTranslator(
                requested_modes(run.kwargs.get("stream_mode")),
                track_state=run.temporary and bool(run.kwargs.get("webhook")),
            )
        self.subgraphs = bool(run.kwargs.get("stream_subgraphs") or run.kwargs.get("subgraphs"))
        self.cancel_action: CancelAction | None = None
        cancel_requested = run.cancel_requested
        if cancel_requested:
            action = cancel_requested.get("action", "interrupt")
            self.cancel_action = "rollback" if action == "rollback" else "interrupt"
        self.task: asyncio.Task[None] | None = None
        self.progress_task: asyncio.Future[None] | None = None
        self.measures = RunMeasures(on_first_token=self._first_token)
        self.preset_error = preset_error
        self.preset_stop = preset_stop
        self._nowait = self.broker.publish_nowait if self.broker.publishes_inline else None
        self.watch: RunWatch | None = None  # metrics and trace of the attempt (run_metrics.py)

    # --- signals ------------------------------------------------------------------------
    def _on_cancel(self, action: CancelAction) -> None:
        if self.cancel_action is None or action == "rollback":
            self.cancel_action = action
        task = self.task
        if task is not None and not task.done():
            task.cancel()

    def _first_token(self, at: datetime) -> None:
        self.progress_task = asyncio.ensure_future(
            self.storage.runs.record_progress(self.run_id, first_token_at=at)
        )

    async def _emit(self, event: str, data: bytes) -> None:
        if self._nowait is not None:
            self._nowait(self.run_id, event, data)
        else:
            await self.broker.publish(self.run_id, event, data)

    # --- the attempt --------------------------------------------------------------------
    async def run(self) -> ExecutionResult:
        run = self.run_record
        info = dumps({"run_id": self.run_id, "attempt": run.attempt})
        started = ThreadNotice("run_started", self.run_id, info)
        unlisten = await self.broker.begin_run(
            self.run_id,
            run.thread_id,
            self._on_cancel,
            started,
            first_attempt=run.attempt == 1,
            attempt=run.attempt,
            floor=protocol_events.seq_floor() if self.protocol is not None else 0,
        )
        self.watch = watch = RunWatch(run)
        try:
            await self._emit("metadata", info)
            if self.protocol is not None:
                for name, data in self.protocol.start():
                    await self._emit(name, data)
            result = await self._attempt()
        except BaseException as exc:
            watch.abandoned(exc)
            raise
        finally:
            await unlisten()
        watch.ended(result, self.measures)
        await self._announce_end()
        log_run_end(run, result, self.measures)  # the console's line (runtime/run_log.py)
        for hook in self.owner.on_finished:
            try:
                hook(run, result)
            except Exception:
                logger.exception("post-finish hook failed for run %s", self.run_id)
        return result

    async def _attempt(self) -> ExecutionResult:
        run = self.run_record
        thread: Thread | None = None
        if self.preset_error is not None:
            thread = await self.storage.threads.get(run.thread_id)
            return await self._finish_without_graph(thread, self.preset_error, self.preset_stop)
        try:
            assistant = _assistant_from_kwargs(run)
            if assistant is None:  # a run recorded without its merged config: read it
                assistant = await self.storage.assistants.get(run.assistant_id)
                thread = await self.storage.threads.get(run.thread_id)
            if assistant is None:
                raise LookupError(f"Assistant {run.assistant_id} not found")
            config = self._config(assistant, thread, resuming=False)
            async with self.owner.registry.build(
                assistant.graph_id,
                config,
                checkpointer=self.storage.checkpointer,
                store=self.storage.store,
                access_context=ACCESS_CONTEXT,
            ) as graph:
                resuming = run.attempt > 1 and await self._has_run_checkpoint()
                if resuming:
                    config = self._config(assistant, thread, resuming=True)
                return await self._execute_graph(graph, assistant, config, resuming)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # building the graph or reading its state failed
            if is_unavailable(exc):
                raise  # the database or Redis is away: the pool re-queues, nothing is recorded
            logger.exception("run %s failed outside the graph", self.run_id)
            stop = error_stop_reason(exc, llm_failed=self.measures.llm_failed)
            return await self._finish_without_graph(thread, error_payload(exc), stop)

    def _config(
        self, assistant: Assistant, thread: Thread | None, *, resuming: bool
    ) -> dict[str, Any]:
        return run_config.build_config(
            self.run_record,
            graph_id=assistant.graph_id,
            assistant_config=assistant.config,
            thread_config=thread.config if thread is not None else None,
            resuming=resuming,
        )

    async def _has_run_checkpoint(self) -> bool:
        """A retried attempt whose earlier attempt checkpointed continues from there."""
        probe: RunnableConfig = {
            "configurable": {"thread_id": self.run_record.thread_id, "checkpoint_ns": ""}
        }
        async for _ in self.storage.checkpointer.alist(
            probe, filter={"run_id": self.run_id}, limit=1
        ):
            return True
        return False

    async def _execute_graph(
        self, graph: Any, assistant: Assistant, config: dict[str, Any], resuming: bool
    ) -> ExecutionResult:
        run = self.run_record
        kwargs = run.kwargs
        options: dict[str, Any] = {}
        if isinstance(self.translator, StreamTranslator):  # v3 streams choose their own modes
            options["stream_mode"] = self.translator.graph_modes
            options["subgraphs"] = self.subgraphs
        for key in ("interrupt_before", "interrupt_after"):
            nodes = run_config.interrupt_nodes(kwargs.get(key))
            if nodes is not None:
                options[key] = nodes
        durability = run_config.durability(kwargs)
        if durability is not None:
            options["durability"] = durability
        context = {**(assistant.context or {}), **(kwargs.get("context") or {})}
        if getattr(graph, "context_schema", None) is not None:
            options["context"] = run_config.graph_context(graph, context)
        elif context:
            for key, value in context.items():
                config["configurable"].setdefault(key, value)
        config["callbacks"] = (
            [self.measures, *self.watch.callbacks] if self.watch else [self.measures]
        )
        graph_input = run_config.build_input(run, resuming=resuming)

        error: BaseException | None = None
        timed_out = False
        cancelled = False
        if self.cancel_action is None:
            settings = self.owner.settings
            temporary: HeldWrites | None = None
            thread_hints = self.storage.thread_hints
            with contextlib.ExitStack() as hints:  # what the saver may assume of the thread
                if run.temporary:
                    hold = run_config.stateless_checkpoint_delay(
                        kwargs, settings.stateless_checkpoint_delay_seconds
                    )
                    temporary = hints.enter_context(thread_hints.temporary(run.thread_id, hold))
                    if run.attempt == 1 and not resuming:  # created with the run: still empty
                        hints.enter_context(thread_hints.fresh(run.thread_id))
                self.task = asyncio.ensure_future(self._stream(graph, graph_input, config, options))
            try:
                async with asyncio.timeout(settings.run_timeout_seconds) as deadline:
                    await self.task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if self.cancel_action is None or (current is not None and current.cancelling()):
                    raise  # the worker is being stopped: not a user cancel
                cancelled = True
            except TimeoutError as exc:
                if deadline.expired():
                    timed_out = True
                else:
                    error = exc
            except Exception as exc:
                error = exc
            finally:
                if temporary is not None:  # its thread goes with the run: held writes too
                    await temporary.discard()
        else:
            cancelled = True
        if error is not None and is_unavailable(error):
            raise error  # an outage, not the graph's fault: retried from the last checkpoint

        if self.progress_task is not None:
            await _quietly(self.progress_task)
        if self.measures.has_data:
            await _quietly(
                self.storage.runs.record_progress(
                    self.run_id,
                    usage=self.measures.usage,
                    steps=self.measures.steps,
                    model_snapshot=self.measures.model_snapshot,
                )
            )

        rollback = cancelled and self.cancel_action == "rollback"
        if rollback:
            await self.storage.delete_run_checkpoints(run.thread_id, self.run_id)

        if run.temporary:  # `finish` deletes the thread and its checkpoints
            paused = self.translator.saw_interrupt
            snapshot: ThreadSnapshot | None = None
        else:
            snapshot, paused = await self._snapshot(graph, config)

        status: RunStatus
        if cancelled:
            status, stop, err = "interrupted", "cancelled", None
        elif timed_out:
            status, stop = "timeout", "timeout"
            err = {
                "error": "TimeoutError",
                "message": f"Run timed out after {self.owner.settings.run_timeout_seconds:g}s",
            }
        elif error is not None:
            status = "error"
            stop = error_stop_reason(error, llm_failed=self.measures.llm_failed)
            err = error_payload(error)
            if not isinstance(error, (ValueError, TypeError, KeyError, LookupError)):
                logger.error("run %s failed", self.run_id, exc_info=error)
        else:
            status, stop, err = "success", ("requires_approval" if paused else "end_turn"), None
        if err is not None:
            await self._emit("error", dumps(err))
            if snapshot is not None:
                snapshot.status = "error"
                snapshot.error = err

        await self._terminal_write(
            status=status,
            stop_reason=stop,
            error=err,
            thread=snapshot,
            delete_run=rollback,
            delete_thread=run.temporary,
        )
        await self._protocol_end(status, paused=paused, error=err)
        return ExecutionResult(
            run_id=self.run_id,
            thread_id=run.thread_id,
            attempt=run.attempt,
            status=status,
            stop_reason=stop,
            error=err,
            values=self.translator.last_values,
            thread=snapshot,
            deleted=rollback,
            state_values=snapshot.values if snapshot is not None else self.translator.last_state,
        )

    async def _stream(
        self, graph: Any, graph_input: Any, config: dict[str, Any], options: dict[str, Any]
    ) -> None:
        """Drive the graph and publish what the client asked for. The hot loop."""
        nowait = self._nowait
        run_id = self.run_id
        protocol = self.protocol
        output_keys = getattr(graph, "output_channels", None)
        if protocol is not None:
            if output_keys is not None:
                options = {**options, "output_keys": output_keys}
            mux = protocol_events.Mux(graph)
            parts = graph.astream(
                graph_input,
                protocol_events.graph_config(config),
                stream_mode=mux.modes,
                subgraphs=True,
                version="v2",
                **options,
            )
            entries = mux.entries
            async for part in parts:
                for name, data in entries(part, protocol):
                    if nowait is not None:
                        nowait(run_id, name, data)
                    else:
                        await self.broker.publish(run_id, name, data)
            for event in mux.close():
                for name, data in protocol.translate(event):
                    await self._emit(name, data)
            return
        assert isinstance(self.translator, StreamTranslator)
        translate = self.translator.translate
        subgraphs = self.subgraphs
        if self.translator.events_mode:
            async for event in graph.astream_events(graph_input, config, version="v2", **options):
                await self._emit("events", dumps(event))
                if event.get("event") == "on_chain_stream" and not event.get("parent_ids"):
                    chunk = event.get("data", {}).get("chunk")
                    if isinstance(chunk, tuple):
                        ns, mode, payload = split_part(chunk, subgraphs)
                        for name, data in translate(ns, mode, payload):
                            await self._emit(name, data)
            return
        # `/wait`, `/join` and the `values`/`updates` events carry the graph's output schema
        # (the reference passes the output channels as LangGraph's `output_keys`); the thread's
        # state keeps every key. `astream_events` takes none, as in the reference.
        if output_keys is not None:
            options = {**options, "output_keys": output_keys}
        async for part in graph.astream(graph_input, config, **options):
            ns, mode, payload = split_part(part, subgraphs)
            for name, data in translate(ns, mode, payload):
                if nowait is not None:
                    nowait(run_id, name, data)
                else:
                    await self.broker.publish(run_id, name, data)

    async def _snapshot(self, graph: Any, config: dict[str, Any]) -> tuple[ThreadSnapshot, bool]:
        """The thread's state after the run, from its latest checkpoint (one read)."""
        state = await graph.aget_state(run_config.latest_state_config(config))
        interrupts = {
            task.id: [render_interrupt(i) for i in task.interrupts]
            for task in state.tasks
            if task.interrupts
        }
        paused = bool(state.next) or bool(interrupts)
        snapshot = ThreadSnapshot(
            status="interrupted" if paused else "idle",
            values=to_jsonable(state.values),
            interrupts=interrupts,
        )
        return snapshot, paused

    async def _finish_without_graph(
        self, thread: Thread | None, err: dict[str, Any], stop: str
    ) -> ExecutionResult:
        """Error path when there is no graph to read state from: keep the thread's values."""
        run = self.run_record
        await self._emit("error", dumps(err))
        snapshot = None
        if thread is not None and not run.temporary:
            snapshot = ThreadSnapshot(
                status="error", values=thread.values, interrupts=thread.interrupts, error=err
            )
        await self._terminal_write(
            status="error",
            stop_reason=stop,
            error=err,
            thread=snapshot,
            delete_thread=run.temporary,
        )
        await self._protocol_end("error", paused=False, error=err)
        return ExecutionResult(
            run_id=self.run_id,
            thread_id=run.thread_id,
            attempt=run.attempt,
            status="error",
            stop_reason=stop,
            error=err,
            values=self.translator.last_values,
            thread=snapshot,
            state_values=snapshot.values if snapshot is not None else self.translator.last_state,
        )

    async def _protocol_end(
        self, status: RunStatus, *, paused: bool, error: dict[str, Any] | None
    ) -> None:
        """A protocol run's closing events, once its end is written (a client that reads the
        thread on `completed` sees it ended): the last values for `/join`, what it paused on,
        its root lifecycle's end."""
        protocol = self.protocol
        if protocol is None:
            return
        if protocol.saw_values:
            await self._emit("values", dumps(protocol.last_values))
        for name, data in protocol.end(status, paused=paused, error=error):
            await self._emit(name, data)

    async def _terminal_write(self, **finish: Any) -> None:
        """The run's one terminal write; its end is announced only once the write has landed:
        a client that reads the run or its thread after `/wait` or a stream's end must see it
        ended (or, for a stateless run, gone) — the SDK itself reads the run when a stream
        closes, and reconnects to a run it still sees running."""
        offer_slot = self.owner.offer_slot
        offer = offer_slot(self.run_record) if offer_slot is not None else None
        await self.storage.runs.finish(self.run_id, offer=offer, **finish)

    async def _announce_end(self) -> None:
        """After the terminal write: thread subscribers, stream readers, then the queue — which
        only a thread that lives on can have more runs waiting in (a temporary thread went with
        its run, and any run enqueued on it went along; a slot coming free is the pool's to
        announce), and only if the terminal write did not wake the workers itself."""
        done = ThreadNotice(
            "run_done", self.run_id, dumps({"status": "run_done", "run_id": self.run_id})
        )
        wake = not self.run_record.temporary and not self.storage.runs.finish_wakes_workers
        await self.broker.end_run(self.run_id, self.run_record.thread_id, done, wake=wake)


async def _quietly(awaitable: Any) -> None:
    """Measures are best effort: a failed write must not fail the run."""
    try:
        await awaitable
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.warning("recording run measures failed", exc_info=True)


def _assistant_from_kwargs(run: Run) -> Assistant | None:
    """Runs created through `services.runs.create_run` carry the assistant's config and context
    already merged into their kwargs (as LangGraph records them), so executing one needs no
    assistant or thread read; the stand-in only names the graph."""
    config = run.kwargs.get("config") or {}
    graph_id = (config.get("configurable") or {}).get("graph_id")
    if not graph_id:
        return None
    return Assistant(
        assistant_id=run.assistant_id,
        graph_id=graph_id,
        config={},
        context={},
        metadata={},
        version=0,
        name="",
        description=None,
        created_at=run.created_at,
        updated_at=run.created_at,
    )
