"""``/api/v1/webhooks``: forge pushes in, and the builds they started.

- ``POST /api/v1/webhooks/{github,gitlab,forgejo}``: a forge's delivery. No API
  token: the delivery proves itself with the repository's secret (see
  :mod:`discomy.orchestration.webhooks.decide`). A body above ``[webhooks]
  max_body_bytes`` is refused (413) before it is read whole; a delivery that is
  not verified gets 401, a malformed or replayed one 400, all in the API's error
  shape and none of them a build. A push to build is 202 with the build's id; a
  ping, a tag or another branch 200 with the reason.
- ``GET /api/v1/webhooks/builds`` and ``/builds/{id}``: what each push became.

The service (:class:`discomy.orchestration.webhooks.service.WebhookService`) runs
when ``[[webhooks.repos]]`` names a repository; without one every delivery is a
404.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Depends, Path as PathParam, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from discomy.web.auth import Principal, reader
from discomy.web.context import ApiContext, context
from discomy.web.errors import ApiError, not_found

PREFIX = "/api/v1/webhooks"
router = APIRouter(prefix=PREFIX, tags=["webhooks"])
Forge = Literal["github", "gitlab", "forgejo"]
Id = Annotated[int, PathParam(ge=1, le=2 ** 31 - 1, description="the build's number")]


def _service(ctx: ApiContext):
    if ctx.webhooks is None:
        raise not_found("no forge webhooks are configured here ([[webhooks.repos]])")
    return ctx.webhooks


async def _body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(413, f"the delivery is larger than {limit} bytes")
    chunks, seen = [], 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise ApiError(413, f"the delivery is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/{forge}", status_code=202, summary="A forge's push (signed with the "
             "repository's secret)", responses={200: {"description": "taken, nothing to build"},
                                                 202: {"description": "a build is queued"}})
async def deliver(forge: Forge, request: Request, ctx: ApiContext = Depends(context)):
    service = _service(ctx)
    body = await _body(request, ctx.config["webhooks"]["max_body_bytes"])
    headers = {name.lower(): value for name, value in request.headers.items()}
    answer = await run_in_threadpool(service.accept, forge, headers, body)
    return JSONResponse(answer.body, status_code=answer.status)


def _view(row) -> dict:
    return {"id": row.id, "forge": row.forge, "repository": row.repository,
            "branch": row.branch, "commit": row.commit, "mode": row.mode,
            "backend": row.backend, "target": row.target, "state": row.state,
            "reason": row.reason, "package": row.package, "nvr": row.nvr,
            "previous": row.previous, "task": row.task, "campaign": row.campaign_id,
            "created_at": row.created_at, "submitted_at": row.submitted_at,
            "updated_at": row.updated_at, "url": f"{PREFIX}/builds/{row.id}"}


@router.get("/builds", summary="The builds forge pushes started, newest first")
def list_builds(limit: Annotated[int, Query(ge=1, le=500)] = 50,
                state: Optional[Literal["queued", "preparing", "skipped", "submitted",
                                        "success", "failure"]] = None,
                ctx: ApiContext = Depends(context), who: Principal = Depends(reader)):
    rows = ctx.store.webhooks.builds(states=(state,) if state else None, limit=limit)
    return {"items": [_view(r) for r in rows]}


@router.get("/builds/{build_id}", summary="A build a forge push started")
def get_build(build_id: Id, ctx: ApiContext = Depends(context),
              who: Principal = Depends(reader)):
    row = ctx.store.webhooks.build(build_id)
    if row is None:
        raise not_found(f"no webhook build {build_id}")
    return _view(row)
