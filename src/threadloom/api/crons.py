"""`/runs/crons*` and `/threads/{thread_id}/runs/crons`: scheduled runs. Rules:
`services/crons.py`; firing: `runtime/cron_scheduler.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Response
from pydantic import Field, StrictBool, StrictInt, StrictStr

from threadloom.api.deps import get_ctx, pagination_headers
from threadloom.api.docs import NO_CONTENT, CronOut, ok, page_of
from threadloom.api.http import JSONBodyRoute, JSONResponse
from threadloom.api.schemas import Body as _Body
from threadloom.api.schemas import Config, StreamModeName
from threadloom.services import crons as service
from threadloom.services.context import ServerContext

router = APIRouter(
    tags=["Crons"],
    default_response_class=JSONResponse,
    route_class=JSONBodyRoute,
)

CronField = Literal[
    "cron_id",
    "assistant_id",
    "thread_id",
    "on_run_completed",
    "end_time",
    "schedule",
    "timezone",
    "created_at",
    "updated_at",
    "user_id",
    "payload",
    "next_run_date",
    "metadata",
    "enabled",
]


class _RunPayload(_Body):
    input: Any = None
    metadata: dict[str, Any] | None = None
    config: Config | None = None
    context: dict[str, Any] | None = None
    webhook: StrictStr | None = Field(default=None, max_length=65536)
    interrupt_before: Literal["*"] | list[StrictStr] | None = None
    interrupt_after: Literal["*"] | list[StrictStr] | None = None
    stream_mode: StreamModeName | list[StreamModeName] | None = None
    stream_subgraphs: StrictBool | None = None
    stream_resumable: StrictBool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    end_time: datetime | None = None
    timezone: StrictStr | None = None
    enabled: StrictBool | None = None


class CronCreate(_RunPayload):
    schedule: StrictStr
    assistant_id: StrictStr = Field(min_length=1)
    on_run_completed: Literal["delete", "keep"] | None = None


class ThreadCronCreate(_RunPayload):
    schedule: StrictStr
    assistant_id: StrictStr = Field(min_length=1)
    multitask_strategy: Literal["reject", "rollback", "interrupt", "enqueue"] | None = None


class CronPatch(_RunPayload):
    schedule: StrictStr | None = None
    on_run_completed: Literal["delete", "keep"] | None = None
    multitask_strategy: Literal["reject", "rollback", "interrupt", "enqueue"] | None = None


class CronSearch(_Body):
    assistant_id: StrictStr | None = None
    thread_id: StrictStr | None = None
    enabled: StrictBool | None = None
    metadata: dict[str, Any] | None = None
    limit: StrictInt = Field(default=10, ge=1, le=1000)
    offset: StrictInt = Field(default=0, ge=0)
    sort_by: (
        Literal[
            "cron_id",
            "assistant_id",
            "thread_id",
            "next_run_date",
            "end_time",
            "created_at",
            "updated_at",
        ]
        | None
    ) = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[CronField] | None = None


class CronCount(_Body):
    assistant_id: StrictStr | None = None
    thread_id: StrictStr | None = None
    metadata: dict[str, Any] | None = None


def _given(body: _Body) -> dict[str, Any]:
    """The body as the client sent it (the reference keeps it as the cron's payload)."""
    return body.model_dump(mode="json", exclude_unset=True)


@router.post(
    "/runs/crons", summary="Create a cron (a new thread per firing)", responses=ok(CronOut)
)
async def create_cron(body: CronCreate, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return service.render(await service.create(ctx, _given(body), thread_id=None))


@router.post(
    "/threads/{thread_id}/runs/crons", summary="Create a cron on a thread", responses=ok(CronOut)
)
async def create_thread_cron(
    thread_id: str, body: ThreadCronCreate, ctx: ServerContext = Depends(get_ctx)
) -> Any:
    return service.render(await service.create(ctx, _given(body), thread_id=thread_id))


@router.post("/runs/crons/search", summary="Search crons", responses=page_of(CronOut))
async def search_crons(
    response: Response,
    body: CronSearch = Body(default_factory=CronSearch),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    page = await service.search(ctx, _given(body))
    pagination_headers(response, total=page.total, offset=body.offset, count=len(page.items))
    return [service.render(c, body.select) for c in page.items]


@router.post("/runs/crons/count", summary="Count crons", responses=ok(int))
async def count_crons(
    body: CronCount = Body(default_factory=CronCount), ctx: ServerContext = Depends(get_ctx)
) -> Any:
    return await service.count(ctx, _given(body))


@router.get("/runs/crons/{cron_id}", summary="Get a cron", responses=ok(CronOut))
async def get_cron(cron_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return service.render(await service.get(ctx, cron_id))


@router.patch("/runs/crons/{cron_id}", summary="Update a cron", responses=ok(CronOut))
async def patch_cron(
    cron_id: str,
    body: CronPatch = Body(default_factory=CronPatch),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    return service.render(await service.update(ctx, cron_id, _given(body)))


@router.delete("/runs/crons/{cron_id}", status_code=204, responses=NO_CONTENT)
async def delete_cron(cron_id: str, ctx: ServerContext = Depends(get_ctx)) -> Response:
    await service.delete(ctx, cron_id)
    return Response(status_code=204)
