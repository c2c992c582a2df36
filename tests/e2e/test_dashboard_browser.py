"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against the real
server in both shapes. Runs are started and checked with the official SDK; the page must show
them live (no reload), resume an interrupted thread from its form and cancel a running run.

Screenshots of every page land in $THREADLOOM_SCREENSHOTS (default: a temp folder).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from langgraph_sdk.client import LangGraphClient

from tests.support.server import ServerProcess

CHROMIUM = Path(os.environ.get("THREADLOOM_CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(os.environ.get("THREADLOOM_SCREENSHOTS") or tempfile.gettempdir()) / "dashboard"
LIVE = 5_000  # ms a live update may take here at most (the page refreshes every second)

playwright_api = pytest.importorskip("playwright.async_api")
if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

expect = playwright_api.expect


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    """One Chromium for the session (a launch costs seconds here); a fresh context per test."""
    async with playwright_api.async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: object, server: ServerProcess) -> AsyncIterator[object]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.set_default_timeout(LIVE)
    try:
        yield tab
    finally:
        await context.close()
    assert not errors, f"the page threw: {errors}"


async def _open(page: object, server: ServerProcess, route: str) -> None:
    await page.goto(f"{server.url}/dashboard#{route}")  # type: ignore[attr-defined]


async def _shot(page: object, shape: str, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{shape}-{name}.png"), full_page=True)  # type: ignore[attr-defined]


async def test_every_page_opens(
    page: object, server: ServerProcess, shape: str, client: LangGraphClient
) -> None:
    thread = await client.threads.create()
    await client.runs.wait(
        thread["thread_id"], "echo", input={"messages": [{"role": "user", "content": "hi"}]}
    )
    p: object = page
    await _open(p, server, "/")
    await expect(p.get_by_role("heading", name="Runs per second")).to_be_visible()  # type: ignore[attr-defined]
    await expect(p.locator(".stat").first).not_to_have_text("")  # type: ignore[attr-defined]
    for chart in (
        "runs per minute",
        "errors per minute",
        "p50 duration per minute",
        "p50 time to first token per minute",
        "tokens per minute",
    ):
        await expect(p.get_by_role("img", name=chart, exact=True)).to_be_visible()  # type: ignore[attr-defined]
    await _shot(p, shape, "overview")
    await _open(p, server, "/runs")
    await expect(p.locator("tbody tr").first).to_be_visible()  # type: ignore[attr-defined]
    await _shot(p, shape, "runs")
    await _open(p, server, "/threads")
    await expect(p.get_by_label(f"thread {thread['thread_id']}")).to_be_visible()  # type: ignore[attr-defined]
    await _shot(p, shape, "threads")
    await _open(p, server, f"/threads/{thread['thread_id']}")
    await expect(p.locator(".msg.human").first).to_have_text("humanhi")  # type: ignore[attr-defined]
    await _shot(p, shape, "thread")
    await _open(p, server, "/assistants")
    await p.get_by_label("assistant echo", exact=True).click()  # type: ignore[attr-defined]
    await expect(p.locator(".graph svg rect").first).to_be_visible()  # type: ignore[attr-defined]
    await expect(p.get_by_role("heading", name="Schemas")).to_be_visible()  # type: ignore[attr-defined]
    await _shot(p, shape, "assistant")
    for route, heading in (("/crons", "Crons"), ("/store", "Store")):
        await _open(p, server, route)
        await expect(p.get_by_role("heading", name=heading, exact=False).first).to_be_visible()  # type: ignore[attr-defined]
        await expect(p.locator(".notice")).to_have_count(0)  # type: ignore[attr-defined]


async def test_a_run_appears_and_finishes_live_then_shows_its_detail(
    page: object, server: ServerProcess, shape: str, client: LangGraphClient
) -> None:
    p: object = page
    await _open(p, server, "/runs")
    await expect(p.get_by_role("heading", name="Runs")).to_be_visible()  # type: ignore[attr-defined]
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "slow", input={"seconds": 0.3})
    row = p.locator(f'tr[data-run="{run["run_id"]}"]')  # type: ignore[attr-defined]
    await expect(row).to_be_visible()  # appeared without a reload
    await expect(row.locator(".badge")).to_have_text("success", timeout=15_000)
    # by keyboard: focus the run's link and press Enter
    await row.get_by_role("link", name=f"run {run['run_id']}").focus()
    await p.keyboard.press("Enter")  # type: ignore[attr-defined]
    await expect(p.locator("h1 .badge")).to_have_text("success")  # type: ignore[attr-defined]
    await expect(p.locator("dt", has_text="Queue wait")).to_be_visible()  # type: ignore[attr-defined]
    events = p.locator(".events li")  # type: ignore[attr-defined]
    await expect(events.first).to_contain_text("metadata")
    await expect(p.locator(".events")).to_contain_text('values #7 {"steps":5')  # type: ignore[attr-defined]
    await _shot(p, shape, "run")
    joined = await client.runs.get(thread["thread_id"], run["run_id"])
    assert joined["status"] == "success"


async def test_resume_an_interrupted_thread_from_the_form(
    page: object, server: ServerProcess, shape: str, client: LangGraphClient
) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "approval", input={"request": "the refund"})
    assert (await client.threads.get(tid))["status"] == "interrupted"
    p: object = page
    await _open(p, server, f"/threads/{tid}")
    await expect(p.get_by_text("approve the refund?")).to_be_visible()  # type: ignore[attr-defined]
    await p.get_by_label("Resume value (JSON or text)").fill('{"ok": true}')  # type: ignore[attr-defined]
    await p.get_by_role("button", name="Resume").click()  # type: ignore[attr-defined]
    await expect(p.locator("h1 .badge")).to_have_text("idle", timeout=15_000)  # type: ignore[attr-defined]
    state = await client.threads.get_state(tid)
    assert state["values"]["decision"] == {"ok": True}
    assert state["values"]["done"] is True


async def test_cancel_a_running_run(
    page: object, server: ServerProcess, shape: str, client: LangGraphClient
) -> None:
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "slow", input={"seconds": 30})
    p: object = page
    await _open(p, server, f"/runs/{run['run_id']}")
    await expect(p.locator("h1 .badge")).to_have_text("running", timeout=15_000)  # type: ignore[attr-defined]
    await p.get_by_role("button", name="Cancel run").click()  # type: ignore[attr-defined]
    await expect(p.locator("h1 .badge")).to_have_text("interrupted", timeout=15_000)  # type: ignore[attr-defined]
    await expect(p.get_by_role("button", name="Cancel run")).to_have_count(0)  # type: ignore[attr-defined]
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "interrupted"
