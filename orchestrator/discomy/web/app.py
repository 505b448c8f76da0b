"""The application: routers, errors, limits, metrics and the OpenAPI document.

:func:`create_app` builds one FastAPI application over a store and the
orchestrator config. The routers it mounts are the modules named in
:data:`ROUTER_MODULES`, each exposing ``router`` (a FastAPI ``APIRouter`` with
its own ``/api/v1/...`` prefix) whose handlers take ``Depends(context)`` for the
store and config, and ``Depends(reader)`` or ``Depends(writer)`` for who asks
(:mod:`discomy.web.auth`); they raise :class:`discomy.web.errors.ApiError` for
a 4xx. Adding a group of endpoints is one such module and one line here.

With ``[[webhooks.repos]]`` configured, the forge webhooks' worker
(:class:`discomy.orchestration.webhooks.service.WebhookService`) starts with the
application, on ``ctx.webhooks``.

Around every router: a request body above ``[api] max_body_bytes`` is a 413
before it is read whole, every error is the JSON of :mod:`discomy.web.errors`,
requests are counted and timed for ``/metrics``, and ``/openapi.json`` says so.
"""

from __future__ import annotations

import importlib
from typing import Callable, Optional

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from discomy import __version__
from discomy.web import errors
from discomy.web import schemas as s
from discomy.web.auth import Principal, reader
from discomy.web.context import ApiContext, ApiSettings, context
from discomy.web.metrics import ApiMetrics, MetricsMiddleware

ROUTER_MODULES = (
    "discomy.web.campaigns",
    "discomy.web.hosts",
    "discomy.web.modules",
    "discomy.web.webhooks",
)

DESCRIPTION = """Discomy's orchestrator: rebuild campaigns, module builds and koji's fleet.

Reads are public unless the server says otherwise; every write needs
`Authorization: Bearer TOKEN` (a token from `discomy token create`) or a
trusted front end's user header. Every error is a JSON object with `status`,
`error` (one sentence) and, for invalid fields, `problems`.
"""


def create_app(store, config: dict, session_factory: Optional[Callable] = None,
               write_lock=None, wake: Optional[Callable[[int], None]] = None,
               wake_modules: Optional[Callable[[], None]] = None,
               routers=ROUTER_MODULES, dashboard: bool = True,
               admin_session_factory: Optional[Callable] = None) -> FastAPI:
    """The API over ``store`` (a :class:`discomy.orchestration.store.Store`) and ``config``
    (the orchestrator config, checked). ``session_factory`` makes koji sessions (default:
    from ``[koji]``); ``write_lock`` and ``wake`` come from the daemon when it serves
    the API too, as do ``wake_modules`` (:mod:`discomy.web.context`). ``dashboard``: the
    web pages at ``/`` (:mod:`discomy.web.dashboard`) besides the API."""
    settings = ApiSettings.from_config(config)
    metrics = ApiMetrics.create()
    app = FastAPI(title="Discomy", version=__version__, description=DESCRIPTION,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)
    ctx = ApiContext(store, config, settings, session_factory=session_factory,
                     admin_session_factory=admin_session_factory, metrics=metrics)
    if write_lock is not None:
        ctx.write_lock = write_lock
    if wake is not None:
        ctx.wake = wake
    if wake_modules is not None:
        ctx.wake_modules = wake_modules
    app.state.context = ctx
    if config["webhooks"]["repos"]:
        ctx.webhooks = _webhook_service(ctx, session_factory)
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(_service_routes(settings))
    for name in routers:     # the dashboard's pages answer a bad number with a page of their own
        app.include_router(importlib.import_module(name).router,
                           dependencies=[Depends(_numbers_in_path)])
    if dashboard:
        from discomy.web import dashboard as pages

        pages.install(app, ctx)
    app.openapi = lambda: _openapi(app)
    return app


def _webhook_service(ctx: ApiContext, session_factory: Optional[Callable]):
    """The forge webhooks' worker, started: it builds in this process, off the requests."""
    from discomy.orchestration.runner import side_services
    from discomy.orchestration.webhooks.service import WebhookService

    _, notifier = side_services(ctx.config)
    return WebhookService(ctx.store, ctx.config, session_factory=session_factory,
                          notifier=notifier, wake=lambda campaign_id: ctx.wake(campaign_id),
                          write_lock=ctx.write_lock).start()


async def _numbers_in_path(request: Request) -> None:
    """A number in a path (``/campaigns/{campaign_id}``) is its digits alone: pydantic
    would also read `` 4`` or ``+4`` as 4, and one object would answer to many paths."""
    for name, value in request.path_params.items():
        if name.endswith("_id") and not (value.isascii() and value.isdigit()):
            raise errors.ApiError(422, f"invalid request: path.{name}: must be a whole "
                                       f"number written in digits")


def _service_routes(settings: ApiSettings):
    from fastapi import APIRouter

    router = APIRouter(tags=["service"])

    @router.get("/api/v1", response_model=s.Index, summary="What this service offers")
    def index(who: Principal = Depends(reader)):
        return {"service": "discomy", "version": __version__,
                "links": {"campaigns": "/api/v1/campaigns", "hosts": "/api/v1/hosts",
                          "module_builds": "/api/v1/module-builds",
                          "health": "/api/v1/health", "openapi": "/openapi.json",
                          "metrics": "/metrics"}}

    @router.get("/api/v1/health", response_model=s.Health,
                summary="The service and its store answer (public)",
                responses={503: {"model": s.ErrorBody}})
    def health(ctx: ApiContext = Depends(context)):
        ctx.store.campaign_page(1)          # one small read: the store answers
        return {"status": "ok", "store": ctx.store.url}

    if settings.metrics:
        @router.get("/metrics", include_in_schema=False)
        def metrics(ctx: ApiContext = Depends(context), who: Principal = Depends(reader)):
            from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

            return Response(generate_latest(ctx.metrics.registry),
                            media_type=CONTENT_TYPE_LATEST)

    return router


# -- request size --------------------------------------------------------------------------
class TooLarge(HTTPException):
    """Raised from inside the body's reading, where FastAPI passes HTTP errors on."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimit:
    """Refuses a body above ``max_bytes``: by its Content-Length at once, and while it
    is read when it comes in chunks, so a large one is never held whole."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for key, value in scope["headers"]:
            if key == b"content-length":
                refusal = None
                if not value.isdigit():
                    refusal = errors.response(400, "Content-Length is not a number")
                elif int(value) > self.max_bytes:
                    refusal = errors.response(413, f"the request body is larger than "
                                                   f"{self.max_bytes} bytes")
                if refusal is not None:
                    return await refusal(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)


# -- the OpenAPI document --------------------------------------------------------------------
def _openapi(app: FastAPI) -> dict:
    """FastAPI's document, saying what every route may answer: the error body for 400,
    401, 404, 413, 422 (instead of FastAPI's own shape), 503; the bearer token on
    writes."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description,
                      routes=app.routes)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(s.ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
                   .pop("$defs", {}))
    schemas["ErrorBody"] = {k: v for k, v in s.ErrorBody.model_json_schema(
        ref_template="#/components/schemas/{model}").items() if k != "$defs"}
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    components["securitySchemes"] = {"bearer": {
        "type": "http", "scheme": "bearer",
        "description": "a token from `discomy token create`"}}
    error = {"description": "an error", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            answers = op.setdefault("responses", {})
            codes = ["400", "401", "422", "503"]
            if "{" in path:
                codes.append("404")
            if "requestBody" in op:
                codes.append("413")
            if method in ("post", "patch") and "security" in op:
                codes += ["409", "415"]
            for code in codes:
                answers[code] = dict(error)
            # reads: a token is welcome, not needed (unless the server says so)
            op.setdefault("security", [{}, {"bearer": []}])
    app.openapi_schema = doc
    return doc
