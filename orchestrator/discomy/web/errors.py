"""Every error the API gives is one JSON object: ``{"status", "error", "problems"?}``.

``error`` is one sentence a person can act on; ``problems`` lists each invalid
field of a request (``where``, ``message``). Routers raise :class:`ApiError`;
:func:`install` turns it, FastAPI's validation errors, Starlette's HTTP errors
(unknown path, wrong method), a store or koji that is away (503) and anything
unexpected (500, logged with its traceback) into that shape.
"""

from __future__ import annotations

import logging
from typing import Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, error: str, headers: Optional[dict] = None):
        super().__init__(error)
        self.status, self.error, self.headers = status, error, headers


def not_found(error: str) -> ApiError:
    return ApiError(404, error)


def conflict(error: str) -> ApiError:
    return ApiError(409, error)


def bad_request(error: str) -> ApiError:
    return ApiError(400, error)


def unavailable(error: str, retry_after: int = 30) -> ApiError:
    return ApiError(503, error, {"Retry-After": str(retry_after)})


def body(status: int, error: str, problems: Optional[list] = None) -> dict:
    out = {"status": status, "error": error}
    if problems is not None:
        out["problems"] = problems
    return out


def response(status: int, error: str, problems: Optional[list] = None,
             headers: Optional[dict] = None) -> JSONResponse:
    return JSONResponse(body(status, error, problems), status_code=status, headers=headers)


def _where(loc) -> str:
    return ".".join(str(part) for part in loc) or "request"


def _problems(exc: RequestValidationError) -> list:
    out = []
    for problem in exc.errors():
        # the message only: the input may be large, or what the client should not see echoed
        message = str(problem.get("msg", "invalid"))
        if problem.get("type") == "value_error":
            message = message.removeprefix("Value error, ")      # our own sentence
        if problem.get("type") == "json_invalid":
            message = f"not valid JSON ({(problem.get('ctx') or {}).get('error', 'decode error')})"
        out.append({"where": _where(problem.get("loc", ())), "message": message[:300]})
    return out


def install(app: FastAPI) -> None:
    from discomy.orchestration.store import StoreError, first_line, unavailable as away

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return response(exc.status, exc.error, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        problems = _problems(exc)
        summary = "; ".join(f"{p['where']}: {p['message']}" for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return response(422, f"invalid request: {summary}{more}", problems)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        error = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and error == "Not Found":
            error = f"no such path: {request.url.path[:200]}"
        elif exc.status_code == 405:
            error = f"{request.method} is not allowed on {request.url.path[:200]}"
        return response(exc.status_code, error, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        if isinstance(exc, StoreError) or (away(exc)):
            log.warning("%s %s: the store is unavailable: %s", request.method,
                        request.url.path, first_line(exc))
            return response(503, f"the store is unavailable: {first_line(exc)}",
                            headers={"Retry-After": "10"})
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return response(500, "internal error; the server's log has the details")
