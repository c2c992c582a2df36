from langgraph_sdk import Auth

auth = Auth()

USERS = {"token-a": "alice", "token-b": "bob"}


@auth.authenticate
async def authenticate(authorization: str | None, path: str, method: str):
    if not authorization:
        raise Auth.exceptions.HTTPException(
            status_code=401, detail="no token", headers={"WWW-Authenticate": "Bearer"}
        )
    token = authorization.removeprefix("Bearer ").strip()
    if token == "boom":
        raise ValueError("kaboom")
    if token == "forbid":
        raise Auth.exceptions.HTTPException(status_code=403, detail="go away")
    if token == "teapot":
        raise Auth.exceptions.HTTPException(
            status_code=418, detail="teapot", headers={"x-tea": "1"}
        )
    if token == "dict":
        return {"identity": "dora", "permissions": ["read"], "display_name": "Dora", "extra": 5}
    if token not in USERS:
        raise Auth.exceptions.HTTPException(status_code=401, detail="bad token")
    return {"identity": USERS[token], "permissions": ["p1"]}


@auth.on.threads.create
async def on_thread_create(ctx, value):
    value.setdefault("metadata", {})["owner"] = ctx.user.identity


@auth.on.threads.create_run
async def on_create_run(ctx, value):
    value.setdefault("metadata", {})["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}


@auth.on.threads
async def on_threads(ctx, value):
    return {"owner": ctx.user.identity}


@auth.on.assistants.create
async def on_assistant_create(ctx, value):
    value.setdefault("metadata", {})["owner"] = ctx.user.identity


@auth.on.assistants
async def on_assistants(ctx, value):
    return {"owner": ctx.user.identity}
