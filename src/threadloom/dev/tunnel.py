"""`--tunnel`: a Cloudflare quick tunnel to the local server, through the `cloudflared` program.

`langgraph dev` downloads cloudflared itself; Threadloom never downloads programs, so it uses
the one on PATH and says plainly when there is none, or when it gets no public URL (which is
what happens without internet access)."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from dataclasses import dataclass

URL = re.compile(r"https://[a-z0-9-]+\.trycloudflare\.com")

NOT_INSTALLED = (
    "--tunnel needs the `cloudflared` program on PATH, and internet access: it asks Cloudflare "
    "for a public https URL that forwards to this server. cloudflared was not found; install "
    "it, or run without --tunnel and open Studio with the local URL"
)


class TunnelError(Exception):
    """The tunnel cannot be opened; the message explains why and what to do."""


@dataclass
class Tunnel:
    url: str
    process: subprocess.Popen[str]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def cloudflared() -> str | None:
    """The cloudflared program on PATH, if any."""
    return shutil.which("cloudflared")


def open_tunnel(local_url: str, timeout: float = 30.0) -> Tunnel:
    """Start cloudflared for `local_url` and wait for the public URL it prints."""
    program = cloudflared()
    if program is None:
        raise TunnelError(NOT_INSTALLED)
    process = subprocess.Popen(
        [program, "tunnel", "--no-autoupdate", "--url", local_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    found: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:  # keep draining so cloudflared never blocks on the pipe
            if not found and (match := URL.search(line)):
                found.append(match.group(0))
                seen.set()
        seen.set()

    threading.Thread(target=read, name="threadloom-tunnel", daemon=True).start()
    seen.wait(timeout)
    if not found:
        tunnel = Tunnel("", process)
        tunnel.close()
        raise TunnelError(
            f"cloudflared gave no public URL within {timeout:g}s"
            + (" and exited" if process.poll() is not None else "")
            + ": --tunnel needs internet access to reach Cloudflare. Run without --tunnel "
            "and open Studio with the local URL"
        )
    return Tunnel(found[0], process)
