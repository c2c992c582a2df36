"""The READMEs' snippets run as written: every Python block is saved to a file and run with
`python file.py` against the example server (its URL swapped for the test's free port), and
every `threadloom ...` command line in a shell block is one the CLI accepts."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import EXAMPLE_PROJECT, ROOT, ServerProcess

READMES = [ROOT / "README.md", ROOT / "examples" / "README.md"]
DOCUMENTED_URL = "http://127.0.0.1:2025"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for readme in READMES:
        for index, match in enumerate(FENCE.finditer(readme.read_text())):
            if match.group(1) == language:
                found.append((f"{readme.relative_to(ROOT)}#{index}", match.group(2)))
    return found


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(EXAMPLE_PROJECT, tmp_path_factory.mktemp("readme") / "threadloom.db")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.mark.parametrize(("where", "code"), blocks("python"), ids=lambda v: str(v)[:40])
def test_python_snippet_runs_as_written(
    where: str, code: str, example_server: ServerProcess, tmp_path: Path
) -> None:
    if "langgraph_sdk.auth" in code:
        pytest.skip("an auth handler module, not a script")
    assert DOCUMENTED_URL in code, f"{where}: talks to an unexpected server"
    script = tmp_path / "snippet.py"
    script.write_text(code.replace(DOCUMENTED_URL, example_server.url))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, f"{where} failed:\n{done.stderr[-3000:]}"


def test_readme_agent_snippet_does_what_it_says(
    example_server: ServerProcess, tmp_path: Path
) -> None:
    ((_, code),) = [b for b in blocks("python") if "waiting for approval:" in b[1]]
    script = tmp_path / "talk.py"
    script.write_text(code.replace(DOCUMENTED_URL, example_server.url))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "waiting for approval:" in done.stdout
    assert "email to ann@example.com sent" in done.stdout.splitlines()[-1]


def _commands() -> list[tuple[str, list[str]]]:
    commands = []
    for where, code in blocks("bash"):
        for line in code.splitlines():
            line = line.split("  #")[0].strip()
            words = shlex.split(line) if line else []
            if words[:2] == ["uv", "run"]:
                words = words[2:]
            if words and words[0] == "threadloom":
                commands.append((where, words[1:]))
    return commands


@pytest.mark.parametrize(
    ("where", "args"), _commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_documented_commands_are_accepted(where: str, args: list[str]) -> None:
    if args == ["--version"]:
        probe = args
    else:
        probe = [*args, "--help"]  # parses every flag given, then exits without serving
    done = subprocess.run(
        [sys.executable, "-m", "threadloom.cli", *probe], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"{where}: threadloom {' '.join(args)}\n{done.stderr}"


def test_quick_start_is_the_scaffold_the_tests_run() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "threadloom new my-agent\ncd my-agent\nthreadloom dev\n" in readme  # test_scaffold.py


def test_readme_thread_stream_snippet_does_what_it_says(
    example_server: ServerProcess, tmp_path: Path
) -> None:
    ((_, code),) = [b for b in blocks("python") if "client.threads.stream(" in b[1]]
    script = tmp_path / "thread_stream.py"
    script.write_text(code.replace(DOCUMENTED_URL, example_server.url))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    tokens_and_tools, interrupts, last = lines[0], lines[1], lines[-1]
    assert "84" in tokens_and_tools and "calculator" in tokens_and_tools, tokens_and_tools
    assert "approv" in interrupts.lower(), interrupts
    assert "email to ann@example.com sent" in last, last
