"""SQL paging pieces both backends share: whitelisted ORDER BY and validated LIMIT/OFFSET."""

from __future__ import annotations

from collections.abc import Mapping

from threadloom.errors import Unprocessable


def order_by(sort_by: str, sort_order: str, allowed: Mapping[str, str], tiebreak: str) -> str:
    """A whitelisted ORDER BY with a unique tiebreak so pages never overlap."""
    column = allowed.get(sort_by)
    if column is None:
        raise Unprocessable(f"Invalid sort_by {sort_by!r}: expected one of {', '.join(allowed)}")
    order = sort_order.lower() if isinstance(sort_order, str) else sort_order
    if order not in ("asc", "desc"):
        raise Unprocessable(f"Invalid sort_order {sort_order!r}: expected asc or desc")
    if column == tiebreak:
        return f"ORDER BY {column} {order}"
    return f"ORDER BY {column} {order}, {tiebreak} {order}"


def page_bounds(limit: int, offset: int) -> tuple[int, int]:
    """Validated LIMIT/OFFSET values."""
    if limit < 0 or offset < 0:
        raise Unprocessable("limit and offset must be non-negative")
    return limit, offset
