"""`--debug-port` / `--wait-for-client`: debugpy in the process that runs the graphs."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("threadloom")

MISSING = (
    "--debug-port needs debugpy, which is not installed: "
    "pip install debugpy (or: uv add --dev debugpy, or install threadloom[debug])"
)


class DebuggerUnavailable(Exception):
    """debugpy is not importable; the message says how to get it."""


def _import_debugpy() -> Any:
    try:
        import debugpy  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise DebuggerUnavailable(MISSING) from None
    return debugpy


def start_debugger(host: str, port: int, *, wait_for_client: bool) -> None:
    """Listen for a debugger (VS Code "Remote Attach", PyCharm...) on `host:port`; with
    `wait_for_client`, block until one attaches."""
    debugpy = _import_debugpy()
    debugpy.listen((host, port))
    logger.info("debugger listening on %s:%s (attach with your editor's Remote Attach)", host, port)
    if wait_for_client:
        logger.warning("waiting for a debugger client on port %s before starting", port)
        debugpy.wait_for_client()
        logger.info("debugger attached; starting the server")
