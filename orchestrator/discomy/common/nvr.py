"""Package names out of NVRs and SRPM file names, with koji's own parsers.

``koji.parse_NVR`` and ``koji.parse_NVRA`` are what koji itself reads builds and
rpms with, so Discomy names a package exactly as koji does; anything they refuse
(or a name left empty) is None here, never an exception.
"""

from __future__ import annotations

from typing import Optional


def name_of_nvr(text: str) -> Optional[str]:
    """``"zlib-1.3-2.el9"`` -> ``"zlib"``; None when ``text`` is not an NVR."""
    import koji  # here, not above: koji costs a tenth of a second to import

    try:
        return koji.parse_NVR(str(text))["name"] or None
    except koji.GenericError:
        return None


def name_of_srpm(filename: str) -> Optional[str]:
    """``"llvm-17.0.6-1.el9.src.rpm"`` -> ``"llvm"``; None for anything but a source rpm."""
    import koji

    try:
        info = koji.parse_NVRA(str(filename))
    except koji.GenericError:
        return None
    return (info["name"] or None) if info.get("src") else None
