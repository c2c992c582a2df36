"""Custom auth without a server: handler resolution, the caller's shape, authenticate's
answers, the cache, and that every repository method is mapped to a decision."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from langgraph_sdk import Auth

from threadloom.auth.authenticate import Authenticator
from threadloom.auth.guarded import GUARDED, PASS_THROUGH
from threadloom.auth.policy import Policy, resolve
from threadloom.auth.users import AuthUser, normalize
from threadloom.errors import Forbidden, Rejected
from threadloom.storage.base import AssistantStore, CronStore, RunStore, ThreadStore


async def _allow(ctx: Any, value: Any) -> None:
    return None


def _named(name: str) -> Any:
    async def handler(ctx: Any, value: Any) -> Any:
        return {"by": name}

    handler.__name__ = name
    return handler


def test_resolution_most_specific_first() -> None:
    auth = Auth()
    auth.on(_named("global"))
    auth.on(actions="read")(_named("any-read"))
    auth.on.threads(_named("threads"))
    auth.on.threads.create_run(_named("create_run"))
    auth.on(resources="crons")(_named("crons"))
    auth.on.store.put(_named("store-put"))
    name = lambda r, a: resolve(auth, r, a).__name__  # noqa: E731
    assert name("threads", "create_run") == "create_run"
    assert name("threads", "read") == "threads"  # (resource, *) beats (*, action)
    assert name("assistants", "read") == "any-read"
    assert name("assistants", "delete") == "global"
    assert name("crons", "update") == "crons"
    assert name("store", "put") == "store-put"
    assert name("store", "get") == "global"


async def test_policy_answers() -> None:
    auth = Auth()

    @auth.on.threads.delete
    async def no(ctx: Any, value: Any) -> bool:
        return False

    @auth.on.threads.create
    async def stamp(ctx: Any, value: Any) -> None:
        value["metadata"]["owner"] = ctx.user.identity

    @auth.on.threads.read
    async def raise_(ctx: Any, value: Any) -> None:
        raise Auth.exceptions.HTTPException(status_code=418, detail="tea", headers={"x": "1"})

    policy = Policy(auth)
    caller = normalize({"identity": "u1", "permissions": ["p"]})
    with pytest.raises(Forbidden):
        await policy.authorize(caller, "threads", "delete", {})
    value: dict[str, Any] = {"metadata": {}}
    assert await policy.authorize(caller, "threads", "create", value) is None
    assert value["metadata"] == {"owner": "u1"}
    with pytest.raises(Rejected) as err:
        await policy.authorize(caller, "threads", "read", {})
    assert (err.value.status_code, err.value.headers) == (418, {"x": "1"})
    assert await policy.authorize(caller, "assistants", "read", {}) is None  # no handler


class _Obj:
    identity = "obj"
    permissions = ["a"]
    team = "red"


def test_users_of_every_shape() -> None:
    assert AuthUser.of("sam").identity == "sam"
    user = AuthUser.of({"identity": "d", "display_name": "Dee", "extra": 1})
    assert (user.display_name, user["extra"], user.extra, user.permissions) == ("Dee", 1, 1, [])
    obj = AuthUser.of(_Obj())
    assert (obj.identity, obj.permissions, obj.team, obj.is_authenticated) == (
        "obj",
        ["a"],
        "red",
        True,
    )
    caller = normalize((["x"], "tup"))
    assert (caller.user.identity, caller.permissions) == ("tup", ("x",))
    assert AuthUser.from_json(user.to_json())["display_name"] == "Dee"
    with pytest.raises(ValueError):
        AuthUser.of({"no": "identity"})


def _scope(headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/threads/x",
        "query_string": b"a=1",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def test_authenticate_injects_by_name_and_maps_errors() -> None:
    auth = Auth()
    seen: dict[str, Any] = {}

    @auth.authenticate
    async def authenticate(
        authorization: str | None,
        method: str,
        path: str,
        query_params: Any,
        headers: dict[bytes, bytes],
    ) -> Any:
        seen.update(method=method, path=path, q=query_params["a"], h=headers.get(b"x-h"))
        if authorization == "boom":
            raise RuntimeError("secret")
        if authorization is None:
            raise Auth.exceptions.HTTPException(
                status_code=401, detail="who", headers={"WWW-Authenticate": "Bearer"}
            )
        return authorization

    authenticator = Authenticator(auth)
    caller = await authenticator.authenticate(_scope({"authorization": "me", "x-h": "v"}), _receive)
    assert caller.user.identity == "me"
    assert seen == {"method": "GET", "path": "/threads/x", "q": "1", "h": b"v"}
    with pytest.raises(Rejected) as err:
        await authenticator.authenticate(_scope({}), _receive)
    assert (err.value.status_code, err.value.detail, err.value.headers) == (
        401,
        "who",
        {"WWW-Authenticate": "Bearer"},
    )
    with pytest.raises(Forbidden) as forbidden:
        await authenticator.authenticate(_scope({"authorization": "boom"}), _receive)
    assert "secret" not in forbidden.value.detail


async def test_cache_by_headers() -> None:
    auth = Auth()
    calls: list[str] = []

    @auth.authenticate
    async def authenticate(authorization: str) -> str:
        calls.append(authorization)
        return authorization

    authenticator = Authenticator(auth, cache_keys=["Authorization"], cache_ttl_seconds=60)
    for _ in range(3):
        await authenticator.authenticate(_scope({"authorization": "t1"}), _receive)
    await authenticator.authenticate(_scope({"authorization": "t2"}), _receive)
    assert calls == ["t1", "t2"]


@pytest.mark.parametrize(
    ("name", "store"),
    [
        ("threads", ThreadStore),
        ("runs", RunStore),
        ("assistants", AssistantStore),
        ("crons", CronStore),
    ],
)
def test_every_repository_method_is_mapped(name: str, store: type) -> None:
    """A method added to storage/base.py must be given a decision in auth/guarded.py."""
    methods = {
        n
        for n, v in inspect.getmembers(store)
        if not n.startswith("_") and (inspect.isfunction(v) or not callable(v))
    }
    unmapped = methods - GUARDED[name] - PASS_THROUGH[name]
    assert not unmapped, f"{name}: {sorted(unmapped)} have no authorization decision"
