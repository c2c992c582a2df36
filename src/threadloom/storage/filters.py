"""The metadata filter language shared by custom auth and by searches, and JSON containment.

Custom auth handlers (`langgraph_sdk.auth`) return a filter; every backend applies it to the
resource's metadata (a thread, an assistant, or the thread of a run). Searches use `contains`
for their `metadata` / `values` arguments. The pure-Python `matches` here is the reference
semantics; the SQLite backend calls it from SQL and the PostgreSQL backend compiles the same
language to jsonb operators. Keep the three in step with this docstring.

Grammar (a filter is always a JSON object):

    filter    := { clause, ... }                  every clause must hold (AND); {} matches all
    clause    := "$and": [filter, ...]            all hold ([] holds)
               | "$or":  [filter, ...]            at least one holds ([] never holds)
               | key: operand
    operand   := { "$eq": v }                     doc[key] equals v (JSON equality)
               | { "$contains": v }               doc[key] is an array containing v: for a
                                                  non-array v, some element contains v; for an
                                                  array v, every element of v is contained
               | { "$eq": v, "$contains": w }     several operators: all must hold
               | v                                doc[key] contains v (jsonb @>): for a scalar v
                                                  this is equality; for an object, a recursive
                                                  subset; for an array, every element of v is
                                                  contained in some element of doc[key]

Semantics common to every operator:
- keys are top-level keys of the document (no dotted paths); a missing key never matches, not
  even `null` (`{"k": None}` needs `"k": null` present);
- JSON equality is type-strict: `true != 1`, `"1" != 1`, but `1 == 1.0` (JSON numbers);
- an operand object mixes no operator keys with plain keys (`{"$eq": 1, "x": 2}` is invalid);
- a key starting with `$` other than `$and`/`$or` at clause level is invalid, so is an unknown
  operator. Invalid filters raise `errors.Unprocessable`.

Containment (`contains(doc, needle)`, PostgreSQL `doc @> needle` without the top-level
array-contains-primitive special case): objects contain objects whose every key is present
with a contained value; arrays contain arrays whose every element is contained in some element;
scalars contain only equal scalars of the same JSON type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threadloom.errors import Unprocessable

LOGICAL_OPERATORS = frozenset({"$and", "$or"})
FIELD_OPERATORS = frozenset({"$eq", "$contains"})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: type-strict for booleans/strings/null, numeric for numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a) or _is_number(b):
        return _is_number(a) and _is_number(b) and a == b
    if isinstance(a, Mapping):
        if not isinstance(b, Mapping) or len(a) != len(b):
            return False
        return all(k in b and json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(b, (Mapping, list, tuple)):
        return False
    return bool(a == b)


def contains(doc: Any, needle: Any) -> bool:
    """JSON containment with jsonb `@>` semantics (see the module docstring)."""
    if isinstance(needle, Mapping):
        if not isinstance(doc, Mapping):
            return False
        for key, sub in needle.items():
            if key not in doc or not contains(doc[key], sub):
                return False
        return True
    if isinstance(needle, (list, tuple)):
        if not isinstance(doc, (list, tuple)):
            return False
        return all(any(contains(d, n) for d in doc) for n in needle)
    if isinstance(doc, (Mapping, list, tuple)):
        return False
    return json_equal(doc, needle)


def _is_operand_object(operand: Any) -> bool:
    """True if `operand` is an operator object like {"$eq": v}; validates mixed keys."""
    if not isinstance(operand, Mapping) or not operand:
        return False
    dollar = [k for k in operand if isinstance(k, str) and k.startswith("$")]
    if not dollar:
        return False
    if len(dollar) != len(operand):
        raise Unprocessable(
            f"Invalid filter: operator keys {sorted(dollar)} cannot be mixed with plain keys"
        )
    unknown = [k for k in dollar if k not in FIELD_OPERATORS]
    if unknown:
        raise Unprocessable(
            f"Invalid filter: unknown operator {unknown[0]!r} (expected one of $eq, $contains)"
        )
    return True


def validate(filter: Any) -> dict[str, Any]:
    """Check a filter's shape; returns it unchanged or raises Unprocessable with the reason."""
    if not isinstance(filter, Mapping):
        raise Unprocessable(f"Invalid filter: expected an object, got {type(filter).__name__}")
    for key, operand in filter.items():
        if not isinstance(key, str):
            raise Unprocessable(f"Invalid filter: key {key!r} is not a string")
        if key in LOGICAL_OPERATORS:
            if not isinstance(operand, (list, tuple)):
                raise Unprocessable(f"Invalid filter: {key} expects a list of filters")
            for sub in operand:
                validate(sub)
        elif key.startswith("$"):
            raise Unprocessable(
                f"Invalid filter: unknown operator {key!r} (expected $and, $or or a field name)"
            )
        else:
            _is_operand_object(operand)
    return dict(filter)


def _match_operand(doc: Mapping[str, Any], key: str, operand: Any) -> bool:
    if key not in doc:
        return False
    value = doc[key]
    first = next(iter(operand), None) if isinstance(operand, Mapping) else None
    if isinstance(first, str) and first.startswith("$"):
        for op, arg in operand.items():
            if op == "$eq":
                if not json_equal(value, arg):
                    return False
            elif not isinstance(value, (list, tuple)) or not contains(
                value, arg if isinstance(arg, (list, tuple)) else [arg]
            ):
                return False
        return True
    return contains(value, operand)


def evaluate(doc: Any, filter: Mapping[str, Any]) -> bool:
    """`matches` for a filter already checked by `validate` (the per-row hot path)."""
    if not isinstance(doc, Mapping):
        doc = {}
    for key, operand in filter.items():
        if key == "$and":
            if not all(evaluate(doc, sub) for sub in operand):
                return False
        elif key == "$or":
            if not any(evaluate(doc, sub) for sub in operand):
                return False
        elif not _match_operand(doc, key, operand):
            return False
    return True


def matches(doc: Any, filter: Mapping[str, Any] | None) -> bool:
    """Does `doc` (a metadata object) satisfy `filter`? Raises Unprocessable if malformed."""
    if filter is None:
        return True
    return evaluate(doc, validate(filter))


def merge(*filters: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """AND several optional filters into one (None if all are None/empty)."""
    parts = [dict(f) for f in filters if f]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return {"$and": parts}
