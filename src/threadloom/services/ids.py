"""Identifier parsing: LangGraph ids are UUIDs; a malformed one is the client's mistake (422)."""

from __future__ import annotations

import uuid

from langchain_core.utils.uuid import uuid7

from threadloom.errors import Unprocessable


def parse_uuid(value: str, what: str) -> str:
    """Canonical lower-case form of a UUID, or 422 naming the field."""
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, AttributeError, TypeError):
        raise Unprocessable(f"Invalid {what}: {value!r} is not a UUID") from None


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def new_id() -> str:
    """Time-ordered ids (uuid7) keep inserts at the end of every index."""
    return str(uuid7())
