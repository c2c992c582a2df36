"""A trivial custom-auth handler for bench/auth.py: one token lookup, every action allowed."""

from __future__ import annotations

from langgraph_sdk import Auth

auth = Auth()
USERS = {"Bearer bench-token": "bench-user"}


@auth.authenticate
async def authenticate(authorization: str | None) -> str:
    user = USERS.get(authorization or "")
    if user is None:
        raise Auth.exceptions.HTTPException(status_code=401, detail="unknown token")
    return user


@auth.on
async def allow(ctx: Auth.types.AuthContext, value: object) -> None:
    return None
