"""Custom auth for the e2e auth project (langgraph_auth.json): bearer tokens name users; each
user sees only what they own, carol also what is shared with her team."""

from typing import Any

from langgraph_sdk import Auth

auth = Auth()

USERS: dict[str, dict[str, Any]] = {
    "token-a": {"identity": "alice", "permissions": ["p1"]},
    "token-b": {"identity": "bob", "permissions": ["p1"]},
    "token-c": {"identity": "carol", "permissions": ["team:red"]},
    "token-r": {"identity": "rory", "permissions": ["no-delete"]},
    "dict": {"identity": "dora", "permissions": ["read"], "display_name": "Dora", "extra": 5},
}


@auth.authenticate
async def authenticate(authorization: str | None, path: str, method: str) -> Any:
    if not authorization:
        raise Auth.exceptions.HTTPException(
            status_code=401, detail="no token", headers={"WWW-Authenticate": "Bearer"}
        )
    token = authorization.removeprefix("Bearer ").strip()
    if token == "boom":
        raise ValueError("kaboom: a secret the client must not see")
    if token == "forbid":
        raise Auth.exceptions.HTTPException(status_code=403, detail="go away")
    if token == "plain":
        return "paul"  # a bare identity
    if token not in USERS:
        raise Auth.exceptions.HTTPException(status_code=401, detail="bad token")
    return USERS[token]


def _teams(ctx: Auth.types.AuthContext) -> list[str]:
    return [p.split(":", 1)[1] for p in ctx.permissions if p.startswith("team:")]


@auth.on.threads.create
async def on_thread_create(ctx: Auth.types.AuthContext, value: Any) -> None:
    value.setdefault("metadata", {})["owner"] = ctx.user.identity


@auth.on.threads.create_run
async def on_create_run(ctx: Auth.types.AuthContext, value: Any) -> Any:
    value.setdefault("metadata", {})["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}


@auth.on.threads.delete
async def on_thread_delete(ctx: Auth.types.AuthContext, value: Any) -> Any:
    if "no-delete" in ctx.permissions:
        return False
    return {"owner": {"$eq": ctx.user.identity}}


@auth.on.threads
async def on_threads(ctx: Auth.types.AuthContext, value: Any) -> Any:
    teams = _teams(ctx)
    if teams:  # own threads, and those shared with one of the caller's teams
        return {
            "$or": [{"owner": ctx.user.identity}, *({"teams": {"$contains": t}} for t in teams)]
        }
    return {"owner": ctx.user.identity}


@auth.on.assistants.create
async def on_assistant_create(ctx: Auth.types.AuthContext, value: Any) -> None:
    value.setdefault("metadata", {})["owner"] = ctx.user.identity


@auth.on.assistants
async def on_assistants(ctx: Auth.types.AuthContext, value: Any) -> Any:
    return {"owner": ctx.user.identity}


@auth.on.crons.create
async def on_cron_create(ctx: Auth.types.AuthContext, value: Any) -> None:
    value.setdefault("metadata", {})["owner"] = ctx.user.identity


@auth.on.crons
async def on_crons(ctx: Auth.types.AuthContext, value: Any) -> Any:
    return {"owner": ctx.user.identity}


@auth.on.store
async def on_store(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Each user's memory lives under their own name: every namespace is rewritten."""
    value["namespace"] = (ctx.user.identity, *(value.get("namespace") or ()))


@auth.on
async def deny_everything_else(ctx: Auth.types.AuthContext, value: Any) -> bool:
    return False
