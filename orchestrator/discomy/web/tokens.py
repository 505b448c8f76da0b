"""API tokens: made here, kept hashed in the store (``discomy token``), checked by
:mod:`discomy.web.auth`.

A token is 32 random bytes (URL-safe base64) after the prefix ``dsy_``, so a
leaked one is recognisable in logs and by secret scanners. Only its SHA-256
digest is stored: a token is random and long, so a fast hash is as good as a
slow one and lets every request be checked with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "dsy_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# what a token may look like before it is hashed: anything else is refused unread
SHAPE = re.compile(r"[A-Za-z0-9._~+/=-]{1,200}")


def new_token() -> tuple:
    """``(token, digest)``: the token to show once, the digest to keep."""
    token = PREFIX + secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def name_problem(name: str) -> "str | None":
    """Why ``name`` cannot name a token, or None."""
    if NAME.fullmatch(name):
        return None
    return (f"{name[:80]!r} is not a token name: 1 to 64 letters, digits and . _ @ -, "
            f"starting with a letter or digit")
