"""Two users, each seeing only their own threads (and runs, which live on threads).

Tokens are hard-coded for the example; a real project verifies a JWT or asks its identity
provider in `authenticate`.
"""

from typing import Any

from langgraph_sdk import Auth

auth = Auth()

TOKENS = {"alice-token": "alice", "bob-token": "bob"}


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    token = (authorization or "").removeprefix("Bearer ").strip()
    if token not in TOKENS:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Unknown or missing token")
    return {"identity": TOKENS[token], "permissions": []}


@auth.on.threads.create
@auth.on.threads.create_run
async def stamp_owner(ctx: Auth.types.AuthContext, value: Any) -> dict[str, str]:
    """New threads and runs belong to their creator; a run only on the caller's threads."""
    value.setdefault("metadata", {})["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}


@auth.on.threads
async def own_threads(ctx: Auth.types.AuthContext, value: Any) -> dict[str, str]:
    """Read, search, update, delete: only the caller's threads (anyone else's is a 404)."""
    return {"owner": ctx.user.identity}


@auth.on
async def deny_the_rest(ctx: Auth.types.AuthContext, value: Any) -> bool:
    """Default deny: assistants, crons and the store are closed unless a handler opens them.
    (Runs on the graphs' own assistants need no assistant handler.)"""
    return False
