"""The side-by-side peer benchmark's pure parts: no server, no timing, no langgraph-cli download."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bench import peers
from bench.peers import PEER, TL, Row
from bench.results import write_section


def test_advantage_is_above_one_when_threadloom_wins_either_direction() -> None:
    assert Row("p50", "ms", "lower", 2.0, 8.0).advantage == 4.0
    assert Row("p50", "ms", "lower", 8.0, 2.0).advantage == 0.25
    assert Row("rate", "runs/s", "higher", 300.0, 100.0).advantage == 3.0
    assert Row("rate", "runs/s", "higher", 100.0, 400.0).advantage == 0.25
    assert Row("rss", "MB", "lower", 0.0, 5.0).advantage == float("inf")
    assert Row("rss", "MB", "lower", 0.0, 0.0).advantage == 1.0


def test_render_states_both_numbers_the_ratio_and_who_wins() -> None:
    rows = [
        Row("`threads.get`, p50", "ms", "lower", 1.5, 3.0),
        Row("server RSS", "MB", "lower", 200.0, 150.0),
        Row("`runs.wait` at concurrency 8", "runs/s", "higher", 250.0, 8.2),
    ]
    text = peers.render(rows, intro="a machine line", command="uv run python -m bench.peers")
    lines = text.splitlines()
    assert lines[0] == "## Side by side: Threadloom vs `langgraph dev`"
    assert "a machine line" in lines
    header = next(line for line in lines if line.startswith("| Scenario"))
    assert "Threadloom" in header and "langgraph dev" in header and "better" in header
    body = [line for line in lines if line.startswith("| ") and not line.startswith("| Scenario")]
    assert body[0] == "| `threads.get`, p50 | lower | 1.50 ms | 3.00 ms | 2.00x | yes |"
    assert body[1] == "| server RSS | lower | 200 MB | 150 MB | 0.75x | **no** (25 % behind) |"
    assert body[2] == (
        "| `runs.wait` at concurrency 8 | higher | 250 runs/s | 8.2 runs/s | 30.49x | yes |"
    )
    assert lines[-1] == "Command: `uv run python -m bench.peers`"


def test_a_near_tie_that_loses_says_by_how_little() -> None:
    text = peers.render([Row("tie", "ms", "lower", 1.434, 1.430)], intro="", command="c")
    assert "| 1.00x | **no** (0.3 % behind) |" in text


def test_render_goes_into_its_own_results_section(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("<!-- other:begin -->\nkept\n<!-- other:end -->\n")
    table = peers.render([Row("x", "ms", "lower", 1, 2)], intro="i", command="c")
    write_section(results, "peers", table)
    write_section(results, "peers", table)  # a re-run replaces, not appends
    text = results.read_text()
    assert text.count("<!-- peers:begin -->") == 1 and "kept" in text


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0.987, "ms", "0.99 ms"),
        (12.34, "ms", "12.3 ms"),
        (990.2, "ms", "990 ms"),
        (1.26, "s", "1.26 s"),
        (62514.4, "events/s", "62,514 events/s"),
        (8.24, "runs/s", "8.2 runs/s"),
        (203.4, "MB", "203 MB"),
        (1.26, "CPU s", "1.3 CPU s"),
    ],
)
def test_fmt(value: float, unit: str, shown: str) -> None:
    assert peers.fmt(value, unit) == shown


def test_tree_sums_the_forked_child_and_grandchild_but_not_strangers() -> None:
    parents = {10: 1, 11: 10, 12: 11, 13: 10, 20: 1, 21: 20}
    rss = {10: 100.0, 11: 50.0, 12: 5.0, 13: 1.0, 20: 999.0, 21: 999.0}
    assert sorted(peers.tree_pids(10, parents)) == [10, 11, 12, 13]
    assert peers.tree_total(10, parents, rss) == 156.0
    assert peers.tree_total(11, parents, rss) == 55.0
    # a process that exited between the two reads counts nothing
    assert peers.tree_total(10, parents, {10: 100.0}) == 100.0


def test_tree_of_this_process_from_proc() -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux /proc")
    assert peers.tree_rss_mb(os.getpid()) > 1
    assert peers.tree_cpu_seconds(os.getpid()) > 0


def test_venv_commands_use_uv_when_present_else_venv_and_pip(tmp_path: Path) -> None:
    venv = tmp_path / "peer-venv"
    pin = "langgraph-cli[inmem]==0.4.40"
    assert peers.venv_commands(venv, pin, "/usr/bin/python3", "/bin/uv") == [
        ["/bin/uv", "venv", "--quiet", "--python", "/usr/bin/python3", str(venv)],
        ["/bin/uv", "pip", "install", "--quiet", "--python", str(venv / "bin/python"), pin],
    ]
    assert peers.venv_commands(venv, pin, "/usr/bin/python3", None) == [
        ["/usr/bin/python3", "-m", "venv", str(venv)],
        [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", pin],
    ]


def test_a_cached_venv_is_reused_only_when_complete_and_of_the_same_pin(tmp_path: Path) -> None:
    venv = tmp_path / "peer-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "langgraph").write_text("")
    assert not peers.peer_venv_ready(venv, "a==1")  # no marker: the install did not finish
    (venv / peers.MARKER).write_text("a==1\n")
    assert peers.peer_venv_ready(venv, "a==1")
    assert not peers.peer_venv_ready(venv, "a==2")


def test_peer_command_is_langgraph_dev_on_the_given_port_without_reload(tmp_path: Path) -> None:
    cmd = peers.peer_command(tmp_path, 43210, 500)
    assert cmd[:2] == [str(tmp_path / "bin" / "langgraph"), "dev"]
    assert "--no-reload" in cmd and "--no-browser" in cmd
    assert cmd[cmd.index("--port") + 1] == "43210"
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--n-jobs-per-worker") + 1] == "500"


def test_the_pin_and_venv_default_to_the_documented_ones() -> None:
    assert peers.DEFAULT_PIN == "langgraph-cli[inmem]==0.4.40"
    assert str(peers.DEFAULT_VENV).endswith("threadloom-bench/peer-venv")
    assert (TL, PEER) == ("Threadloom", "langgraph dev")


async def test_calls_alternate_which_server_goes_first() -> None:
    calls: list[tuple[str, int]] = []
    sides = [peers.Side(TL, "", 0), peers.Side(PEER, "", 0)]

    async def call(side: peers.Side, i: int) -> None:
        calls.append((side.name, i))

    got = await peers.alternate(sides, 3, call)
    assert calls == [(TL, 0), (PEER, 0), (PEER, 1), (TL, 1), (TL, 2), (PEER, 2)]
    assert [len(v) for v in got.values()] == [3, 3]

    async def measure(side: peers.Side, i: int) -> str:
        return f"{side.name}{i}"

    assert await peers.rounds(sides, 2, measure) == {
        TL: [f"{TL}0", f"{TL}1"],
        PEER: [f"{PEER}0", f"{PEER}1"],
    }
