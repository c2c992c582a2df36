"""Who made a request: what an `@auth.authenticate` handler returned, in one shape.

A handler may return a string (the identity), a `MinimalUserDict`-like mapping, an object with
an `identity` attribute (`BaseUser`, `StudioUser`, a pydantic model…), or a `(permissions, user)`
tuple. Authorization handlers then read `ctx.user.identity`, `ctx.user.permissions`,
`ctx.user["identity"]` or any field the handler added; the graph gets the same user back in
`config["configurable"]["langgraph_auth_user"]` (stored with the run as JSON, rebuilt by
`AuthUser.from_json`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langgraph_sdk.auth.types import StudioUser


class AuthUser(Mapping[str, Any]):
    """A user with `identity`, `display_name`, `is_authenticated` and `permissions`, readable as
    attributes and as mapping items; other fields are the source's (an object's attributes or
    a mapping's items)."""

    __slots__ = ("_fields", "_source")

    def __init__(self, source: Any, fields: dict[str, Any]) -> None:
        self._source = source
        self._fields = fields

    @classmethod
    def of(cls, value: Any, permissions: Sequence[str] | None = None) -> AuthUser:
        """Normalise what an authenticate handler returned; ValueError when it names nobody."""
        if isinstance(value, AuthUser):
            return value
        if isinstance(value, str):
            if not value:
                raise ValueError("the authenticate handler returned an empty identity")
            return cls(None, _fields({"identity": value}, permissions))
        if isinstance(value, StudioUser):
            data = {
                "kind": "StudioUser",
                "identity": value.identity,
                "display_name": value.display_name,
                "is_authenticated": value.is_authenticated,
            }
            return cls(value, _fields(data, permissions or list(value.permissions)))
        if isinstance(value, Mapping):
            if not isinstance(value.get("identity"), str) or not value["identity"]:
                raise ValueError("the authenticate handler returned a user without an identity")
            return cls(None, _fields(dict(value), permissions))
        identity = _attr(value, "identity")
        if not isinstance(identity, str) or not identity:
            raise ValueError(
                "the authenticate handler must return a string, a dict with an `identity`, "
                f"or an object with an `identity` attribute; got {type(value).__name__}"
            )
        data = _dump(value)
        data["identity"] = identity
        for name in ("display_name", "is_authenticated"):
            found = _attr(value, name)
            if found is not None:
                data[name] = found
        own = _attr(value, "permissions")
        return cls(value, _fields(data, permissions if permissions is not None else own))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthUser:
        """The user a run was created by, from its stored config."""
        return cls(None, _fields(dict(data), None))

    # --- the BaseUser protocol -------------------------------------------------------------
    @property
    def identity(self) -> str:
        return str(self._fields["identity"])

    @property
    def display_name(self) -> str:
        return str(self._fields.get("display_name") or self.identity)

    @property
    def is_authenticated(self) -> bool:
        return bool(self._fields.get("is_authenticated", True))

    @property
    def permissions(self) -> list[str]:
        return list(self._fields.get("permissions") or [])

    @property
    def is_studio(self) -> bool:
        return self._fields.get("kind") == "StudioUser"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._fields:
            return self._fields[name]
        if self._source is not None:
            return getattr(self._source, name)
        raise AttributeError(f"the authenticated user has no attribute {name!r}")

    # --- Mapping ---------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"AuthUser({self._fields!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (AuthUser.from_json, (self._fields,))

    def to_json(self) -> dict[str, Any]:
        """The JSON-safe fields (what a run stores and a graph gets back)."""
        return {k: v for k, v in self._fields.items() if _json_safe(v)}


def _fields(data: dict[str, Any], permissions: Sequence[str] | None) -> dict[str, Any]:
    data.setdefault("display_name", data["identity"])
    data.setdefault("is_authenticated", True)
    if permissions is not None:
        data["permissions"] = list(permissions)
    else:
        data["permissions"] = list(data.get("permissions") or [])
    return data


def _attr(value: Any, name: str) -> Any:
    try:
        return getattr(value, name)
    except (AttributeError, NotImplementedError):
        return None


def _dump(value: Any) -> dict[str, Any]:
    for method in ("model_dump", "dict"):
        dump = getattr(value, method, None)
        if callable(dump):
            try:
                found = dump()
            except Exception:
                continue
            if isinstance(found, Mapping):
                return dict(found)
    return {}


def _json_safe(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_json_safe(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _json_safe(v) for k, v in value.items())
    return False


@dataclass(frozen=True, slots=True)
class RequestAuth:
    """The authenticated caller of one request."""

    user: AuthUser
    permissions: tuple[str, ...]


def normalize(result: Any) -> RequestAuth:
    """What an authenticate handler returned → the request's caller (ValueError if nobody)."""
    permissions: Sequence[str] | None = None
    user = result
    if isinstance(result, tuple):
        if len(result) != 2:
            raise ValueError(
                "the authenticate handler returned a tuple that is not (permissions, user)"
            )
        permissions, user = result
    normalised = AuthUser.of(user, permissions)
    return RequestAuth(normalised, tuple(normalised.permissions))
