"""``/api/v1/module-builds``: submit, list, look at and cancel module builds.

Each handler is a call of :mod:`discomy.orchestration.modules.service`, the same
functions ``discomy module-build`` and the koji CLI's ``koji module-build`` end
in: a submission records one module build per context the module expands to, in
``init``, for the daemon (``discomy serve``) to drive; a cancel marks it
``canceled`` at once and the daemon stops its component builds. Inside
``discomy serve`` the driver is woken, so it looks at the build at its next
tick. The service's refusals keep their status: 400 for bad input (libmodulemd's
own sentence, with the line), 409 for a conflict, 404 for an unknown build.

A build with its components (hundreds of them, each with its node) is read once
and kept until the build's row or a node of its campaign changes, as campaigns'
counts are (:mod:`discomy.web.campaigns`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Annotated, Optional
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Path as PathParam, Query, Request

from discomy.orchestration.modules import service
from discomy.web import schemas as s
from discomy.web.auth import WRITE, Principal, reader, writer
from discomy.web.context import ApiContext, context
from discomy.web.errors import ApiError, not_found

log = logging.getLogger(__name__)

PREFIX = "/api/v1/module-builds"
router = APIRouter(prefix=PREFIX, tags=["module builds"])

Id = Annotated[int, PathParam(ge=1, le=2 ** 31 - 1, description="the module build's number")]
ERRORS = {400: {"model": s.ErrorBody}, 404: {"model": s.ErrorBody},
          409: {"model": s.ErrorBody}, 503: {"model": s.ErrorBody}}
DETAILS_KEPT_SECONDS = 5.0      # bounds what a clock stepped back could leave stale
DETAILS_KEPT = 64               # module builds


def _refused(exc: Exception) -> ApiError:
    if isinstance(exc, service.ModuleNotFound):
        return not_found(str(exc))
    return ApiError(exc.status, str(exc))


def _linked(build: dict) -> dict:
    return {**build, "url": f"{PREFIX}/{build['id']}"}


def _detail(ctx: ApiContext, module_id: int, modulemd: bool) -> dict:
    """The build with its components, kept against its row's ``updated_at`` and state and
    its campaign's node version: what any change to what it shows moves."""
    try:
        row = ctx.store.modules.get(module_id)
    except KeyError:
        raise not_found(f"no module build {module_id}") from None
    campaign = ctx.store.campaign_view(row.campaign_id) if row.campaign_id else None
    version = (row.updated_at, row.state, campaign.node_version if campaign else None)
    cache = ctx.caches.setdefault("module builds", {})
    now = time.monotonic()
    held = cache.get((module_id, modulemd))
    if held and held[0] == version and now - held[1] < DETAILS_KEPT_SECONDS:
        return held[2]
    try:
        build = _linked(service.get_module_build(ctx.store, module_id, modulemd=modulemd,
                                                 weburl=ctx.config["koji"]["weburl"]))
    except service.ModuleNotFound as exc:
        raise _refused(exc) from None
    with ctx.caches.setdefault("module builds lock", threading.Lock()):
        cache[(module_id, modulemd)] = (version, now, build)
        while len(cache) > DETAILS_KEPT:
            cache.pop(next(iter(cache)), None)
    return build


# -- reads -------------------------------------------------------------------------------
@router.get("", response_model=s.ModuleBuildPage, responses=ERRORS,
            summary="List module builds, newest first")
def list_module_builds(
        request: Request,
        state: Annotated[Optional[list[s.ModuleState]], Query(
            description="one or more states (repeat the parameter)")] = None,
        name: Annotated[Optional[s.ModuleName], Query()] = None,
        stream: Annotated[Optional[s.ModuleName], Query()] = None,
        version: Annotated[Optional[s.ModuleName], Query()] = None,
        context_: Annotated[Optional[s.ModuleName], Query(alias="context")] = None,
        owner: Annotated[Optional[s.Owner], Query()] = None,
        scratch: Optional[bool] = None,
        backend: Optional[s.Backend] = None,
        page: Annotated[int, Query(ge=1, le=2 ** 31 - 1)] = 1,
        per_page: Annotated[int, Query(ge=1, le=service.MAX_PER_PAGE)] = 20,
        ctx: ApiContext = Depends(context), who: Principal = Depends(reader)):
    try:
        found = service.list_module_builds(
            ctx.store, state=state, name=name, stream=stream, version=version,
            context=context_, owner=owner, scratch=scratch, backend=backend, page=page,
            per_page=per_page)
    except service.ModuleRequestError as exc:
        raise _refused(exc) from None
    following = None
    if page < found["pages"]:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        following = f"{request.url.path}?{urlencode(query + [('page', str(page + 1))])}"
    return {**found, "items": [_linked(b) for b in found["items"]], "next": following}


@router.get("/{module_id}", response_model=s.ModuleBuildDetail, responses=ERRORS,
            summary="A module build: its batches, components (koji task links) and modulemd")
def get_module_build(module_id: Id,
                     modulemd: Annotated[bool, Query(
                         description="include the modulemd as submitted and as built")] = True,
                     ctx: ApiContext = Depends(context), who: Principal = Depends(reader)):
    return _detail(ctx, module_id, modulemd)


# -- writes ------------------------------------------------------------------------------
@router.post("", response_model=list[s.ModuleBuild], status_code=201, openapi_extra=WRITE,
             responses=ERRORS,
             summary="Submit a module build (koji module-build); one per context it expands "
                     "to, driven by discomy serve")
def submit(request: s.ModuleBuildRequest, ctx: ApiContext = Depends(context),
           who: Principal = Depends(writer)):
    with ctx.write_lock:
        try:
            builds = service.submit_module_build(
                ctx.store, ctx.config, scmurl=request.scmurl, branch=request.branch,
                modulemd=request.modulemd, filename=request.filename, scratch=request.scratch,
                owner=who.name, reuse=request.reuse, contexts=request.contexts)
        except service.ModuleRequestError as exc:
            raise _refused(exc) from None
    for build in builds:
        log.info("module build %s: %s submitted by %s (%s)", build["id"], build["nsvc"], who,
                 build["state"])
    ctx.wake_modules()
    return [_linked(b) for b in builds]


@router.patch("/{module_id}", response_model=s.ModuleBuild, openapi_extra=WRITE,
              responses=ERRORS, summary="Cancel a module build (state canceled)")
def change(module_id: Id, request: Annotated[s.ModuleBuildChange, Body()],
           ctx: ApiContext = Depends(context), who: Principal = Depends(writer)):
    with ctx.write_lock:
        try:
            build = service.cancel_module_build(ctx.store, module_id, owner=who.name)
        except (service.ModuleRequestError, service.ModuleNotFound) as exc:
            raise _refused(exc) from None
    log.info("module build %s: %s canceled by %s", build["id"], build["nsvc"], who)
    ctx.wake_modules()
    return _linked(build)
