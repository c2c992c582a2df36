"""What a person (or a log pipeline) sees on the console: the start-up banner and log lines.

Three shapes, one choice (`--log-format`): `rich` (colours, for a terminal), `plain` (one
timestamped line per record, for files and pipes) and `json` (one object per line, for log
pipelines). `auto`, the default, is `rich` on a terminal and `plain` otherwise. The run line
(`runtime/run_log.py`) is a record like any other; this module only decides how it looks.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

LOG_FORMATS = ("auto", "rich", "plain", "json")

# loggers that belong to the server (`--server-log-level`); the rest (the user's graphs,
# LangChain...) follow `--log-level`
SERVER_LOGGERS = ("threadloom", "uvicorn", "uvicorn.error")
ACCESS_LOGGER = "uvicorn.access"

_STATUS_STYLE = {
    "success": "green",
    "error": "bold red",
    "timeout": "red",
    "interrupted": "yellow",
    "interrupt": "magenta",
}


def resolve_format(log_format: str, stream: Any = None) -> str:
    """`auto` becomes `rich` on a terminal, `plain` elsewhere."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    if log_format != "auto":
        return log_format
    stream = stream or sys.stderr
    return "rich" if getattr(stream, "isatty", lambda: False)() else "plain"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the run's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("run", "server"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def _rich_handler() -> logging.Handler:
    from rich.logging import RichHandler
    from rich.text import Text

    class ConsoleHandler(RichHandler):
        """RichHandler that colours a run line's status."""

        def render_message(self, record: logging.LogRecord, message: str) -> Any:
            fields = getattr(record, "run", None)
            if not isinstance(fields, dict):
                return super().render_message(record, message)
            text = Text(message)
            status = str(fields.get("status", ""))
            start = message.find(f"  {status}")
            if status and start >= 0:
                text.stylize(_STATUS_STYLE.get(status, "bold"), start + 2, start + 2 + len(status))
            text.stylize("dim", 0, 12)
            return text

    return ConsoleHandler(show_path=False, rich_tracebacks=False, markup=False)


def setup_logging(
    level: str,
    *,
    log_format: str = "auto",
    server_level: str | None = None,
    access_log: bool = False,
) -> str:
    """Install one handler on the root logger; returns the format in use."""
    shape = resolve_format(log_format)
    handler: logging.Handler
    if shape == "rich":
        handler = _rich_handler()
        handler.setFormatter(logging.Formatter("%(message)s"))
    elif shape == "json":
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    server = (server_level or level).upper()
    for name in SERVER_LOGGERS:
        logging.getLogger(name).setLevel(server)
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.INFO if access_log else logging.WARNING)
    for noisy in ("alembic", "watchfiles", "httpx"):  # migrations and file-watch chatter at INFO
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return shape


@dataclass
class Banner:
    """What the start-up banner says."""

    version: str
    mode: str
    api_url: str
    storage: str
    graphs: list[str]
    studio_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str]]:
        rows = [("API", self.api_url), ("Docs", f"{self.api_url}/docs")]
        if self.studio_url:
            rows.append(("Studio", self.studio_url))
        rows += [("Storage", self.storage), ("Graphs", ", ".join(self.graphs) or "(none)")]
        rows += list(self.extra.items())
        return rows


def print_banner(banner: Banner, shape: str) -> None:
    """rich: a panel; plain: aligned lines; json: one record with the same facts."""
    if shape == "json":
        facts: dict[str, Any] = {key.lower(): value for key, value in banner.rows()}
        facts.update(version=banner.version, mode=banner.mode, graphs=banner.graphs)
        logging.getLogger("threadloom").info(
            "Threadloom %s (%s) started", banner.version, banner.mode, extra={"server": facts}
        )
        return
    title = f"Threadloom {banner.version} ({banner.mode})"
    if shape == "rich":
        from rich.console import Console
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, value in banner.rows():
            table.add_row(key, Text(value, style="cyan" if value.startswith("http") else ""))
        Console(highlight=False).print(Panel(table, title=Text(title, style="bold"), expand=False))
        return
    print(title)
    width = max(len(key) for key, _ in banner.rows()) + 1
    for key, value in banner.rows():
        print(f"  {key + ':':<{width}} {value}")
    sys.stdout.flush()
