"""A rebuild campaign as a state machine (pure core).

Node states, as a release engineer reads them:

``planned`` -> ``building`` -> ``waiting-repo`` -> ``gating`` -> ``done``;
``failed`` (a package failure), ``quarantined`` (a dependency failed).

The engine writes every transition to the store before its side effect; the
functions here only decide. Release is ``per-tier`` (a node goes when every
node of the earlier tiers is settled, like MBS and ``koji chain-build``) or
``per-edge`` (a node goes as soon as its own release edges are done).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Optional

PLANNED = "planned"
BUILDING = "building"
WAITING_REPO = "waiting-repo"
GATING = "gating"
DONE = "done"
FAILED = "failed"
QUARANTINED = "quarantined"
NODE_STATES = (PLANNED, BUILDING, WAITING_REPO, GATING, DONE, FAILED, QUARANTINED)
IN_FLIGHT = (BUILDING, WAITING_REPO, GATING)
SETTLED = (DONE, FAILED, QUARANTINED)
RELEASE_MODES = ("per-tier", "per-edge")

INFRASTRUCTURE = "infrastructure"
PACKAGE = "package"
# failures that say nothing about the package: retried
_INFRA_PATTERNS = re.compile(
    r"mock exited with status (?:30|20)|buildroot|timed? ?out|host .*(died|unreachable|lost)|"
    r"no space left|connection (?:reset|refused)|cannot allocate memory|"
    r"failed to (?:download|install) .*packages|server restart",
    re.IGNORECASE)


@dataclass(frozen=True)
class Node:
    name: str
    tier: int
    deps: tuple
    remaining_seconds: float = 0.0
    state: str = PLANNED
    attempts: int = 0
    failure_class: Optional[str] = None
    reason: str = ""


def classify_failure(error: str) -> str:
    """``infrastructure`` (retry) or ``package`` (the package's own fault)."""
    return INFRASTRUCTURE if _INFRA_PATTERNS.search(error or "") else PACKAGE


def releasable(nodes: Mapping[str, Node], release: str, max_in_flight: int) -> list:
    """Names to submit now, longest remaining chain first, within the in-flight cap."""
    if release not in RELEASE_MODES:
        raise ValueError(f"unknown release mode {release!r}")
    in_flight = sum(1 for n in nodes.values() if n.state in IN_FLIGHT)
    room = max(0, max_in_flight - in_flight)
    if release == "per-tier":
        unsettled = [n.tier for n in nodes.values() if n.state not in SETTLED]
        open_tier = min(unsettled) if unsettled else None
    candidates = []
    for node in nodes.values():
        if node.state != PLANNED:
            continue
        if any(nodes[d].state != DONE for d in node.deps if d in nodes):
            continue
        if release == "per-tier" and node.tier != open_tier:
            continue
        candidates.append(node)
    candidates.sort(key=lambda n: (-n.remaining_seconds, n.tier, n.name))
    return [n.name for n in candidates[:room]]


def dependents(nodes: Mapping[str, Node], name: str) -> set:
    """Every node that transitively waits for ``name``."""
    users: dict = {}
    for node in nodes.values():
        for d in node.deps:
            users.setdefault(d, []).append(node.name)
    found, stack = set(), [name]
    while stack:
        for user in users.get(stack.pop(), ()):
            if user not in found:
                found.add(user)
                stack.append(user)
    return found


def after_failure(nodes: Mapping[str, Node], name: str, error: str, max_retries: int) -> dict:
    """State changes after ``name`` failed: retry an infrastructure failure, else fail it
    and quarantine only its dependents (the rest of the campaign goes on)."""
    node = nodes[name]
    failure = classify_failure(error)
    if failure == INFRASTRUCTURE and node.attempts < max_retries:
        return {name: replace(node, state=PLANNED, failure_class=failure, reason=error)}
    changes = {name: replace(node, state=FAILED, failure_class=failure, reason=error)}
    for user in dependents(nodes, name):
        if nodes[user].state in (PLANNED,) + IN_FLIGHT:
            changes[user] = replace(nodes[user], state=QUARANTINED,
                                    reason=f"waits for {name}, which failed")
    return changes


def after_resume(nodes: Mapping[str, Node], name: str) -> dict:
    """State changes once a fixed build of the failed ``name`` is in the buildroot:
    it is done, and its quarantined dependents with no other failed dependency go back."""
    changes = {name: replace(nodes[name], state=DONE, failure_class=None, reason="fixed build")}
    still_failed = {n.name for n in nodes.values() if n.state == FAILED and n.name != name}
    blocked = set().union(*(dependents(nodes, f) for f in still_failed)) if still_failed else set()
    for user in dependents(nodes, name):
        if nodes[user].state == QUARANTINED and user not in blocked:
            changes[user] = replace(nodes[user], state=PLANNED, reason="")
    return changes


def campaign_state(nodes: Iterable[Node]) -> str:
    states = [n.state for n in nodes]
    if any(s not in SETTLED for s in states):
        return "running"
    return "done" if all(s == DONE for s in states) else "failed"


def koji_priority(remaining_seconds: float, longest: float, low: int = 20, high: int = 10) -> int:
    """Longer remaining chains get a lower (sooner) koji priority number."""
    if longest <= 0:
        return low
    return int(round(low - (low - high) * min(1.0, remaining_seconds / longest)))
