"""Fault drills: faults injected under load, then every acknowledged run accounted for.

    make drills                      # or: uv run python -m bench.drills [--rounds 1] [--out bench/RESULTS.md]

Four drills, each on a deployment of its own (throwaway SQLite file, PostgreSQL schema, Redis
key prefix, or private PostgreSQL / Redis processes in a temp dir):

- `embedded kill -9`: `threadloom dev` is killed with SIGKILL under load and started again on
  the same SQLite file and port.
- `cluster worker kill -9`: one of two `threadloom worker` processes is SIGKILLed; a new one
  starts (short leases, so the survivors take its runs over).
- `postgres restart`: a private PostgreSQL (initdb/pg_ctl from the Debian packages) is
  restarted (`pg_ctl restart -m fast`) under a cluster `serve` with in-process workers.
- `redis restart + takeover`: a private redis-server (no persistence: every run's event log is
  lost) is killed together with the worker executing the runs, then both come back; the other
  worker takes the runs over.

Load: background clients creating runs (`client.runs.create`), and stream clients
(`client.runs.stream(..., stream_resumable=True)`, which the SDK resumes with `Last-Event-ID`).
The graph is the e2e project's `slow` (five ticks adding 1 each to `steps`). Afterwards:

- acknowledged: runs whose create was answered 2xx (a stream: its `metadata` event)
- terminal: acknowledged runs that reached success/error/timeout/interrupted
- lost: acknowledged runs missing, or not terminal by the deadline
- duplicated: acknowledged runs whose thread holds more than one run or whose final state did
  not add each tick exactly once (`steps != 5`)
- stream clients complete: streams that ended with the final values, or with an explicit
  `error` event (position lost) after which `join` returned the final values; a stream that
  ended cleanly short of them would be a silent loss
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cluster import ClusterBackends, WorkerProcess  # noqa: E402
from tests.support.outage import PostgresServer, RedisServer  # noqa: E402
from tests.support.server import TEST_PROJECT, ServerProcess  # noqa: E402

from bench.results import machine, write_section  # noqa: E402

TERMINAL = {"success", "error", "timeout", "interrupted"}
STEPS = 5  # the `slow` graph's ticks
TICK_SECONDS = 0.15
STREAM_LIMIT_SECONDS = 120.0  # a stream open this long after its run started has stalled
CREATE_PAUSE_SECONDS = 0.4  # per background client: a steady load, not a flood
# leases short enough that a killed worker's runs are taken over within the drill, long enough
# that a live worker on a shared two-core machine keeps them (2 s leases, the tests' choice,
# lapsed under hundreds of concurrent runs and re-queued runs their worker was still executing)
DRILL_ENV = {
    "THREADLOOM_LEASE_SECONDS": "5",
    "THREADLOOM_HEARTBEAT_SECONDS": "1",
    "THREADLOOM_WORKERS": "16",
}


@dataclass
class Tally:
    acknowledged: dict[str, str] = field(default_factory=dict)  # run id -> thread id
    streams: int = 0
    streams_complete: int = 0
    streams_via_error: int = 0
    silent_short: int = 0
    refused: int = 0  # creates answered with an error or no answer (not acknowledged)
    stalled: list[str] = field(default_factory=list)  # streams still open after STREAM_LIMIT


@dataclass
class Outcome:
    name: str
    acknowledged: int
    terminal: int
    lost: int
    duplicated: int
    failed: int
    streams: int
    streams_complete: int
    streams_via_error: int
    silent_short: int
    refused: int
    seconds: float
    first_failure: str = ""
    stalled: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.silent_short == 0
            and self.streams_complete == self.streams
            and not self.stalled
            and self.acknowledged > 0
        )

    def line(self) -> str:
        return (
            f"{self.name}: acknowledged {self.acknowledged}, terminal {self.terminal}, "
            f"lost {self.lost}, duplicated {self.duplicated}, stream clients complete "
            f"{self.streams_complete}/{self.streams} (via error + join {self.streams_via_error}, "
            f"silent short {self.silent_short}); failed runs {self.failed}, refused creates "
            f"{self.refused}, {self.seconds:.0f} s"
            + (f"; first failure: {self.first_failure}" if self.first_failure else "")
            + (f"; stalled streams: {self.stalled}" if self.stalled else "")
        )


# --- load ----------------------------------------------------------------------------------
async def _background_client(client: LangGraphClient, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            thread = await client.threads.create()
            run = await client.runs.create(
                thread["thread_id"], "slow", input={"seconds": TICK_SECONDS}
            )
            tally.acknowledged[run["run_id"]] = thread["thread_id"]
        except (httpx.HTTPError, OSError):
            tally.refused += 1
        await asyncio.sleep(CREATE_PAUSE_SECONDS)


def _steps(values: Any) -> int | None:
    return values.get("steps") if isinstance(values, dict) else None


async def _stream_client(client: LangGraphClient, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            thread = await client.threads.create()
        except (httpx.HTTPError, OSError):
            tally.refused += 1
            await asyncio.sleep(0.2)
            continue
        tid = thread["thread_id"]
        run_id: str | None = None
        last: Any = None
        errored = False
        try:
            async with asyncio.timeout(STREAM_LIMIT_SECONDS):
                async for part in client.runs.stream(
                    tid,
                    "slow",
                    input={"seconds": TICK_SECONDS},
                    stream_mode="values",
                    stream_resumable=True,
                ):
                    if part.event == "metadata" and run_id is None:
                        run_id = part.data["run_id"]
                        tally.acknowledged[run_id] = tid
                        tally.streams += 1
                    elif part.event == "values":
                        last = part.data
                    elif part.event == "error":
                        errored = True
        except TimeoutError:
            tally.stalled.append(f"{tid}/{run_id}")
            continue
        except (httpx.HTTPError, OSError):
            if run_id is None:
                tally.refused += 1
                await asyncio.sleep(0.2)
                continue
            errored = True  # the SDK gave up reconnecting: the client asks for the outcome
        if run_id is None:
            continue
        if _steps(last) == STEPS and not errored:
            tally.streams_complete += 1
            continue
        if not errored:
            tally.silent_short += 1  # a clean end short of the final values
            continue
        with contextlib.suppress(httpx.HTTPError, OSError):
            final = await _join(client, tid, run_id)
            if _steps(final) == STEPS:
                tally.streams_complete += 1
                tally.streams_via_error += 1


async def _join(client: LangGraphClient, tid: str, rid: str) -> Any:
    for _ in range(60):
        try:
            return await client.runs.join(tid, rid)
        except (httpx.HTTPError, OSError):
            await asyncio.sleep(1.0)
    return None


async def _verify(client: LangGraphClient, tally: Tally, deadline_s: float) -> dict[str, int]:
    pending = dict(tally.acknowledged)
    statuses: dict[str, str] = {}
    errors: list[str] = []
    deadline = time.monotonic() + deadline_s
    while pending and time.monotonic() < deadline:
        for rid, tid in list(pending.items()):
            try:
                run = await client.runs.get(tid, rid)
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code == 404:
                    statuses[rid] = "missing"
                    pending.pop(rid)
                continue
            except (httpx.HTTPError, OSError):
                continue
            if run["status"] in TERMINAL:
                statuses[rid] = run["status"]
                pending.pop(rid)
                if run["status"] != "success" and not errors:
                    errors.append(str(run.get("error") or run.get("stop_reason"))[:300])
        if pending:
            await asyncio.sleep(0.5)
    duplicated = 0
    for rid, tid in tally.acknowledged.items():
        if statuses.get(rid) not in TERMINAL:
            continue
        runs = await client.runs.list(tid, limit=10)
        state = await client.threads.get_state(tid)
        if len(runs) != 1 or (statuses[rid] == "success" and _steps(state.get("values")) != STEPS):
            duplicated += 1
    terminal = sum(1 for s in statuses.values() if s in TERMINAL)
    return {
        "terminal": terminal,
        "lost": len(tally.acknowledged) - terminal,
        "duplicated": duplicated,
        "failed": sum(1 for s in statuses.values() if s in TERMINAL - {"success"}),
        "first_failure": errors[0] if errors else "",
    }


async def _drill(
    name: str, url: str, fault: Callable[[], None], *, clients: int, streams: int, load_s: float
) -> Outcome:
    started = time.monotonic()
    client = get_client(url=url, api_key=None, timeout=httpx.Timeout(30.0, connect=5.0))
    tally = Tally()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_background_client(client, tally, stop)) for _ in range(clients)]
    tasks += [asyncio.create_task(_stream_client(client, tally, stop)) for _ in range(streams)]
    await asyncio.sleep(load_s / 2)
    await asyncio.to_thread(fault)
    await asyncio.sleep(load_s / 2)
    stop.set()
    await asyncio.gather(*tasks)  # each stream is bounded by STREAM_LIMIT_SECONDS
    figures = await _verify(client, tally, deadline_s=120)
    await client.http.client.aclose()
    return Outcome(
        name=name,
        acknowledged=len(tally.acknowledged),
        streams=tally.streams,
        streams_complete=tally.streams_complete,
        streams_via_error=tally.streams_via_error,
        silent_short=tally.silent_short,
        refused=tally.refused,
        stalled=tally.stalled,
        seconds=time.monotonic() - started,
        **figures,
    )


# --- deployments ---------------------------------------------------------------------------
@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    """A temp dir for the drill's files; its logs are kept when the drill raised."""
    path = Path(tempfile.mkdtemp(prefix="threadloom-drill-"))
    os.chmod(path, 0o755)
    try:
        yield path
    except BaseException:
        print(f"drill failed: its logs are kept in {path}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _private_backends(tmp: Path) -> Iterator[tuple[PostgresServer, RedisServer, ClusterBackends]]:
    """PostgreSQL and Redis processes of the drill's own: the shared services serve the other
    engineers' tests too, and their connection limits are not the drill's to spend."""
    pg = PostgresServer()
    redis_server = RedisServer(tmp)
    pg.start()
    redis_server.start()
    try:
        yield pg, redis_server, ClusterBackends(pg.url, redis_server.url)
    finally:
        redis_server.stop()
        pg.stop()


def _kept(tmp: Path, outcome: Outcome) -> Outcome:
    """The outcome; a failed drill's logs are copied out of its temp dir first."""
    if not outcome.ok:
        keep = Path(tempfile.mkdtemp(prefix="threadloom-drill-logs-"))
        for log in tmp.glob("*.log"):
            shutil.copy(log, keep)
        print(f"{outcome.name} failed: its logs are in {keep}", file=sys.stderr)
    return outcome


def embedded_kill9(load: dict[str, Any]) -> Outcome:
    with _workdir() as tmp:
        server = ServerProcess(TEST_PROJECT, tmp / "threadloom.db", env=DRILL_ENV)
        server.start()

        def fault() -> None:
            server.kill()
            server.start()

        try:
            return _kept(tmp, asyncio.run(_drill("embedded kill -9", server.url, fault, **load)))
        finally:
            server.stop()


def cluster_worker_kill9(load: dict[str, Any]) -> Outcome:
    with _workdir() as tmp, _private_backends(tmp) as (_, _, backends):
        api = ServerProcess(
            TEST_PROJECT,
            tmp / "api.db",
            command="serve",
            env={**backends.env(workers=0), **DRILL_ENV, "THREADLOOM_WORKERS": "0"},
        )
        env = {**backends.env(), **DRILL_ENV}
        workers = [WorkerProcess(TEST_PROJECT, tmp / f"worker{i}.log", env) for i in range(2)]
        try:
            api.start()
            for worker in workers:
                worker.start()

            def fault() -> None:
                workers[0].kill()
                workers.append(WorkerProcess(TEST_PROJECT, tmp / "worker2.log", env))
                workers[-1].start()

            return _kept(tmp, asyncio.run(_drill("cluster worker kill -9", api.url, fault, **load)))
        finally:
            for worker in workers:
                worker.stop()
            api.stop()


def postgres_restart(load: dict[str, Any]) -> Outcome:
    with _workdir() as tmp, _private_backends(tmp) as (pg, _, backends):
        server = ServerProcess(
            TEST_PROJECT, tmp / "api.db", command="serve", env={**backends.env(), **DRILL_ENV}
        )
        try:
            server.start()
            return _kept(
                tmp, asyncio.run(_drill("postgres restart", server.url, pg.restart, **load))
            )
        finally:
            server.stop()


def redis_restart_takeover(load: dict[str, Any]) -> Outcome:
    with _workdir() as tmp, _private_backends(tmp) as (_, redis_server, backends):
        api = ServerProcess(
            TEST_PROJECT,
            tmp / "api.db",
            command="serve",
            env={**backends.env(workers=0), **DRILL_ENV, "THREADLOOM_WORKERS": "0"},
        )
        env = {**backends.env(), **DRILL_ENV}
        workers = [WorkerProcess(TEST_PROJECT, tmp / f"worker{i}.log", env) for i in range(2)]
        try:
            api.start()
            for worker in workers:
                worker.start()

            def fault() -> None:
                redis_server.stop()
                workers[0].kill()  # its runs are taken over by the other worker
                redis_server.start()
                workers.append(WorkerProcess(TEST_PROJECT, tmp / "worker2.log", env))
                workers[-1].start()

            return _kept(
                tmp, asyncio.run(_drill("redis restart + takeover", api.url, fault, **load))
            )
        finally:
            for worker in workers:
                worker.stop()
            api.stop()


DRILLS: dict[str, Callable[[dict[str, Any]], Outcome]] = {
    "embedded": embedded_kill9,
    "worker": cluster_worker_kill9,
    "postgres": postgres_restart,
    "redis": redis_restart_takeover,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="repeat every drill")
    parser.add_argument("--clients", type=int, default=4, help="background clients")
    parser.add_argument("--streams", type=int, default=4, help="stream clients")
    parser.add_argument("--load-seconds", type=float, default=12.0)
    parser.add_argument("--only", default=",".join(DRILLS), help="comma-separated drills")
    parser.add_argument("--out", type=Path, help="write the summary into this RESULTS.md")
    args = parser.parse_args()
    load = {"clients": args.clients, "streams": args.streams, "load_s": args.load_seconds}
    outcomes = []
    for _ in range(args.rounds):
        for name in args.only.split(","):
            outcome = DRILLS[name.strip()](load)
            print(outcome.line(), flush=True)
            outcomes.append(outcome)
    verdict = "all drills held" if all(o.ok for o in outcomes) else "A DRILL FAILED"
    print(verdict)
    if args.out:
        body = "\n".join(
            [
                "## Fault drills (issue 20)",
                "",
                f"Machine: {machine()}. Command: `make drills` (`uv run python -m bench.drills "
                f"--rounds {args.rounds} --clients {args.clients} --streams {args.streams} "
                f"--load-seconds {args.load_seconds:g} --out bench/RESULTS.md`).",
                "",
                "```",
                *(o.line() for o in outcomes),
                verdict,
                "```",
            ]
        )
        write_section(args.out, "drills", body)
    return 0 if verdict == "all drills held" else 1


if __name__ == "__main__":
    raise SystemExit(main())
