"""Who is asking: API tokens and a trusted front end's user header.

Every write needs a :class:`Principal`; reads need one only with ``[api]
reads_public = false``. A principal comes from, in this order:

1. ``Authorization: Bearer TOKEN``: a token made by ``discomy token create``,
   looked up by its digest (:mod:`discomy.web.tokens`) and not revoked;
2. the ``[api] proxy_user_header`` (e.g. ``X-Remote-User``) that a front end doing
   Kerberos or OIDC sets, believed only when the TCP peer is one of ``[api]
   trusted_proxies``; the same header from anyone else is refused, never ignored.

A request without either is anonymous. A credential that is given but wrong is a
401 even where none is needed, so a typo never passes for anonymous.

Cross-site requests: a token is never read from a cookie or the query string, so a
browser never sends one on its own. A front end's Kerberos negotiation, though, a
browser does on its own (an *ambient* credential), as it would a session cookie
of a future dashboard login: a write made with one must be a JSON request
(``Content-Type: application/json``), which a browser sends to another site only
after a CORS preflight that this API never grants. :func:`writer` is the one
place that rule lives; a cookie login added later is an ambient principal too.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Optional

from fastapi import Depends, Request

from discomy.web import tokens
from discomy.web.context import ApiContext, context
from discomy.web.errors import ApiError

log = logging.getLogger(__name__)

TOUCH_SECONDS = 60.0        # a token's last use is written at most this often
MAX_USER = 255


@dataclass(frozen=True)
class Principal:
    name: str               # the token's name, or the user the front end names
    via: str                # "token", "proxy" or "anonymous"

    @property
    def ambient(self) -> bool:
        """A credential the browser adds by itself (see the module's docstring)."""
        return self.via == "proxy"

    def __str__(self) -> str:
        return f"{self.via} {self.name}" if self.via != "anonymous" else "anonymous"


ANONYMOUS = Principal("anonymous", "anonymous")
# openapi_extra of a route that writes: the document says it needs the token
WRITE = {"security": [{"bearer": []}]}
_touch_lock = threading.Lock()


def _refuse(ctx: ApiContext, reason: str, error: str) -> ApiError:
    if ctx.metrics:
        ctx.metrics.auth_failures.labels(reason=reason).inc()
    return ApiError(401, error, {"WWW-Authenticate": 'Bearer realm="discomy"'})


def principal(request: Request, ctx: ApiContext = Depends(context)) -> Principal:
    """The request's principal, anonymous when it names none; 401 for a wrong one."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _refuse(ctx, "malformed", "the Authorization header must be "
                                            "'Bearer TOKEN' (a token from discomy token create)")
        found = ctx.store.token_by_digest(tokens.digest(token)) \
            if tokens.SHAPE.fullmatch(token) else None
        if found is None:
            raise _refuse(ctx, "unknown-token", "the token is not known or was revoked")
        _touch(ctx, found[0])
        return Principal(found[1], "token")
    name = ctx.settings.proxy_user_header
    if name and name in request.headers:
        peer = request.client.host if request.client else None
        if not ctx.settings.trusts(peer):
            raise _refuse(ctx, "untrusted-proxy", f"the {name} header is believed only from "
                                                  f"a trusted proxy, and {peer} is not one")
        user = request.headers[name].strip()
        if not user or len(user) > MAX_USER or not user.isprintable():
            raise _refuse(ctx, "malformed", f"the {name} header names no user")
        return Principal(user, "proxy")
    return ANONYMOUS


async def reader(ctx: ApiContext = Depends(context),
                 who: Principal = Depends(principal)) -> Principal:
    """A read: anyone when reads are public, else a principal."""
    if who is ANONYMOUS and not ctx.settings.reads_public:
        raise _refuse(ctx, "anonymous", "reading needs a token (Authorization: Bearer TOKEN)")
    return who


async def writer(request: Request, ctx: ApiContext = Depends(context),
                 who: Principal = Depends(principal)) -> Principal:
    """A write: a principal, and a JSON request when its credential is ambient."""
    if who is ANONYMOUS:
        raise _refuse(ctx, "anonymous", "this needs a token (Authorization: Bearer TOKEN)")
    if who.ambient:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise ApiError(415, "a write needs Content-Type: application/json")
    return who


def _touch(ctx: ApiContext, token_id: int) -> None:
    now = time.time()
    with _touch_lock:
        touched = ctx.caches.setdefault("tokens touched", {})
        if now - touched.get(token_id, 0.0) < TOUCH_SECONDS:
            return
        touched[token_id] = now
    try:
        ctx.store.token_used(token_id, now)
    except Exception as exc:      # a read must not fail for want of a bookkeeping write
        log.warning("token %s: its last use not recorded: %s", token_id, exc)
