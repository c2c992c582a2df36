"""The layering rule a newcomer relies on: HTTP code (api/) reaches data only through services/."""

from __future__ import annotations

import re
from pathlib import Path

API = Path(__file__).resolve().parents[2] / "src" / "threadloom" / "api"


def test_api_never_calls_storage_directly() -> None:
    offenders = [
        f"{path.relative_to(API)}:{n}"
        for path in sorted(API.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bstorage\.(runs|threads|assistants|store|checkpointer|ping)\b", line)
    ]
    assert not offenders, f"api/ calls storage directly (go through services/): {offenders}"
