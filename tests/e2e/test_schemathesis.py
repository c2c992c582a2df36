"""Property-based fuzzing of every route in `/openapi.json` with schemathesis: whatever the
input, the server never answers 5xx. A server of the test's own per shape (fuzzed runs, threads
and store items must not leak into other tests); bounded examples and a fixed seed, so the run
is short and a failure reproduces (`st run ... --seed`, printed on failure)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import ServerProcess

MAX_EXAMPLES = os.environ.get("THREADLOOM_FUZZ_EXAMPLES", "5")
SEED = os.environ.get("THREADLOOM_FUZZ_SEED", "20")


def _schemathesis() -> list[str]:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "schemathesis.cli"]


# the run's own bound is the subprocess timeout below (the default 120 s cut it short on a
# loaded machine once /mcp and /a2a joined the schema)
@pytest.mark.timeout(300)
def test_no_route_answers_5xx(fresh_server: ServerProcess) -> None:
    fresh_server.start()
    result = subprocess.run(
        [
            *_schemathesis(),
            "run",
            f"{fresh_server.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            SEED,
            "--request-timeout",
            "20",
            "--workers",
            "1",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, tail
    assert "Tested: " in result.stdout, tail
