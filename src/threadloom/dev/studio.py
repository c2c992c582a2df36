"""The LangGraph Studio URL for a local server, and opening it (or any URL) once it answers."""

from __future__ import annotations

import logging
import os
import threading
import time
import webbrowser
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger("threadloom")

DEFAULT_STUDIO_ORIGIN = "https://smith.langchain.com"


def studio_origin(studio_url: str | None) -> str:
    """`--studio-url`, else LangSmith's origin from LANGSMITH_ENDPOINT, else smith.langchain.com
    (as `langgraph dev` picks it)."""
    if studio_url:
        return studio_url.rstrip("/")
    endpoint = os.environ.get("LANGSMITH_ENDPOINT") or os.environ.get("LANGCHAIN_ENDPOINT")
    if endpoint:
        parts = urlsplit(endpoint)
        host = parts.netloc
        if host.startswith("api."):  # api.smith.langchain.com -> smith.langchain.com
            host = host[len("api.") :]
        if parts.scheme and host:
            return f"{parts.scheme}://{host}"
    return DEFAULT_STUDIO_ORIGIN


def studio_link(base_url: str, studio_url: str | None = None) -> str:
    """`<origin>/studio/?baseUrl=<server>` — the same shape `langgraph dev` prints."""
    return f"{studio_origin(studio_url)}/studio/?baseUrl={base_url}"


def open_when_ready(url: str, probe: str, timeout: float = 120.0) -> threading.Thread:
    """Open `url` in the user's browser once `probe` answers 200 (in a daemon thread)."""

    def wait_then_open() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # this server, on its own address: a self-signed certificate is fine
                if httpx.get(probe, timeout=1.0, verify=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            return
        logger.info("opening %s in your browser", url)
        try:
            webbrowser.open(url)
        except Exception as exc:  # no browser on this machine: say so, keep serving
            logger.warning("could not open a browser: %s", exc)

    thread = threading.Thread(target=wait_then_open, name="threadloom-browser", daemon=True)
    thread.start()
    return thread
