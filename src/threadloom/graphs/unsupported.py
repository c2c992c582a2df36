"""Which `langgraph.json` settings this version parses but does not honour yet, and what then.

A setting Threadloom would ignore must never be ignored in silence: a server configured for custom
auth that starts open to everyone is the failure this module exists to prevent. Every key that
`graphs/project.py` parses is classified here, once:

- **refused**: ignoring it would open what the user meant to close, keep what they meant to
  delete, or serve at other paths than they asked for. The server does not start, and says why
  in one line.
- **warned**: ignoring it changes nothing a client or an operator relies on (a UI bundle, log
  formatting). The server starts and logs one warning per key.

Keys that are honoured (graphs, env, dependencies, `auth`, most of `http`, `checkpointer.ttl`, `store`) and
build-time keys (a running server has nothing to do with `python_version` or `dockerfile_lines`)
are not listed. When a
feature lands, its keys leave this module in the same change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from threadloom.graphs.errors import ProjectError
from threadloom.graphs.project import ProjectConfig

logger = logging.getLogger("threadloom")


@dataclass(frozen=True)
class Unsupported:
    """One setting that is given but not honoured."""

    key: str
    why: str
    refused: bool


def _set(value: Any) -> bool:
    """A value the user actually gave (not a default-like empty or false value)."""
    return value not in (None, False, "", [], {})


def _get(project: ProjectConfig, dotted: str) -> Any:
    value: Any = project
    for part in dotted.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


_Check = tuple[str, Callable[[Any], bool], str, bool]

# (key, "is this value one we cannot honour?", why, refused)
_CHECKS: tuple[_Check, ...] = (
    (
        "auth.allow_langsmith_api_keys",
        _set,
        "LangSmith API keys cannot be checked by a self-hosted server; requests go to the "
        "custom auth handler (or use THREADLOOM_API_KEYS)",
        False,
    ),
    ("encryption.path", _set, "encryption at rest is not supported yet", True),
    # `http.app`, `middleware_order`, `enable_custom_route_auth`, `mount_prefix`,
    # `configurable_headers`, `cors` and every `http.disable_*` are honoured (api/custom_app.py, api/middleware.py, api/route_groups.py;
    # MCP, A2A and UI routes are not served at all yet; the thread protocol's are, and
    # `disable_event_streaming` removes them).
    (
        "http.logging_headers",
        _set,
        "Threadloom does not log request headers, so there is nothing to filter",
        False,
    ),
    ("store.path", _set, "a custom store implementation is not supported yet", True),
    (
        "checkpointer.path",
        _set,
        "a custom checkpointer is not supported yet; Threadloom keeps checkpoints in its own "
        "database",
        True,
    ),
    (
        "checkpointer.uri",
        _set,
        "a checkpointer URI is not supported; set THREADLOOM_DATABASE_URL for PostgreSQL",
        True,
    ),
    (
        "checkpointer.backend",
        lambda v: _set(v) and v != "default",
        "only the default checkpointer is supported",
        True,
    ),
    (
        "checkpointer.serde",
        _set,
        "serializer allow-lists are not supported yet; checkpoints would be read without them",
        True,
    ),
    (
        "webhooks.url",
        _set,
        "the webhook URL policy from langgraph.json is not supported yet (use the "
        "THREADLOOM_WEBHOOK_* settings)",
        True,
    ),
    (
        "webhooks.headers",
        _set,
        "webhook headers are not supported yet; receivers would get calls without them",
        True,
    ),
    (
        "webhooks.allowed_fields",
        _set,
        "limiting webhook payload fields is not supported yet; payloads would carry every field",
        True,
    ),
    (
        "webhooks.env_prefix",
        lambda v: _set(v) and v != "LG_WEBHOOK_",
        "only has a meaning with webhooks.headers, which is not supported yet",
        False,
    ),
    (
        "priority.path",
        _set,
        "run priorities are not supported yet; runs are taken oldest first",
        False,
    ),
    ("ui", _set, "generative UI components are not served", False),
    ("ui_config", _set, "generative UI components are not served", False),
    (
        "disable_persistence",
        _set,
        "Threadloom always persists threads and runs to its database",
        False,
    ),
)

# auth keys that only mean something beside auth.path
_AUTH_COMPANIONS = ("disable_studio_auth", "openapi", "cache")


def find_unsupported(project: ProjectConfig) -> list[Unsupported]:
    """Every given setting this version does not honour, in the order of `_CHECKS`."""
    found = [
        Unsupported(key, why, refused)
        for key, unsupported, why, refused in _CHECKS
        if unsupported(_get(project, key))
    ]
    if project.auth is not None and not project.auth.path:
        found += [
            Unsupported(f"auth.{name}", "has no effect without auth.path", False)
            for name in _AUTH_COMPANIONS
            if _set(getattr(project.auth, name))
        ]
    return found


def check_supported(project: ProjectConfig, *, source: str | None = None) -> None:
    """Refuse a project that asks for what Threadloom cannot honour; warn about the harmless.

    Raises `ProjectError` with one line naming every refused key and why.
    """
    where = source or (str(project.config_path) if project.config_path else "langgraph.json")
    found = find_unsupported(project)
    for item in found:
        if not item.refused:
            logger.warning("%s: %s is ignored: %s", where, item.key, item.why)
    refused = [item for item in found if item.refused]
    if refused:
        reasons = "; ".join(f"{item.key} is set, but {item.why}" for item in refused)
        raise ProjectError(f"{where}: refusing to start: {reasons}")
