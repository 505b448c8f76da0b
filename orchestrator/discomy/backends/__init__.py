"""Build backends: where a campaign's builds run (shells).

A backend offers ``build(name) -> BuildOutcome`` (submit and wait),
``lookup(name) -> nvr | None`` (was it already built? asked before any
resubmission, so a restart never builds twice) and ``publish()`` (make the
finished builds visible to the next ones: a repo regeneration).
"""

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class BuildOutcome:
    ok: bool
    nvr: Optional[str] = None
    error: str = ""


class HubUnavailable(RuntimeError):
    """The build system did not answer after every retry: the campaign pauses, it does not fail."""
