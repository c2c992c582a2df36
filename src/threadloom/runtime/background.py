"""A loop a server process runs beside its requests (the TTL sweepers, the cron scheduler):
started with the app, cancelled and awaited when it stops."""

from __future__ import annotations

import abc
import asyncio
import contextlib


class BackgroundLoop(abc.ABC):
    task_name = "threadloom-background"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.task_name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @abc.abstractmethod
    async def _loop(self) -> None:
        """Runs until cancelled."""
