"""Which build goes first: the release order and the koji priority of a campaign's
builds (pure core). The orchestrator's engine submits with these, and the estimator
simulates with the same functions, so an estimate is of what is deployed.

A build's urgency is the longest chain of builds that starts with it, each build
counted with ``BUILD_OVERHEAD_SECONDS`` of koji's own time around it (a chain of
many short builds is long in koji), against the longest chain not yet submitted
when it is submitted: the builds that decide the campaign's end are always the most
urgent in koji's queue, early and late.
"""

from __future__ import annotations

from typing import Mapping


# koji's time around each build that no faster host shortens: its five scheduler passes
# (RunInterval 60 s: the build task, SRPM, buildArch, tagBuild, the newRepo and its
# createrepo) and a repo regeneration (kojihub/scheduler.py, kojihub/repos.py)
BUILD_OVERHEAD_SECONDS = 600.0


def release_key(remaining_seconds: float, tier: int, name: str) -> tuple:
    """Sort key of ready builds: the longest remaining chain first."""
    return (-remaining_seconds, tier, name)


def koji_priority(remaining_seconds: float, longest_seconds: float, low: int = 20,
                  high: int = 10) -> int:
    """Longer remaining chain -> lower (more urgent) koji priority number, from ``low``
    (the least urgent, for a chain of length 0) to ``high`` (the longest chain)."""
    best, worst = high, low
    if longest_seconds <= 0:
        return worst
    share = min(max(remaining_seconds / longest_seconds, 0.0), 1.0)
    return int(round(worst - share * (worst - best)))


def koji_priorities(remaining: Mapping[str, float], high: int = 10, low: int = 30) -> dict:
    """Koji priority of every build: the longest remaining chain gets ``high``."""
    longest = max(remaining.values(), default=0.0)
    return {name: koji_priority(seconds, longest, low, high)
            for name, seconds in remaining.items()}




def open_longest(remaining: Mapping[str, float], open_names) -> float:
    """The longest chain among the builds not submitted yet (those being submitted
    included): the scale of :func:`koji_priority` when they are submitted. A build
    already in koji no longer competes for a place in its queue."""
    return max((remaining[n] for n in open_names), default=0.0)
