"""`/store`: long-term memory (LangGraph's `BaseStore` over HTTP). Rules: `services/store.py`."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Response
from langgraph.store.base import NOT_PROVIDED
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from threadloom.api.deps import get_ctx
from threadloom.api.docs import NO_CONTENT, ok
from threadloom.api.http import JSONBodyRoute, JSONResponse
from threadloom.api.schemas import MAX_INT64, MAX_TTL_MINUTES
from threadloom.services import store as service
from threadloom.services.context import ServerContext

router = APIRouter(
    prefix="/store",
    tags=["Store"],
    default_response_class=JSONResponse,
    route_class=JSONBodyRoute,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class StorePut(_Body):
    namespace: list[StrictStr]
    key: StrictStr
    value: dict[str, Any]
    index: Literal[False] | list[StrictStr] | None = None
    ttl: StrictFloat | StrictInt | None = Field(
        default=None, le=MAX_TTL_MINUTES, description="minutes"
    )


class StoreDelete(_Body):
    namespace: list[StrictStr] | None = None
    key: StrictStr


class StoreSearch(_Body):
    namespace_prefix: list[StrictStr] | None = None
    filter: dict[str, Any] | None = None
    limit: StrictInt = service.SEARCH_LIMIT_DEFAULT
    offset: StrictInt = Field(default=0, le=MAX_INT64)
    query: StrictStr | None = None
    refresh_ttl: bool | None = None


class StoreNamespaces(_Body):
    prefix: list[StrictStr] | None = None
    suffix: list[StrictStr] | None = None
    max_depth: StrictInt | None = None
    limit: StrictInt = service.NAMESPACES_LIMIT_DEFAULT
    offset: StrictInt = Field(default=0, le=MAX_INT64)


class ItemOut(BaseModel):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: str
    updated_at: str


class SearchItemOut(ItemOut):
    score: float | None


class SearchItemsOut(BaseModel):
    items: list[SearchItemOut]


class NamespacesOut(BaseModel):
    namespaces: list[list[str]]


@router.put("/items", summary="Store or update an item", status_code=204, responses=NO_CONTENT)
async def put_item(body: StorePut, ctx: ServerContext = Depends(get_ctx)) -> Response:
    await service.put_item(
        ctx,
        body.namespace,
        body.key,
        body.value,
        index=body.index,
        # left out: the store's default TTL; null: never expires
        ttl=body.ttl if "ttl" in body.model_fields_set else NOT_PROVIDED,
    )
    return Response(status_code=204)


@router.get("/items", summary="Retrieve an item", responses=ok(ItemOut | None))
async def get_item(
    key: str | None = Query(default=None),
    namespace: str | None = Query(default=None, description="labels joined by '.'"),
    refresh_ttl: str | None = Query(default=None),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    return await service.get_item(
        ctx,
        service.namespace_from_query(namespace),
        key,
        # as the reference reads it: "true" (any case) is true, any other value false
        refresh_ttl=None if refresh_ttl is None else refresh_ttl.lower() == "true",
    )


@router.delete("/items", summary="Delete an item", status_code=204, responses=NO_CONTENT)
async def delete_item(body: StoreDelete, ctx: ServerContext = Depends(get_ctx)) -> Response:
    await service.delete_item(ctx, body.namespace, body.key)
    return Response(status_code=204)


@router.post("/items/search", summary="Search items", responses=ok(SearchItemsOut))
async def search_items(
    body: StoreSearch = Body(default_factory=StoreSearch), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    items = await service.search_items(
        ctx,
        body.namespace_prefix,
        filter=body.filter,
        limit=body.limit,
        offset=body.offset,
        query=body.query,
        refresh_ttl=body.refresh_ttl,
    )
    return {"items": items}


@router.post("/namespaces", summary="List namespaces", responses=ok(NamespacesOut))
async def list_namespaces(
    body: StoreNamespaces = Body(default_factory=StoreNamespaces),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    found = await service.list_namespaces(
        ctx,
        prefix=body.prefix,
        suffix=body.suffix,
        max_depth=body.max_depth,
        limit=body.limit,
        offset=body.offset,
    )
    return {"namespaces": found}
