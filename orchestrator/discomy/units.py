"""Size units and counts: the one place that parses and prints sizes, and that puts a
noun in agreement with its count.

Sizes in Discomy's data are whole MiB. Human input takes a K, M, G or T suffix
(binary multiples, as ``df -h`` and koji admins mean them); a bare number is MiB.
"""

from __future__ import annotations

import re

_FACTORS_KIB = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT])?(?:i?B)?\s*$", re.IGNORECASE)


class SizeError(ValueError):
    """A size string that is not a number with an optional K/M/G/T suffix."""


def parse_size_mb(value: "str | int | float") -> int:
    """Return ``value`` in MiB (rounded up). ``"32G"`` -> 32768, ``512`` -> 512."""
    if isinstance(value, bool):
        raise SizeError(f"size {value!r} is not a number")
    if isinstance(value, (int, float)):
        if value < 0:
            raise SizeError(f"size {value!r} is negative")
        return int(-(-value // 1))
    match = _SIZE_RE.match(str(value))
    if not match:
        raise SizeError(f"size {value!r} is not a number with an optional K, M, G or T suffix")
    number = float(match.group(1))
    suffix = (match.group(2) or "M").upper()
    kib = number * _FACTORS_KIB[suffix]
    return int(-(-kib // 1024))


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
