"""The dashboard's login: a signed session cookie, and its CSRF token.

Logging in takes an API token (``discomy token create``); the server then sets a
cookie ``discomy_session`` (HttpOnly, SameSite=Strict, Secure over HTTPS) that
holds, signed with HMAC-SHA256 under the server's secret, the token's digest,
its name, an expiry and a random CSRF nonce. The cookie is worth no more than
the token: each request looks the digest up again, so a revoked token logs its
sessions out at once. The token itself is never kept.

A cookie (like a front end's Kerberos negotiation) is sent by the browser on
its own, so every form that changes something carries the session's CSRF token
(proxy users: one derived from their name), checked on POST beside the
``Origin`` header, which must name this server.

The secret is ``[api] session_secret_file`` (shared by every ``discomy api``
behind one front end); without one, a random secret per process (logins last
until it restarts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

COOKIE = "discomy_session"
LIFETIME_SECONDS = 12 * 3600
MIN_SECRET_BYTES = 16


class SecretError(ValueError):
    """The secret file cannot be used; the message says why."""


def load_secret(path: str) -> bytes:
    """The session secret: the file's content, or a random one when no file is named."""
    if not path:
        return secrets.token_bytes(32)
    try:
        with open(path, "rb") as f:
            secret = f.read().strip()
    except OSError as exc:
        raise SecretError(f"[api] session_secret_file {path}: {exc.strerror or exc}") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretError(f"[api] session_secret_file {path}: fewer than {MIN_SECRET_BYTES} "
                          f"bytes (make one with: head -c 32 /dev/urandom | base64)")
    return secret


@dataclass(frozen=True)
class Session:
    digest: str          # the token's SHA-256, as the store keeps it
    name: str            # the token's name
    expires: float
    csrf: str


def _sign(secret: bytes, payload: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret, payload, hashlib.sha256).digest()) \
        .decode().rstrip("=")


def make_cookie(secret: bytes, digest: str, name: str, now: Optional[float] = None) -> tuple:
    """``(cookie value, Session)`` for a token just checked."""
    now = time.time() if now is None else now
    session = Session(digest, name, now + LIFETIME_SECONDS, secrets.token_urlsafe(24))
    payload = json.dumps({"d": digest, "n": name, "x": session.expires, "c": session.csrf},
                         separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_sign(secret, payload)}", session


def read_cookie(secret: bytes, value: Optional[str], now: Optional[float] = None) \
        -> Optional[Session]:
    """The session a cookie holds, or None when it is missing, forged or expired."""
    if not value or len(value) > 4096 or value.count(".") != 1:
        return None
    body, signature = value.split(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(_sign(secret, payload), signature):
        return None
    try:
        data = json.loads(payload)
        session = Session(str(data["d"]), str(data["n"]), float(data["x"]), str(data["c"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires < (time.time() if now is None else now):
        return None
    return session


def proxy_csrf(secret: bytes, user: str) -> str:
    """The CSRF token of a user a trusted front end names (no cookie of ours)."""
    return _sign(secret, b"csrf\0" + user.encode("utf-8", "surrogatepass"))


def same_origin(origin: Optional[str], referer: Optional[str], host: Optional[str]) -> bool:
    """Whether a POST comes from a page of this server: its ``Origin`` (else its
    ``Referer``) names the ``Host`` it was sent to. Neither header: refused (every
    browser that runs the dashboard sends Origin on a POST)."""
    source = origin if origin and origin != "null" else referer
    if not source or not host:
        return False
    try:
        return urlsplit(source).netloc.lower() == host.lower()
    except ValueError:
        return False
