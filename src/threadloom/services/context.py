"""The objects every service needs, built once at start-up and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from threadloom.services.run_headers import NO_PATTERNS, HeaderPatterns

if TYPE_CHECKING:
    from threadloom.auth.users import RequestAuth
    from threadloom.graphs.project import ProjectConfig
    from threadloom.graphs.registry import GraphRegistry
    from threadloom.runtime.broker import Broker
    from threadloom.services.thread_ttl import ThreadTTLPolicy
    from threadloom.settings import Settings
    from threadloom.storage.base import Storage


@dataclass
class ServerContext:
    settings: Settings
    storage: Storage
    broker: Broker
    registry: GraphRegistry
    project: ProjectConfig | None = None
    thread_ttl: ThreadTTLPolicy = field(default_factory=lambda: _no_ttl())
    """Thread TTL (services/thread_ttl.py): the default for new threads and the sweep."""
    header_patterns: HeaderPatterns = NO_PATTERNS  # `http.configurable_headers`
    extras: dict[str, Any] = field(default_factory=dict)
    # the request's caller under custom auth (None: the server itself, or no custom auth);
    # with one, `storage` is the guarded view for that caller (auth/guarded.py)
    caller: RequestAuth | None = None


def _no_ttl() -> ThreadTTLPolicy:
    from threadloom.services.thread_ttl import ThreadTTLPolicy

    return ThreadTTLPolicy()
