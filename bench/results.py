"""Writing one benchmark's section of bench/RESULTS.md without disturbing the others."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path


def write_section(path: Path, title: str, body: str) -> None:
    """Replace the section between `<!-- title:begin -->` and `<!-- title:end -->`, or append
    it; the rest of the file is left as it is."""
    text = path.read_text() if path.exists() else ""
    begin, end = f"<!-- {title}:begin -->", f"<!-- {title}:end -->"
    section = f"{begin}\n{body.rstrip()}\n{end}\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + section
    path.write_text(text)


def machine() -> str:
    """When and on what the numbers were taken (the machines are shared and noisy)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{now}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
