"""Where a campaign stands, from its nodes counted in groups (pure core).

The store counts a campaign's nodes by tier, state and failure class
(:class:`Tally`, one row per group), so a whole-distribution campaign is read
in one small query; this module turns those counts into what people ask:
how many nodes are in each state (:func:`state_counts`), per tier
(:func:`tier_counts`), failures by class (:func:`failure_counts`), and when it
will finish (:func:`eta`). Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from discomy.orchestration import campaign as cm

# nodes that will still be built without anyone's help; failed and quarantined ones
# wait for a fix, so they are not counted in the time left
OPEN = (cm.PLANNED, cm.WAITING_DEPS, cm.BUILDING, cm.WAITING_REPO, cm.GATING)


@dataclass(frozen=True)
class Tally:
    """The nodes of one tier (None: of every tier) in one state and failure class."""
    tier: Optional[int]
    state: str
    failure_class: Optional[str]
    count: int
    max_remaining_seconds: float     # the longest planned chain from one of them on
    last_update: float               # when the latest of them changed state


@dataclass(frozen=True)
class Eta:
    """When a campaign should finish. ``seconds`` is None when it cannot be told
    (``basis`` says why); else the larger of two bounds: ``critical_path_seconds``,
    the longest planned chain still open (builds take at least that long, however
    many builders there are), and ``rate_seconds``, the open nodes at the pace nodes
    have been done so far (None before the first is done)."""
    seconds: Optional[float]
    critical_path_seconds: Optional[float]
    rate_seconds: Optional[float]
    basis: str

    def to_dict(self, now: float) -> dict:
        r = (lambda v: None if v is None else round(v, 1))
        return {"seconds": r(self.seconds), "finish_at": r(None if self.seconds is None
                                                          else now + self.seconds),
                "critical_path_seconds": r(self.critical_path_seconds),
                "rate_seconds": r(self.rate_seconds), "basis": self.basis}


def state_counts(tallies: Iterable[Tally]) -> dict:
    """``state -> count``, every node state present (0 when none), plus ``total``."""
    counts = {state: 0 for state in cm.NODE_STATES}
    for t in tallies:
        counts[t.state] = counts.get(t.state, 0) + t.count
    counts["total"] = sum(v for k, v in counts.items())
    return counts


def tier_counts(tallies: Iterable[Tally]) -> list:
    """One entry per tier, lowest first: ``{"tier", "total", "counts": {state: n}}``."""
    tiers: dict = {}
    for t in tallies:
        tiers.setdefault(t.tier, {})
        tiers[t.tier][t.state] = tiers[t.tier].get(t.state, 0) + t.count
    return [{"tier": tier, "total": sum(counts.values()), "counts": counts}
            for tier, counts in sorted(tiers.items())]


def failure_counts(tallies: Iterable[Tally]) -> dict:
    """Failed nodes by failure class (``infrastructure``, ``package``)."""
    out: dict = {}
    for t in tallies:
        if t.state == cm.FAILED:
            key = t.failure_class or cm.PACKAGE
            out[key] = out.get(key, 0) + t.count
    return out


def eta(tallies: Iterable[Tally], state: str, started_at: float) -> Eta:
    """When the campaign (in campaign ``state``, recorded at ``started_at``) should be
    done, from its counts; see :class:`Eta`."""
    tallies = list(tallies)
    if state in (cm.DONE, cm.CANCELLED):
        return Eta(None, None, None, f"the campaign is {state}")
    open_ = [t for t in tallies if t.state in OPEN]
    left = sum(t.count for t in open_)
    if left == 0:
        stuck = sum(t.count for t in tallies if t.state in (cm.FAILED, cm.QUARANTINED))
        if stuck:
            return Eta(None, None, None, f"{stuck} nodes wait for a fix")
        return Eta(0.0, 0.0, None, "nothing is left to build")
    critical = max(t.max_remaining_seconds or 0.0 for t in open_)
    done = [t for t in tallies if t.state == cm.DONE]
    finished = sum(t.count for t in done)
    rate = None
    if finished:
        span = max(t.last_update for t in done) - started_at
        if span > 0:
            rate = left * span / finished
    basis = "the longest planned chain still open" if rate is None or critical >= rate \
        else f"the pace so far ({finished} done)"
    if state == cm.PAUSED:
        basis += "; the campaign is paused"
    return Eta(max(critical, rate or 0.0), critical, rate, basis)
