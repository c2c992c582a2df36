"""Property-based fuzzing of every route in `/openapi.json` with schemathesis: whatever the
input, the server never answers 5xx, and every answer is one the document describes (its
status code, content type, body schema — SSE events too — and the headers it declares). A server of the test's own per shape (fuzzed runs, threads
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


# what every answer must satisfy: no 5xx, and /openapi.json describes it
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


# checking every answer against its schema (SSE streams included) takes ~80 s a shape on a
# quiet machine: more than the suite's default timeout, well under this one
@pytest.mark.timeout(420)
def test_every_route_answers_as_documented(fresh_server: ServerProcess) -> None:
    fresh_server.start()
    result = subprocess.run(
        [
            *_schemathesis(),
            "run",
            f"{fresh_server.url}/openapi.json",
            "--checks",
            CHECKS,
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
        timeout=400,
    )
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, tail
    assert "Tested: " in result.stdout, tail
