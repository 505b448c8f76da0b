"""Settings sections as frozen dataclasses: the one place unknown keys are refused."""

from __future__ import annotations

from typing import Any, Mapping


def check_keys(cls: type, data: Mapping[str, Any], where: str, error: type) -> dict:
    """``data`` as a dict, after refusing keys ``cls`` (a dataclass) does not have."""
    if not isinstance(data, Mapping):
        raise error(f"{where}: expected a table of settings")
    unknown = sorted(set(data) - set(cls.__dataclass_fields__))
    if unknown:
        raise error(f"{where}: unknown key(s) {', '.join(unknown)}")
    return dict(data)
