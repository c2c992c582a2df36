"""Threadloom side by side with `langgraph dev`: the same graphs, the same SDK calls, interleaved.

    uv run python -m bench.peers [--quick] [--out bench/RESULTS.md] [--profile DIR]

Starts embedded Threadloom (`threadloom dev`, SQLite) and the reference `langgraph dev`
(in-memory) on bench/project, on free ports, and drives both with the official async
`langgraph_sdk` client, one client per server, alternating between the servers request by
request (latency rows) or round by round (throughput rows), and which of the two goes first,
so the shared machine's noise falls on both alike. Prints a Markdown table of the two numbers
and their ratio; `--out` writes it into bench/RESULTS.md with the exact command.

`langgraph dev` runs from its own virtualenv, never the project's: created once with
`$THREADLOOM_PEER_PIN` (default `langgraph-cli[inmem]==0.4.40`) at `$THREADLOOM_PEER_VENV`
(default ~/.cache/threadloom-bench/peer-venv) and reused while the pin is unchanged.

Both servers get the same `--n-jobs-per-worker` (`--jobs`, default 500, Threadloom's own
default): `langgraph dev`'s is 1, which would make the concurrent rows measure its flag.

`--profile DIR` runs Threadloom under cProfile (bench/profiled_server.py), one profile per
scenario in DIR (`<scenario>.prof` and a `.txt` summary); its numbers then carry cProfile's
overhead, so it cannot be combined with `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import langgraph_sdk
from langgraph_sdk import get_client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess, free_port  # noqa: E402

import threadloom  # noqa: E402
from bench.results import machine, write_section  # noqa: E402

PROJECT = ROOT / "bench" / "project" / "langgraph.json"
DEFAULT_PIN = "langgraph-cli[inmem]==0.4.40"
DEFAULT_VENV = Path("~/.cache/threadloom-bench/peer-venv")
MARKER = ".threadloom-peer-pin"  # written last: a venv without it is half-built and is rebuilt
TL, PEER = "Threadloom", "langgraph dev"


# --- sizes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    threads: int = 1000  # threads with metadata {"user": i % 100} for the search
    runs: int = 200  # finished runs on the thread that runs.list reads
    samples: int = 200  # per latency row (threads.search, runs.list, get, update, assistants)
    creates: int = 300  # sequential threads.create
    idle_waits: int = 30  # idle runs.wait: langgraph dev's queue polls, ~1 s each there
    c8_runs: int = 48  # runs.wait at concurrency 8, runs per round
    c8_rounds: int = 3
    background: int = 20  # sequential runs.create + runs.join
    streams: int = 10  # 1,000-event custom streams
    events: int = 1000
    sleepers: int = 200  # 0.5 s sleeper runs created at once
    sleeper_rounds: int = 2


QUICK = Sizes(
    threads=200,
    runs=20,
    samples=40,
    creates=60,
    idle_waits=5,
    c8_runs=16,
    c8_rounds=1,
    background=5,
    streams=3,
    sleeper_rounds=1,
)


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    scenario: str
    unit: str  # "ms", "s", "MB", "CPU s", or a rate such as "threads/s"
    better: str  # "lower" or "higher"
    threadloom: float
    peer: float

    @property
    def advantage(self) -> float:
        """How many times better Threadloom is: > 1 means Threadloom wins the row.

        Lower-is-better rows: langgraph dev ÷ Threadloom; higher-is-better: Threadloom ÷
        langgraph dev."""
        num, den = (
            (self.peer, self.threadloom) if self.better == "lower" else (self.threadloom, self.peer)
        )
        if den == 0:
            return float("inf") if num > 0 else 1.0
        return num / den


def fmt(value: float, unit: str) -> str:
    if unit in ("ms", "s"):
        digits = 0 if value >= 100 else 1 if value >= 10 else 2
        return f"{value:,.{digits}f} {unit}"
    if unit in ("MB", "CPU s"):
        return f"{value:,.0f} {unit}" if unit == "MB" else f"{value:,.1f} {unit}"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def fmt_ratio(advantage: float) -> str:
    if advantage == float("inf"):
        return "∞"
    return f"{advantage:,.0f}x" if advantage >= 100 else f"{advantage:.2f}x"


def render(rows: Iterable[Row], *, intro: str, command: str) -> str:
    lines = [
        "## Side by side: Threadloom vs `langgraph dev`",
        "",
        intro,
        "",
        "| Scenario | better | Threadloom | langgraph dev | Threadloom ahead by | "
        "Threadloom better? |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        ahead = row.advantage
        behind = (1 - ahead) * 100
        verdict = "yes" if ahead >= 1 else f"**no** ({behind:.{0 if behind >= 1 else 1}f} % behind)"
        lines.append(
            f"| {row.scenario} | {row.better} | {fmt(row.threadloom, row.unit)} | "
            f"{fmt(row.peer, row.unit)} | {fmt_ratio(ahead)} | {verdict} |"
        )
    lines += [
        "",
        "*Threadloom ahead by*: langgraph dev ÷ Threadloom where lower is better, Threadloom ÷ "
        "langgraph dev where higher is better; above 1x Threadloom wins the row.",
        "",
        f"Command: `{command}`",
    ]
    return "\n".join(lines) + "\n"


# --- /proc: a process tree's memory and CPU ----------------------------------------------------


def tree_pids(root: int, parents: Mapping[int, int]) -> list[int]:
    """`root` and all its descendants, given each live process's parent."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_total(root: int, parents: Mapping[int, int], values: Mapping[int, float]) -> float:
    """Sum of `values` over `root`'s process tree (processes gone meanwhile count 0)."""
    return sum(values.get(pid, 0.0) for pid in tree_pids(root, parents))


def _proc_table() -> tuple[dict[int, int], dict[int, float], dict[int, float]]:
    """Every live process's parent, RSS (MB) and CPU seconds (utime + stime), from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    cpu: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            statm = (entry / "statm").read_text().split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
        rss[pid] = int(statm[1]) * page / 1e6
    return parents, rss, cpu


def tree_rss_mb(root: int) -> float:
    parents, rss, _ = _proc_table()
    return tree_total(root, parents, rss)


def tree_cpu_seconds(root: int) -> float:
    parents, _, cpu = _proc_table()
    return tree_total(root, parents, cpu)


# --- the peer: its virtualenv and its process ---------------------------------------------------


def venv_commands(venv: Path, pin: str, python: str, uv: str | None) -> list[list[str]]:
    """The commands that build the peer's virtualenv: uv when there is one (seconds), else
    `python -m venv` + pip. The interpreter is this one, so both servers run the same Python."""
    if uv:
        return [
            [uv, "venv", "--quiet", "--python", python, str(venv)],
            [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), pin],
        ]
    return [
        [python, "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", pin],
    ]


def peer_command(venv: Path, port: int, jobs: int) -> list[str]:
    return [
        str(venv / "bin" / "langgraph"),
        "dev",
        "--no-browser",
        "--no-reload",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n-jobs-per-worker",
        str(jobs),
        "--config",
        "langgraph.json",
    ]


def peer_venv_ready(venv: Path, pin: str) -> bool:
    marker = venv / MARKER
    return (
        (venv / "bin" / "langgraph").exists()
        and marker.exists()
        and marker.read_text().strip() == pin
    )


def ensure_peer_venv(venv: Path, pin: str) -> Path:
    if peer_venv_ready(venv, pin):
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    print(f"building the peer's virtualenv {venv} ({pin}) ...", file=sys.stderr)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    for cmd in venv_commands(venv, pin, sys.executable, shutil.which("uv")):
        subprocess.run(cmd, check=True, env=env)
    (venv / MARKER).write_text(pin + "\n")
    return venv


def peer_versions(venv: Path) -> dict[str, str]:
    names = ["langgraph-cli", "langgraph-api", "langgraph-runtime-inmem", "langgraph"]
    code = f"import importlib.metadata as m\nfor n in {names!r}:\n    print(n, m.version(n))\n"
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


class PeerServer:
    """`langgraph dev` in a scratch copy of the project, in its own process group."""

    def __init__(self, venv: Path, project: Path, work: Path, jobs: int) -> None:
        self.venv, self.project, self.work, self.jobs = venv, project, work, jobs
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = work / "langgraph-dev.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        copy = self.work / "project"
        shutil.copytree(
            self.project.parent,
            copy,
            ignore=shutil.ignore_patterns("__pycache__", ".langgraph_api", ".threadloom"),
        )
        shutil.copy(self.project, copy / "langgraph.json")
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env.update(
            VIRTUAL_ENV=str(self.venv),
            PATH=f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            LANGSMITH_TRACING="false",
            LANGCHAIN_TRACING_V2="false",
        )
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            peer_command(self.venv, self.port, self.jobs),
            cwd=copy,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # it may fork: the whole group is stopped together
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"langgraph dev exited:\n{self.log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/ok", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"langgraph dev did not answer in {timeout:.0f} s ({self.log_path})")

    def stop(self) -> None:
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the leader's pid is the group's id
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(wait)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)  # a child that outlived the leader


# --- driving both ----------------------------------------------------------------------------


@dataclass
class Side:
    name: str
    url: str
    pid: int
    client: Any = None
    state: dict[str, Any] = field(default_factory=dict)


class Profiler:
    """Brackets a scenario with SIGUSR1 / SIGUSR2 to the profiled Threadloom server."""

    def __init__(self, directory: Path | None, pid: int) -> None:
        self.directory, self.pid = directory, pid

    @contextlib.asynccontextmanager
    async def scenario(self, name: str) -> AsyncIterator[None]:
        if self.directory is None:
            yield
            return
        (self.directory / "current").write_text(name)
        os.kill(self.pid, signal.SIGUSR1)
        await asyncio.sleep(0.05)
        try:
            yield
        finally:
            target = self.directory / f"{name}.prof"
            target.unlink(missing_ok=True)
            os.kill(self.pid, signal.SIGUSR2)
            for _ in range(200):
                if target.exists():
                    break
                await asyncio.sleep(0.05)


def progress(message: str, started: float) -> None:
    print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)


def ordered(sides: list[Side], i: int) -> list[Side]:
    """Alternate which server goes first."""
    return sides if i % 2 == 0 else sides[::-1]


async def alternate(
    sides: list[Side], n: int, call: Callable[[Side, int], Awaitable[Any]]
) -> dict[str, list[float]]:
    """`n` timed calls on each side, one side then the other; seconds per call."""
    out: dict[str, list[float]] = {s.name: [] for s in sides}
    for i in range(n):
        for side in ordered(sides, i):
            start = time.perf_counter()
            await call(side, i)
            out[side.name].append(time.perf_counter() - start)
    return out


async def rounds(
    sides: list[Side], n: int, measure: Callable[[Side, int], Awaitable[Any]]
) -> dict[str, list[Any]]:
    """`n` rounds of a self-timed measurement on each side, alternating which goes first."""
    out: dict[str, list[Any]] = {s.name: [] for s in sides}
    for i in range(n):
        for side in ordered(sides, i):
            out[side.name].append(await measure(side, i))
    return out


def p50_ms(samples: Mapping[str, list[float]]) -> tuple[float, float]:
    return statistics.median(samples[TL]) * 1000, statistics.median(samples[PEER]) * 1000


async def seed(side: Side, sizes: Sizes) -> None:
    client = side.client
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> str:
        async with gate:
            thread = await client.threads.create(metadata={"user": i % 100})
            return str(thread["thread_id"])

    async def finished_runs() -> str:
        thread = await client.threads.create()
        tid = thread["thread_id"]
        last = None
        for _ in range(sizes.runs):
            last = await client.runs.create(
                tid, "trivial", input={"n": 0}, multitask_strategy="enqueue"
            )
        assert last is not None
        await client.runs.join(tid, last["run_id"])
        listed = await client.runs.list(tid, limit=sizes.runs + 10)
        done = [r for r in listed if r["status"] == "success"]
        assert len(done) == sizes.runs, (side.name, len(done), {r["status"] for r in listed})
        return str(tid)

    ids, runs_thread = await asyncio.gather(
        asyncio.gather(*(one(i) for i in range(sizes.threads))), finished_runs()
    )
    side.state["threads"] = list(ids)
    side.state["runs_thread"] = runs_thread
    found = await client.threads.search(metadata={"user": 7}, limit=10)
    assert len(found) == min(10, sizes.threads // 100), (side.name, len(found))


async def warm_up(side: Side) -> None:
    client = side.client
    for _ in range(2):
        await client.runs.wait(None, "trivial", input={"n": 0})
        await client.threads.search(metadata={"user": 7}, limit=10)
        await client.assistants.search()
    async for _ in client.runs.stream(None, "streamer", input={"events": 10}, stream_mode="custom"):
        pass


async def suite(
    sides: list[Side], sizes: Sizes, prof: Profiler, only: set[str] | None
) -> list[Row]:
    started = time.monotonic()
    rows: list[Row] = []

    def wanted(key: str) -> bool:
        return only is None or key in only

    def latency_row(scenario: str, samples: Mapping[str, list[float]]) -> None:
        tl, peer = p50_ms(samples)
        rows.append(Row(scenario, "ms", "lower", tl, peer))

    progress(f"seeding {sizes.threads} threads and {sizes.runs} runs on each server", started)
    await asyncio.gather(*(seed(s, sizes) for s in sides))
    await asyncio.gather(*(warm_up(s) for s in sides))
    cpu0 = {s.name: tree_cpu_seconds(s.pid) for s in sides}

    if wanted("search"):
        progress("threads.search", started)
        async with prof.scenario("search"):
            got = await alternate(
                sides,
                sizes.samples,
                lambda s, i: s.client.threads.search(metadata={"user": 7}, limit=10),
            )
        latency_row(
            f"`threads.search(metadata={{'user': 7}}, limit=10)` over {sizes.threads:,} "
            "threads, p50",
            got,
        )

    if wanted("runs_list"):
        progress("runs.list", started)
        async with prof.scenario("runs_list"):
            got = await alternate(
                sides,
                sizes.samples,
                lambda s, i: s.client.runs.list(s.state["runs_thread"], limit=10),
            )
        latency_row(f"`runs.list(thread, limit=10)`, thread with {sizes.runs} runs, p50", got)

    if wanted("get"):
        progress("threads.get", started)
        async with prof.scenario("get"):
            got = await alternate(
                sides,
                sizes.samples,
                lambda s, i: s.client.threads.get(s.state["threads"][i % len(s.state["threads"])]),
            )
        latency_row("`threads.get`, p50", got)

    if wanted("update"):
        progress("threads.update", started)
        async with prof.scenario("update"):
            got = await alternate(
                sides,
                sizes.samples,
                lambda s, i: s.client.threads.update(
                    s.state["threads"][i % len(s.state["threads"])], metadata={"touched": i}
                ),
            )
        latency_row("`threads.update` (patch metadata), p50", got)

    if wanted("assistants"):
        progress("assistants.search", started)
        async with prof.scenario("assistants"):
            got = await alternate(sides, sizes.samples, lambda s, i: s.client.assistants.search())
        latency_row("`assistants.search()`, p50", got)

    if wanted("create"):
        progress("threads.create", started)
        async with prof.scenario("create"):
            got = await alternate(sides, sizes.creates, lambda s, i: s.client.threads.create())
        rate = {name: len(v) / sum(v) for name, v in got.items()}
        rows.append(
            Row("`threads.create()` sequential", "threads/s", "higher", rate[TL], rate[PEER])
        )

    if wanted("wait_idle"):
        progress("idle runs.wait", started)

        async def wait_one(side: Side, i: int) -> None:
            out = await side.client.runs.wait(None, "trivial", input={"n": 0})
            assert out == {"n": 1}, (side.name, out)

        async with prof.scenario("wait_idle"):
            got = await alternate(sides, sizes.idle_waits, wait_one)
        latency_row("idle `runs.wait` (trivial graph, stateless), p50", got)

    if wanted("background"):
        progress("background runs.create + runs.join", started)
        for side in sides:
            side.state["bg_thread"] = (await side.client.threads.create())["thread_id"]

        async def background(side: Side, i: int) -> None:
            tid = side.state["bg_thread"]
            run = await side.client.runs.create(tid, "trivial", input={"n": 0})
            await side.client.runs.join(tid, run["run_id"])

        async with prof.scenario("background"):
            got = await alternate(sides, sizes.background, background)
        rate = {name: len(v) / sum(v) for name, v in got.items()}
        rows.append(
            Row(
                "background `runs.create` + `runs.join`, sequential",
                "runs/s",
                "higher",
                rate[TL],
                rate[PEER],
            )
        )

    if wanted("wait_c8"):
        progress("runs.wait at concurrency 8", started)

        async def c8(side: Side, i: int) -> float:
            left = list(range(sizes.c8_runs))

            async def worker() -> None:
                while left:
                    left.pop()
                    await side.client.runs.wait(None, "trivial", input={"n": 0})

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(8)))
            return sizes.c8_runs / (time.perf_counter() - start)

        async with prof.scenario("wait_c8"):
            got = await rounds(sides, sizes.c8_rounds, c8)
        rows.append(
            Row(
                "`runs.wait` at concurrency 8",
                "runs/s",
                "higher",
                statistics.median(got[TL]),
                statistics.median(got[PEER]),
            )
        )

    if wanted("stream"):
        progress(f"{sizes.events}-event custom streams", started)

        async def stream(side: Side, i: int) -> tuple[float, float, float]:
            count, first, last = 0, 0.0, 0.0
            start = time.perf_counter()
            async for part in side.client.runs.stream(
                None, "streamer", input={"events": sizes.events}, stream_mode="custom"
            ):
                if part.event == "custom":
                    count += 1
                    last = time.perf_counter() - start
                    if count == 1:
                        first = last
            total = time.perf_counter() - start
            assert count == sizes.events, (side.name, count)
            after_first = (count - 1) / (last - first) if last > first else float("inf")
            return count / total, first * 1000, after_first

        async with prof.scenario("stream"):
            got = await rounds(sides, sizes.streams, stream)
        med = {
            name: [statistics.median(col) for col in zip(*v, strict=True)]
            for name, v in got.items()
        }
        label = f"{sizes.events:,}-event custom stream"
        rows.append(
            Row(
                f"{label}: events/s, request to end", "events/s", "higher", med[TL][0], med[PEER][0]
            )
        )
        rows.append(Row(f"{label}: first event", "ms", "lower", med[TL][1], med[PEER][1]))
        rows.append(
            Row(
                f"{label}: events/s, first event to last",
                "events/s",
                "higher",
                med[TL][2],
                med[PEER][2],
            )
        )

    if wanted("sleepers"):
        progress(f"{sizes.sleepers} concurrent 0.5 s sleeper runs", started)

        async def sleepers(side: Side, i: int) -> float:
            client = side.client
            threads = [await client.threads.create() for _ in range(sizes.sleepers)]
            start = time.perf_counter()
            created = await asyncio.gather(
                *(
                    client.runs.create(t["thread_id"], "sleeper", input={"seconds": 0.5})
                    for t in threads
                )
            )
            await asyncio.gather(*(client.runs.join(r["thread_id"], r["run_id"]) for r in created))
            return time.perf_counter() - start

        async with prof.scenario("sleepers"):
            got = await rounds(sides, sizes.sleeper_rounds, sleepers)
        rows.append(
            Row(
                f"{sizes.sleepers} concurrent 0.5 s sleeper runs, all done",
                "s",
                "lower",
                statistics.median(got[TL]),
                statistics.median(got[PEER]),
            )
        )

    await asyncio.sleep(1.0)  # let both finish what the last scenario left behind
    rss = {s.name: tree_rss_mb(s.pid) for s in sides}
    cpu = {s.name: tree_cpu_seconds(s.pid) - cpu0[s.name] for s in sides}
    rows.append(Row("server RSS after the suite (process tree)", "MB", "lower", rss[TL], rss[PEER]))
    if only is None:
        rows.append(
            Row(
                "server CPU over the measured suite (process tree)",
                "CPU s",
                "lower",
                cpu[TL],
                cpu[PEER],
            )
        )
    progress("done", started)
    return rows


def summarize_profiles(directory: Path) -> None:
    for prof in sorted(directory.glob("*.prof")):
        buf = io.StringIO()
        stats = pstats.Stats(str(prof), stream=buf).strip_dirs()
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(40)
        prof.with_suffix(".txt").write_text(buf.getvalue())
    print(f"profiles: {directory}/*.prof, summaries in *.txt", file=sys.stderr)


async def run(args: argparse.Namespace, sizes: Sizes) -> tuple[list[Row], dict[str, str]]:
    venv = ensure_peer_venv(args.venv, args.pin)
    versions = peer_versions(venv)
    work = Path(tempfile.mkdtemp(prefix="threadloom-bench-peers-"))
    env = {"THREADLOOM_RUN_SLOTS": str(args.jobs)}
    module = "threadloom.cli"
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        env["THREADLOOM_BENCH_PROFILE_DIR"] = str(args.profile.resolve())
        module = "bench.profiled_server"
    threadloom = ServerProcess(PROJECT, work / "threadloom.db", env=env, module=module)
    peer = PeerServer(venv, PROJECT, work, args.jobs)
    sides: list[Side] = []
    ok = False
    try:
        threadloom.start()
        peer.start()
        assert threadloom.proc is not None and peer.proc is not None
        sides = [
            Side(TL, threadloom.url, threadloom.proc.pid),
            Side(PEER, peer.url, peer.proc.pid),
        ]
        for side in sides:
            side.client = get_client(url=side.url)
        prof = Profiler(args.profile.resolve() if args.profile else None, threadloom.proc.pid)
        rows = await suite(sides, sizes, prof, set(args.only.split(",")) if args.only else None)
        ok = True
    finally:
        for side in sides:
            with contextlib.suppress(Exception):
                await side.client.http.client.aclose()
        threadloom.stop()
        peer.stop()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs kept in {work}", file=sys.stderr)
    if args.profile:
        summarize_profiles(args.profile)
    return rows, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: about a minute")
    parser.add_argument("--out", type=Path, help="write the table into this RESULTS.md")
    parser.add_argument("--jobs", type=int, default=500, help="--n-jobs-per-worker of both")
    parser.add_argument("--profile", type=Path, help="profile Threadloom, one file a scenario")
    parser.add_argument(
        "--only",
        help="comma-separated scenarios: search,runs_list,get,update,assistants,create,"
        "wait_idle,background,wait_c8,stream,sleepers",
    )
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path(os.environ.get("THREADLOOM_PEER_VENV", DEFAULT_VENV)).expanduser(),
    )
    parser.add_argument("--pin", default=os.environ.get("THREADLOOM_PEER_PIN", DEFAULT_PIN))
    args = parser.parse_args()
    if args.profile and args.out:
        parser.error("--profile adds cProfile's overhead to Threadloom: not with --out")
    sizes = QUICK if args.quick else Sizes()
    where = machine()
    rows, versions = asyncio.run(run(args, sizes))
    intro = (
        f"{where}. Threadloom {threadloom.__version__} (`threadloom dev`, embedded SQLite) and "
        f"`langgraph dev` (langgraph-cli {versions.get('langgraph-cli')}, langgraph-api "
        f"{versions.get('langgraph-api')}, langgraph-runtime-inmem "
        f"{versions.get('langgraph-runtime-inmem')}, in-memory) on bench/project, on the same "
        f"Python, both with `--n-jobs-per-worker {args.jobs}`; one official async "
        f"`langgraph_sdk` {langgraph_sdk.__version__} client per server, calls alternating "
        "between the servers one by one (p50 and sequential rows) or round by round "
        "(concurrent and stream rows), and which goes first. "
        + ("`--quick` sizes." if args.quick else "")
    ).rstrip()
    command = " ".join(["uv run python -m bench.peers", *sys.argv[1:]])
    table = render(rows, intro=intro, command=command)
    print(table)
    if args.out:
        write_section(args.out, "peers", table)


if __name__ == "__main__":
    main()
