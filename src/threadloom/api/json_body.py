"""How every JSON request body is read: one strict parser for FastAPI's routes and the hot path.

Python's `json` (what FastAPI uses) accepts what no client should send and the server cannot
write back: `NaN` and `Infinity` (stored, then rendered as `null`), lone UTF-16 surrogates
(which fail later in SQLite, PostgreSQL or the reply), and unbounded nesting (orjson refuses to
render more than 254 levels, so the reply to an accepted body would be a 500). orjson refuses the
first two while parsing, as the reference server does, with the reference's wording; the depth
is checked here with a margin for the envelope a stored value is rendered in (a thread's
metadata sits two levels down a search reply). A NUL character (`\u0000`) is refused too:
PostgreSQL's jsonb cannot hold it and SQLite's JSON paths cannot name it, so both shapes answer
the same 422 instead of one storing it and the other failing.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException

INVALID_JSON = "Invalid JSON in request body"
MAX_DEPTH = 200
_ENVELOPE = 254 - MAX_DEPTH  # orjson renders at most 254 levels


class InvalidBody(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(422, detail)


def parse_json(body: bytes) -> Any:
    """The body's value; `InvalidBody` (422) for anything but strict JSON nested at most
    `MAX_DEPTH` levels."""
    if _has_nul_escape(body):
        raise InvalidBody("Request body contains a NUL character (\\u0000), which cannot be stored")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidBody(INVALID_JSON) from exc
    if isinstance(value, (dict, list)):
        wrapped: Any = value
        for _ in range(_ENVELOPE):
            wrapped = [wrapped]
        try:
            orjson.dumps(wrapped)  # C speed: the depth check and "can it be written back"
        except orjson.JSONEncodeError as exc:
            raise InvalidBody(f"Request body is nested deeper than {MAX_DEPTH} levels") from exc
    return value


def _has_nul_escape(body: bytes) -> bool:
    """Whether the JSON text escapes a NUL (`\\u0000`; a raw NUL is invalid JSON anyway), not
    counting an escaped backslash followed by `u0000`."""
    at = body.find(b"\\u0000")
    while at != -1:
        slashes = 0
        while at - slashes - 1 >= 0 and body[at - slashes - 1] == 0x5C:
            slashes += 1
        if slashes % 2 == 0:
            return True
        at = body.find(b"\\u0000", at + 1)
    return False
