"""Authorization: asking the project's `@auth.on…` handlers about one action on one resource.

Resolution, most specific first, as the reference: `(resource, action)`, `(resource, "*")`,
`("*", action)`, `("*", "*")`, then the global `@auth.on` handler; no handler allows. A handler
gets `(ctx: AuthContext, value)` and may change `value` in place (stamp metadata); it answers
`None`/`True` (allow), `False` (403), or a filter dict that the storage applies to the
resource's metadata in the query itself (a row that does not match is missing: a 404).
"""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth
from langgraph_sdk.auth.types import AuthContext, Handler

from threadloom.auth.users import RequestAuth
from threadloom.errors import Forbidden, Rejected
from threadloom.storage import filters as filter_language

Filter = dict[str, Any] | None


def resolve(auth: Auth, resource: str, action: str) -> Handler | None:
    """The handler that decides `action` on `resource` (None: allowed, unfiltered)."""
    handlers = auth._handlers
    for key in ((resource, action), (resource, "*"), ("*", action), ("*", "*")):
        found = handlers.get(key)
        if found:
            return found[-1]
    return auth._global_handlers[-1] if auth._global_handlers else None


class Policy:
    """One project's authorization handlers, resolved once per (resource, action)."""

    def __init__(self, auth: Auth) -> None:
        self.auth = auth
        self._resolved: dict[tuple[str, str], Handler | None] = {}

    def handler(self, resource: str, action: str) -> Handler | None:
        key = (resource, action)
        if key not in self._resolved:
            self._resolved[key] = resolve(self.auth, resource, action)
        return self._resolved[key]

    async def authorize(
        self, caller: RequestAuth, resource: str, action: str, value: dict[str, Any]
    ) -> Filter:
        """The filter the caller's access is limited to (None: all); raises Forbidden (403) when
        the handler says no, Rejected when it raises `Auth.exceptions.HTTPException`."""
        handler = self.handler(resource, action)
        if handler is None:
            return None
        ctx = AuthContext(
            user=caller.user,
            permissions=list(caller.permissions),
            resource=resource,  # type: ignore[arg-type]
            action=action,  # type: ignore[arg-type]
        )
        try:
            result = await handler(ctx=ctx, value=value)
        except Auth.exceptions.HTTPException as exc:
            raise Rejected(
                exc.status_code, str(exc.detail), dict(exc.headers or {}) or None
            ) from None
        except AssertionError as exc:
            raise Forbidden(str(exc) or "Forbidden") from None
        if result is None or result is True:
            return None
        if result is False:
            raise Forbidden("Forbidden")
        if not isinstance(result, dict):
            raise Forbidden(
                f"The auth handler for {resource}.{action} returned {type(result).__name__}; "
                "expected None, a bool or a filter dict"
            )
        return filter_language.validate(result) if result else None
