"""Which request headers a run's `config["configurable"]` gets: the one place for that rule.

As in the reference with no `http.configurable_headers` set: `langsmith-trace` always, with the
LangSmith keys of its `baggage` (`langsmith-metadata`, `langsmith-tags`, `langsmith-project`);
`x-*` headers and `user-agent` only when that setting includes them — so none by default — and
`authorization`, `x-api-key`, `x-service-key`, `x-tenant-id` never. `x-request-id` becomes
`langgraph_request_id`, a fresh id when the request has none. `http.configurable_headers`
arrives here as `HeaderPatterns` (`header_patterns`), kept on the `ServerContext`.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)

NEVER = frozenset({"authorization", "x-api-key", "x-service-key", "x-tenant-id"})
_BAGGAGE_KEYS = ("langsmith-metadata", "langsmith-tags", "langsmith-project")


@dataclass(frozen=True, slots=True)
class HeaderPatterns:
    """`http.configurable_headers`: `*`-wildcard patterns; an exclude wins over an include."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def admits(self, name: str) -> bool:
        if any(_matches(p, name) for p in self.exclude):
            return False
        return any(_matches(p, name) for p in self.include)


NO_PATTERNS = HeaderPatterns()  # the default: no header beyond the tracing ones


def header_patterns(given: Any) -> HeaderPatterns:
    """`http.configurable_headers` (`includes`/`excludes`, or their aliases `include`/`exclude`,
    as the reference reads them) as patterns; names are matched lower-case."""
    if given is None:
        return NO_PATTERNS

    def patterns(*names: str) -> tuple[str, ...]:
        for name in names:
            value = getattr(given, name, None)
            if value:
                return tuple(str(p).lower() for p in value)
        return ()

    return HeaderPatterns(patterns("includes", "include"), patterns("excludes", "exclude"))


def configurable_headers(
    headers: Mapping[str, str] | None, patterns: HeaderPatterns = NO_PATTERNS
) -> dict[str, Any]:
    """The configurable keys a run's request headers give (names are lower-case)."""
    out: dict[str, Any] = {}
    if not headers:
        return out
    for name, value in headers.items():
        name = name.lower()
        if name == "langsmith-trace":
            out[name] = value
            _baggage(headers.get("baggage"), out)
        elif name not in NEVER and patterns.admits(name):
            out[name] = value
    return out


def request_id(headers: Mapping[str, str] | None) -> str:
    """The request's `x-request-id`, else a new one (the reference gives every run one)."""
    given = (headers or {}).get("x-request-id")
    return given if given else str(uuid.uuid4())


def _baggage(baggage: str | None, out: dict[str, Any]) -> None:
    for item in (baggage or "").split(","):
        key, sep, raw = item.partition("=")
        if not sep or key not in _BAGGAGE_KEYS or key in out:
            continue
        value = urllib.parse.unquote(raw)
        if key == "langsmith-metadata":
            try:
                metadata = json.loads(value)
            except ValueError:
                metadata = None
            if not isinstance(metadata, dict):
                logger.warning("ignoring malformed langsmith-metadata in tracing baggage")
                continue
            out[key] = metadata
        elif key == "langsmith-tags":
            out[key] = value.split(",")
        else:
            out[key] = value


def _matches(pattern: str, name: str) -> bool:
    return _compiled(pattern).fullmatch(name) is not None


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    """Literals and `*` only (no other glob syntax, no regex: nothing to blow up)."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)
