"""Reading the `.env` file `langgraph.json` names in `env`.

As under `langgraph dev`, a missing file is a warning (the public templates name `.env` and ship
only `.env.example`); unlike it, a line python-dotenv cannot parse is an error naming the line,
not a variable silently missing at run time."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from threadloom.graphs.errors import ProjectError

logger = logging.getLogger("threadloom")


def read_env_file(path: Path, where: str) -> dict[str, str]:
    """The variables in `path`; {} (and a warning) when it does not exist."""
    if not path.is_file():
        logger.warning("%s: env file %s not found; starting without it", where, path)
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{where}: cannot read env file {path}: {exc}") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:  # the line itself is not echoed: it may hold a secret
            raise ProjectError(
                f"{path}:{binding.original.line}: cannot parse this line of the env file "
                "(expected KEY=value, a comment or a blank line; quotes must be closed)"
            )
    return {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}
