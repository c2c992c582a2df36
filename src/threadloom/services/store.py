"""The Store API's rules (long-term memory, `/store/*`): one function per action.

Every store operation a client asks for goes through exactly one of `put_item`, `get_item`,
`delete_item`, `search_items`, `list_namespaces`. Each validates its input (the same rules on
both backends), builds the value an authorization handler would see — `namespace`, `key`, ... as
the Agent Server hands them to `@auth.on.store` — passes it through `authorize` (the one place
store authorization plugs in; a handler may rewrite `namespace` and return a filter that is
AND-ed into a search), validates the namespace again, and only then calls the backend's
LangGraph `BaseStore`. Nothing is written when validation fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from langgraph.store.base import NOT_PROVIDED, Item, NotProvided, SearchItem

from threadloom.errors import InvalidInput, Unprocessable

if TYPE_CHECKING:
    from threadloom.services.context import ServerContext

StoreAction = Literal["put", "get", "delete", "search", "list_namespaces"]
StoreAuthorize = Callable[[StoreAction, dict[str, Any]], Awaitable[dict[str, Any] | None]]
"""`(action, value) -> filter | None`; may rewrite `value["namespace"]` in place, raises to
refuse. Installed as `ctx.extras["store_authorize"]` by whatever implements custom auth."""

SEARCH_LIMIT_DEFAULT = 10
NAMESPACES_LIMIT_DEFAULT = 100
MAX_LIMIT = 10_000
"""Largest `limit` a search or listing takes: a page, not a dump (page on with `offset`)."""
MAX_OFFSET = 2**31 - 1
FILTER_OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})
_FILTER_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


# --- validation ---------------------------------------------------------------------------------
def check_namespace(namespace: Any, *, allow_empty: bool) -> tuple[str, ...]:
    """A namespace as a tuple of labels: each a non-empty string without `.` (422, worded as
    the reference words it); empty only where a prefix is meant; never rooted at `langgraph`."""
    if not isinstance(namespace, list | tuple):
        raise Unprocessable("Namespace must be a list of labels")
    for label in namespace:
        if not isinstance(label, str) or not label or "." in label or "\x00" in label:
            raise Unprocessable(
                f"Namespace label {label!r} must be a non-empty string without periods"
            )
    if not namespace and not allow_empty:
        raise InvalidInput("Namespace cannot be empty.")
    if namespace and namespace[0] == "langgraph":
        raise InvalidInput(
            f'Root label for namespace cannot be "langgraph". Got: {tuple(namespace)}'
        )
    return tuple(namespace)


def namespace_from_query(dotted: str | None) -> tuple[str, ...]:
    """`GET /store/items?namespace=a.b` — the dotted form; missing means one empty label (422)."""
    return check_namespace((dotted or "").split("."), allow_empty=False)


def check_limit(limit: int | None, *, default: int, zero_means_default: bool) -> int:
    if limit is None or (limit == 0 and zero_means_default):
        return default
    if limit < 0 or limit > MAX_LIMIT:
        raise Unprocessable(f"limit must be between 0 and {MAX_LIMIT}, got {limit}")
    return limit


def check_offset(offset: int | None) -> int:
    if offset is None:
        return 0
    if offset < 0 or offset > MAX_OFFSET:
        raise Unprocessable(f"offset must be between 0 and {MAX_OFFSET}, got {offset}")
    return offset


MAX_TTL_MINUTES = 100 * 366 * 24 * 60


def check_ttl(ttl: float | NotProvided | None) -> float | NotProvided | None:
    if isinstance(ttl, int | float) and not 0 < ttl <= MAX_TTL_MINUTES:
        raise Unprocessable(
            f"ttl must be a positive number of minutes up to {MAX_TTL_MINUTES}, got {ttl}"
        )
    return ttl


def check_filter(filter: dict[str, Any] | None) -> dict[str, Any] | None:
    """Equality on a top-level field (`{"kind": "fact"}`) or operators (`{"n": {"$gt": 1}}`);
    anything else is a 422 here instead of a failure deep in the backend's SQL."""
    if not filter:
        return None
    for key, value in filter.items():
        if not key or not set(key) <= _FILTER_KEY_CHARS:
            raise Unprocessable(
                f"Invalid filter key {key!r}: use letters, digits, '_', '-' and '.' for nesting"
            )
        if isinstance(value, dict):
            if not value:
                raise Unprocessable(f"filter {key!r}: empty operator object")
            unknown = sorted(op for op in value if op not in FILTER_OPERATORS)
            if unknown:
                raise Unprocessable(
                    f"filter {key!r}: unsupported operator {unknown[0]!r}"
                    f" (use one of {', '.join(sorted(FILTER_OPERATORS))})"
                )
    return filter


def _check_index(ctx: ServerContext, index: Literal[False] | list[str] | None) -> None:
    if isinstance(index, list) and any(not path for path in index):
        raise Unprocessable("index: field paths must be non-empty strings")


def semantic_search_enabled(ctx: ServerContext) -> bool:
    return getattr(ctx.storage.store, "index_config", None) is not None


def refresh_default(ctx: ServerContext, refresh_ttl: bool | None) -> bool:
    """`refresh_ttl` when given, else `store.ttl.refresh_on_read` (default true)."""
    if refresh_ttl is not None:
        return refresh_ttl
    ttl = ctx.project.store.ttl if ctx.project and ctx.project.store else None
    return ttl.refresh_on_read if ttl is not None else True


# --- authorization seam ----------------------------------------------------------------------
async def authorize(
    ctx: ServerContext, action: StoreAction, value: dict[str, Any]
) -> dict[str, Any] | None:
    """The one place store authorization happens: the installed `StoreAuthorize`, if any."""
    handler = cast("StoreAuthorize | None", ctx.extras.get("store_authorize"))
    if handler is None:
        return None
    return await handler(action, value)


# --- rendering --------------------------------------------------------------------------------
def _iso(value: datetime) -> str:
    # SQLite's store keeps naive UTC timestamps; answer every item in one form (the reference's)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def render_item(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": _iso(item.created_at),
        "updated_at": _iso(item.updated_at),
    }
    if isinstance(item, SearchItem):
        out["score"] = item.score
    return out


# --- actions ----------------------------------------------------------------------------------
async def put_item(
    ctx: ServerContext,
    namespace: Sequence[str],
    key: str,
    value: dict[str, Any],
    *,
    index: Literal[False] | list[str] | None = None,
    ttl: float | NotProvided | None = NOT_PROVIDED,
) -> None:
    """Store or replace an item. `ttl` left out takes `store.ttl.default_ttl`; `None` never
    expires."""
    ns = check_namespace(namespace, allow_empty=False)
    check_ttl(ttl)
    _check_index(ctx, index)
    request: dict[str, Any] = {
        "namespace": ns,
        "key": key,
        "value": value,
        "index": index,
        "ttl": None if ttl is NOT_PROVIDED else ttl,
    }
    await authorize(ctx, "put", request)
    ns = check_namespace(request["namespace"], allow_empty=False)
    await ctx.storage.store.aput(ns, request["key"], request["value"], index=index, ttl=ttl)


async def get_item(
    ctx: ServerContext, namespace: Sequence[str], key: str | None, *, refresh_ttl: bool | None
) -> dict[str, Any] | None:
    ns = check_namespace(namespace, allow_empty=False)
    if not key:
        raise InvalidInput("Key is required")
    request: dict[str, Any] = {"namespace": ns, "key": key, "refresh_ttl": refresh_ttl}
    await authorize(ctx, "get", request)
    ns = check_namespace(request["namespace"], allow_empty=False)
    item = await ctx.storage.store.aget(
        ns, request["key"], refresh_ttl=refresh_default(ctx, request["refresh_ttl"])
    )
    return render_item(item) if item is not None else None


async def delete_item(ctx: ServerContext, namespace: Sequence[str] | None, key: str) -> None:
    """Delete an item; deleting one that is not there is not an error."""
    ns = check_namespace(namespace or (), allow_empty=False)
    request: dict[str, Any] = {"namespace": ns, "key": key}
    await authorize(ctx, "delete", request)
    ns = check_namespace(request["namespace"], allow_empty=False)
    await ctx.storage.store.adelete(ns, request["key"])


async def search_items(
    ctx: ServerContext,
    namespace_prefix: Sequence[str] | None,
    *,
    filter: dict[str, Any] | None = None,
    limit: int | None = None,
    offset: int | None = None,
    query: str | None = None,
    refresh_ttl: bool | None = None,
) -> list[dict[str, Any]]:
    """Items under a namespace prefix: by similarity to `query` (each with its `score`) when
    the store has an index, else newest update first (`score` null)."""
    prefix = check_namespace(namespace_prefix or (), allow_empty=True)
    check_filter(filter)
    page = check_limit(limit, default=SEARCH_LIMIT_DEFAULT, zero_means_default=True)
    skip = check_offset(offset)
    if query and not semantic_search_enabled(ctx):
        raise InvalidInput(
            "query needs semantic search, which this server does not have: "
            "configure store.index (dims, embed) in langgraph.json"
        )
    request: dict[str, Any] = {
        "namespace": prefix,
        "filter": filter,
        "limit": page,
        "offset": skip,
        "query": query,
        "refresh_ttl": refresh_ttl,
    }
    auth_filter = await authorize(ctx, "search", request)
    prefix = check_namespace(request["namespace"], allow_empty=True)
    combined = request["filter"]
    if auth_filter:
        combined = {**combined, **auth_filter} if combined else auth_filter
    items = await ctx.storage.store.asearch(
        prefix,
        filter=combined,
        limit=request["limit"],
        offset=request["offset"],
        query=request["query"] or None,
        refresh_ttl=refresh_default(ctx, request["refresh_ttl"]),
    )
    return [render_item(item) for item in items]


async def list_namespaces(
    ctx: ServerContext,
    *,
    prefix: Sequence[str] | None = None,
    suffix: Sequence[str] | None = None,
    max_depth: int | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> list[list[str]]:
    """Namespaces holding at least one live item, sorted; `*` in a prefix or suffix matches any
    one label; `max_depth` truncates longer ones (and de-duplicates)."""
    pre = check_namespace(prefix, allow_empty=True) if prefix else None
    suf = check_namespace(suffix, allow_empty=True) if suffix else None
    if max_depth is not None and max_depth < 1:
        raise Unprocessable(f"max_depth must be at least 1, got {max_depth}")
    page = check_limit(limit, default=NAMESPACES_LIMIT_DEFAULT, zero_means_default=False)
    skip = check_offset(offset)
    request: dict[str, Any] = {
        "namespace": pre,
        "suffix": suf,
        "max_depth": max_depth,
        "limit": page,
        "offset": skip,
    }
    await authorize(ctx, "list_namespaces", request)
    pre = check_namespace(request["namespace"], allow_empty=True) if request["namespace"] else None
    suf = check_namespace(request["suffix"], allow_empty=True) if request["suffix"] else None
    found = await ctx.storage.store.alist_namespaces(
        prefix=pre, suffix=suf, max_depth=max_depth, limit=page, offset=skip
    )
    return [list(ns) for ns in found]
