"""Size units and counts: the one place that parses and prints sizes, and that puts a
noun in agreement with its count.

Sizes in Discomy's data are whole MiB. Human input takes a K, M, G or T suffix
(binary multiples, as ``df -h`` and koji admins mean them); a bare number is MiB.
A size is at most 1 EiB (:data:`MAX_SIZE_MB`): anything larger is a typo.

Also the short form of an input value in an error message (:func:`short_repr`).
"""

from __future__ import annotations

import math
import re

_FACTORS_KIB = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT])?(?:i?B)?\s*$", re.IGNORECASE)
MAX_SIZE_MB = 1024 ** 4


class SizeError(ValueError):
    """A size string that is not a number with an optional K/M/G/T suffix."""


def parse_size_mb(value: "str | int | float") -> int:
    """Return ``value`` in MiB (rounded up). ``"32G"`` -> 32768, ``512`` -> 512."""
    if isinstance(value, bool):
        raise SizeError(f"size {value!r} is not a number")
    if isinstance(value, (int, float)):
        if value < 0:
            raise SizeError(f"size {short_repr(value)} is negative")
        return _checked(value, value)
    match = _SIZE_RE.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise SizeError(f"size {short_repr(value)} is not a number with an optional K, M, G "
                        "or T suffix")
    number = float(match.group(1))
    suffix = (match.group(2) or "M").upper()
    return _checked(value, number * _FACTORS_KIB[suffix] / 1024)


def _checked(value, mb) -> int:
    # NaN and infinity fail this too: neither rounds to a whole MiB
    if not (isinstance(mb, int) or math.isfinite(mb)) or mb > MAX_SIZE_MB:
        raise SizeError(f"size {short_repr(value)} is not a size up to 1 EiB")
    return int(-(-mb // 1))


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)`` on one short line, for an error message about outside input."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):     # an int too long to print, a nested monster
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def format_size_mb(mb: "int | float | None") -> str:
    """Print MiB for people: ``32768`` -> ``"32 GiB"``; ``None`` (unknown) -> ``"?"``."""
    if mb is None:
        return "?"
    value = float(mb)
    for unit in ("MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def count(n: int, noun: str, plural: "str | None" = None) -> str:
    """``n`` and its noun in agreement: ``count(1, "build cycle")`` -> ``"1 build cycle"``,
    ``count(2, "build cycle")`` -> ``"2 build cycles"``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
