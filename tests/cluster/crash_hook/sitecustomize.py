"""Put on a test server's PYTHONPATH to kill it with SIGKILL in the middle of a batch of cron
firings: once THREADLOOM_TEST_FIRINGS_BEFORE_KILL runs were made, at the next firing, after the
claim and before its run's insert (the window a crash must not lose a firing in). Python
imports `sitecustomize` at start-up; without the variable this does nothing."""

from __future__ import annotations

import os
import signal
from typing import Any

_LIMIT = os.environ.get("THREADLOOM_TEST_FIRINGS_BEFORE_KILL")

if _LIMIT is not None:
    import asyncio

    from threadloom.services import crons

    _fire = crons.fire
    _made = 0
    _one_at_a_time: asyncio.Lock | None = None

    async def _fire_then_die(ctx: Any, cron: Any, now: Any) -> bool:
        # the scheduler fires a batch's crons concurrently: one at a time here, so exactly
        # the limit's runs are made before the kill (not the limit plus those in flight)
        global _made, _one_at_a_time
        if _one_at_a_time is None:
            _one_at_a_time = asyncio.Lock()
        async with _one_at_a_time:
            if _made >= int(_LIMIT):
                os.kill(os.getpid(), signal.SIGKILL)
            made = await _fire(ctx, cron, now)
            _made += made
            return made

    crons.fire = _fire_then_die
