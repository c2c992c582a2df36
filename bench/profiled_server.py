"""`python -m threadloom.cli ...` with cProfile switched on and off by signals, for benchmarks.

    THREADLOOM_BENCH_PROFILE_DIR=/tmp/p python -m bench.profiled_server dev --port ... --config ...

SIGUSR1 starts a profile of the server's main thread (its event loop: routing, storage, SSE,
the worker pool's claim loop); SIGUSR2 stops it and writes `<dir>/<name>.prof`, where `<name>`
is what the driver last wrote to `<dir>/current` (so a harness can bracket one scenario with the
two signals and get one profile per scenario). Threads the server starts (LangGraph runs
synchronous nodes in a thread pool) are not profiled.
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys
from pathlib import Path
from types import FrameType


def main() -> None:
    out = Path(os.environ["THREADLOOM_BENCH_PROFILE_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    state: dict[str, cProfile.Profile] = {}

    def start(signum: int, frame: FrameType | None) -> None:
        if "prof" not in state:
            state["prof"] = cProfile.Profile()
            state["prof"].enable()

    def stop(signum: int, frame: FrameType | None) -> None:
        prof = state.pop("prof", None)
        if prof is None:
            return
        prof.disable()
        current = out / "current"
        name = current.read_text().strip() if current.exists() else "profile"
        target = out / f"{name}.prof"
        prof.dump_stats(str(target) + ".tmp")
        os.replace(str(target) + ".tmp", target)  # the harness waits for the final name

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)

    from threadloom.cli import main as cli

    sys.argv = ["threadloom", *sys.argv[1:]]
    cli()


if __name__ == "__main__":
    main()
