"""What the console's run line costs a run: `runtime/run_log.py` `log_run_end`, in-process.

    uv run python -m bench.run_log [--repeat 9] [--calls 3000]

Measures, interleaved in one process so the ratios hold on a busy machine: building the line
(fields + text), the whole record through the plain and the JSON handler into a file, and the
call with the logger off (`--server-log-level warning`). Compare with a run's server overhead
in the "Embedded" section (+2.4 ms p50 on /runs/wait).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from threadloom.console import setup_logging
from threadloom.runtime.executor import ExecutionResult
from threadloom.runtime.measure import RunMeasures
from threadloom.runtime.run_log import format_line, log_run_end, run_fields
from threadloom.storage.records import Run

NOW = datetime.now(UTC)
RUN = Run(
    run_id="1f0d2b7c-0000-7000-8000-00000000abcd",
    thread_id="t",
    assistant_id="a",
    status="running",
    multitask_strategy="reject",
    metadata={},
    kwargs={"config": {"configurable": {"graph_id": "agent"}}},
    created_at=NOW,
    updated_at=NOW,
    started_at=NOW,
    attempt=1,
)
RESULT = ExecutionResult(RUN.run_id, "t", 1, "success", "end_turn", None, None, None)
MEASURES = RunMeasures()
MEASURES.first_token_at = NOW
MEASURES.usage = {"total_tokens": 42}


def per_call_us(fn: Callable[[], None], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp()) / "console.log"
    runs = logging.getLogger("threadloom.runs")

    def shaped(shape: str) -> Callable[[], None]:
        def call() -> None:
            log_run_end(RUN, RESULT, MEASURES)

        def prepare() -> None:
            setup_logging("info", log_format=shape)
            logging.getLogger().handlers[0].stream = out.open("a")  # type: ignore[attr-defined]

        call.prepare = prepare  # type: ignore[attr-defined]
        return call

    cases: dict[str, Callable[[], None]] = {
        "line only (fields + text)": lambda: (format_line(run_fields(RUN, RESULT, MEASURES)), None)[
            1
        ],
        "plain record to a file": shaped("plain"),
        "json record to a file": shaped("json"),
    }
    samples: dict[str, list[float]] = {name: [] for name in [*cases, "logger off"]}
    for _ in range(args.repeat):
        for name, fn in cases.items():
            if hasattr(fn, "prepare"):
                fn.prepare()
            samples[name].append(per_call_us(fn, args.calls))
        runs.setLevel(logging.WARNING)
        samples["logger off"].append(
            per_call_us(lambda: log_run_end(RUN, RESULT, MEASURES), args.calls)
        )
        runs.setLevel(logging.NOTSET)
    print("| per ended run | median µs | min | max |")
    print("|---|---|---|---|")
    for name, values in samples.items():
        print(
            f"| {name} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |"
        )


if __name__ == "__main__":
    main()
