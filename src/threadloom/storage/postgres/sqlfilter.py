"""The metadata filter language (`storage.filters`) compiled to jsonb predicates.

Same semantics as `filters.matches`, expressed with operators PostgreSQL can answer from the
GIN (`jsonb_path_ops`) indexes where possible: plain keys and `$eq` on a scalar become one
`column @> %s` (for a scalar, containment *is* JSON equality, and a missing key never matches);
`$eq` on an object/array is `column -> key = %s`; `$contains` is an array-typed `->` plus `@>`.
Values always travel as parameters, never inside the SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg.types.json import Jsonb

from threadloom.errors import Unprocessable
from threadloom.serde import dumps
from threadloom.storage import filters as flt
from threadloom.storage.dialect import Dialect
from threadloom.storage.paging import order_by, page_bounds  # noqa: F401 - re-exported

Predicate = tuple[str, list[Any]]
TRUE: Predicate = ("TRUE", [])
FALSE: Predicate = ("FALSE", [])


def jsonb(value: Any) -> Jsonb:
    """A parameter for a jsonb placeholder, encoded like everything else Threadloom stores."""
    return Jsonb(value, dumps=_dumps)


def _dumps(value: Any) -> str:
    return dumps(value).decode()


def _and(parts: list[Predicate]) -> Predicate:
    parts = [p for p in parts if p[0] != "TRUE"]
    if not parts:
        return TRUE
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(f"({sql})" for sql, _ in parts), [p for _, ps in parts for p in ps]


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (Mapping, list, tuple))


def _compile(column: str, filter: Mapping[str, Any]) -> Predicate:
    parts: list[Predicate] = []
    contained: dict[str, Any] = {}  # keys answered by one `column @> {...}`
    for key, operand in filter.items():
        if key == "$and":
            parts.extend(_compile(column, sub) for sub in operand)
            continue
        if key == "$or":
            if not operand:
                parts.append(FALSE)
                continue
            subs = [_compile(column, sub) for sub in operand]
            parts.append(
                (" OR ".join(f"({s})" for s, _ in subs), [p for _, ps in subs for p in ps])
            )
            continue
        first = next(iter(operand), None) if isinstance(operand, Mapping) else None
        if not (isinstance(first, str) and first.startswith("$")):
            contained[key] = operand
            continue
        for op, arg in operand.items():
            if op == "$eq":
                if _is_scalar(arg) and key not in contained:
                    contained[key] = arg
                elif _is_scalar(arg):
                    parts.append((f"{column} @> %s", [jsonb({key: arg})]))
                else:
                    parts.append((f"({column} -> %s) = %s", [key, jsonb(arg)]))
            else:  # $contains
                needle = list(arg) if isinstance(arg, (list, tuple)) else [arg]
                parts.append(
                    (
                        f"(jsonb_typeof({column} -> %s) = 'array' AND ({column} -> %s) @> %s)",
                        [key, key, jsonb(needle)],
                    )
                )
    if contained:
        parts.insert(0, (f"{column} @> %s", [jsonb(contained)]))
    return _and(parts)


def compile_filter(column: str, filter: Mapping[str, Any] | None) -> Predicate:
    """A predicate for `filters.matches(column, filter)`; validates the filter."""
    if not filter:
        return TRUE
    return _compile(column, flt.validate(filter))


def compile_contains(column: str, needle: Any) -> Predicate:
    """A predicate for `filters.contains(column, needle)` (search `metadata` / `values`)."""
    if needle is None:
        return TRUE
    if isinstance(needle, Mapping):
        for key in needle:
            if not isinstance(key, str):
                raise Unprocessable(f"Invalid containment filter: key {key!r} is not a string")
        return f"{column} @> %s", [jsonb(needle)]
    if isinstance(needle, (list, tuple)):
        # jsonb's top-level "array contains a primitive" exception is not in our semantics
        return f"(jsonb_typeof({column}) = 'array' AND {column} @> %s)", [jsonb(needle)]
    return f"({column} = %s AND jsonb_typeof({column}) NOT IN ('array', 'object'))", [jsonb(needle)]


def combine(*predicates: Predicate) -> Predicate:
    """AND predicates, dropping trivially true ones."""
    return _and(list(predicates))


DIALECT = Dialect(
    param="%s",
    true="TRUE",
    false="FALSE",
    insertion_order="seq",
    any_array=True,
    is_distinct="IS DISTINCT FROM",
    time=lambda dt: dt,
    boolean=bool,
    icontains="{column} ILIKE {param}",
    filter=compile_filter,
    contains=compile_contains,
    combine=combine,
    skip_locked=" FOR UPDATE SKIP LOCKED",
    ms_between=lambda start, end: f"(EXTRACT(EPOCH FROM (({end}) - ({start}))) * 1000)::float8",
    ms_since_text=lambda start, text: (
        f"(EXTRACT(EPOCH FROM (({text})::timestamptz - ({start}))) * 1000)::float8"
    ),
    json_text=lambda column, path: f"({column} #>> '{{{path.replace('.', ',')}}}')",
    json_number=lambda column, key: f"({column} ->> '{key}')::float8",
)
