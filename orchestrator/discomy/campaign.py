"""Rebuild campaigns as a state machine (pure core).

A campaign is the rebuild of one plan. Each node (a source package to rebuild)
moves through states a release engineer names:

- ``planned``: released to build as soon as a slot is free (its dependencies
  are built and in the buildroot repo);
- ``waiting-deps``: some dependency (or, per tier, an earlier tier) is not done;
- ``building``: submitted to the build system (or about to be: the submission
  intent is recorded first);
- ``waiting-repo``: built, waiting for the buildroot repo to contain it;
- ``gating``: in the repo, waiting for the CI gate;
- ``done``: built, in the repo, and gated;
- ``failed``: a package failure (build or gate), or infrastructure retries used up;
- ``quarantined``: a (transitive) dependency failed; goes back to ``planned``
  when that dependency is resolved.

Campaign states: ``running``, ``paused``, ``done``, ``failed``, ``cancelled``.
Every decision is a function of frozen values; the engine and the store do I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Iterable, Mapping, Optional

PLANNED = "planned"
WAITING_DEPS = "waiting-deps"
BUILDING = "building"
WAITING_REPO = "waiting-repo"
GATING = "gating"
DONE = "done"
FAILED = "failed"
QUARANTINED = "quarantined"
NODE_STATES = (PLANNED, WAITING_DEPS, BUILDING, WAITING_REPO, GATING, DONE, FAILED, QUARANTINED)
IN_FLIGHT = (BUILDING, WAITING_REPO, GATING)
ACTIVE = IN_FLIGHT
SETTLED = (DONE, FAILED, QUARANTINED)
UNSTARTED = frozenset({PLANNED, WAITING_DEPS, QUARANTINED})

RUNNING = "running"
PAUSED = "paused"
CANCELLED = "cancelled"
CAMPAIGN_STATES = (RUNNING, PAUSED, DONE, FAILED, CANCELLED)

PER_TIER = "per-tier"
PER_EDGE = "per-edge"
RELEASE_MODES = (PER_TIER, PER_EDGE)

INFRASTRUCTURE = "infrastructure"
PACKAGE = "package"


class CampaignError(ValueError):
    """A transition that does not apply to the node's current state."""


@dataclass(frozen=True)
class Node:
    name: str
    tier: int
    deps: tuple = ()
    remaining_seconds: float = 0.0
    state: str = PLANNED
    attempts: int = 0
    failure_class: Optional[str] = None
    reason: str = ""
    task: Optional[str] = None          # the build system's reference of the current attempt
    nvr: Optional[str] = None
    repo_wait: Optional[str] = None     # the repo request a built node waits for
    gate_since: Optional[float] = None  # when its CI gate started


@dataclass(frozen=True)
class Limits:
    """In-flight caps and retry budget."""
    max_in_flight: int = 10            # per campaign
    max_in_flight_global: int = 50     # across all campaigns
    max_infra_retries: int = 3         # infrastructure failures retried this many times
    priority_range: tuple = (10, 30)   # koji priority numbers: (most urgent, least urgent)


@dataclass(frozen=True)
class Campaign:
    id: str
    nodes: Mapping[str, Node]
    release: str = PER_TIER
    state: str = RUNNING
    gate: bool = False
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self):
        if self.release not in RELEASE_MODES:
            raise CampaignError(f"unknown release mode {self.release!r}: use per-tier or per-edge")
        if not isinstance(self.nodes, MappingProxyType):
            object.__setattr__(self, "nodes", MappingProxyType(dict(self.nodes)))

    def count(self, *states: str) -> int:
        return sum(1 for n in self.nodes.values() if n.state in states)


@dataclass(frozen=True)
class TaskResult:
    """What the build system says about a finished build task (koji-like)."""
    ok: bool
    nvr: Optional[str] = None
    error: str = ""


def campaign_from_plan(campaign_id: str, plan, release: str = PER_TIER, gate: bool = False,
                       limits: Optional[Limits] = None) -> Campaign:
    """A fresh campaign over every affected node of a :class:`discomy.planner.Plan`."""
    nodes = {}
    for name in plan.affected:
        p = plan.nodes[name]
        nodes[name] = Node(name, int(p.tier), tuple(p.deps), float(p.remaining_seconds))
    return settle(Campaign(campaign_id, nodes, release, gate=gate, limits=limits or Limits()))


# ---- decisions ------------------------------------------------------------------------------

def deps_done(c: Campaign, node: Node) -> bool:
    """Every in-campaign dependency is done (built and in the repo)."""
    return all(c.nodes[d].state == DONE for d in node.deps if d in c.nodes)


def earlier_tiers_settled(c: Campaign, tier: int) -> bool:
    """Per-tier barrier: every node of an earlier tier is done, failed or quarantined."""
    return all(n.state in (DONE, FAILED, QUARANTINED) for n in c.nodes.values() if n.tier < tier)


def may_start(c: Campaign, node: Node) -> bool:
    if not deps_done(c, node):
        return False
    return c.release == PER_EDGE or earlier_tiers_settled(c, node.tier)


def failed_ancestor(c: Campaign, name: str) -> Optional[str]:
    """A failed node this one transitively depends on, or None."""
    seen, stack = set(), list(c.nodes[name].deps)
    while stack:
        d = stack.pop()
        if d in seen or d not in c.nodes:
            continue
        seen.add(d)
        if c.nodes[d].state == FAILED:
            return d
        stack.extend(c.nodes[d].deps)
    return None


def settle(c: Campaign) -> Campaign:
    """Recompute the unstarted nodes: quarantined, waiting-deps or planned; then the campaign state.

    Quarantine is derived: an unstarted node with a failed ancestor is
    quarantined, and goes back to planned/waiting-deps as soon as it has none.
    """
    nodes = dict(c.nodes)
    # quarantine first, so per-tier barriers see it
    for name, n in nodes.items():
        if n.state in UNSTARTED:
            culprit = failed_ancestor(c, name)
            if culprit:
                nodes[name] = replace(n, state=QUARANTINED, reason=f"{culprit} failed")
            elif n.state == QUARANTINED:
                nodes[name] = replace(n, state=WAITING_DEPS, reason="")
    c = replace(c, nodes=nodes)
    nodes = dict(c.nodes)
    for name, n in nodes.items():
        if n.state in (PLANNED, WAITING_DEPS):
            nodes[name] = replace(n, state=PLANNED if may_start(c, n) else WAITING_DEPS)
    c = replace(c, nodes=nodes)
    return replace(c, state=campaign_state(c))


def campaign_state(c) -> str:
    """running until every node is done (done) or nothing can move any more (failed).

    ``c`` is a :class:`Campaign` (paused and cancelled stay so) or an iterable of nodes.
    """
    if isinstance(c, Campaign):
        if c.state in (PAUSED, CANCELLED):
            return c.state
        nodes = list(c.nodes.values())
    else:
        nodes = list(c)
    states = [n.state for n in nodes]
    if all(s == DONE for s in states):
        return DONE
    if any(s in ACTIVE or s in (PLANNED, WAITING_DEPS) for s in states):
        return RUNNING
    return FAILED


def koji_priority(remaining_seconds: float, longest_seconds: float, low: int = 20,
                  high: int = 10) -> int:
    """Longer remaining chain -> lower (more urgent) koji priority number, from ``low``
    (the least urgent, for a chain of length 0) to ``high`` (the longest chain)."""
    best, worst = high, low
    if longest_seconds <= 0:
        return worst
    share = min(max(remaining_seconds / longest_seconds, 0.0), 1.0)
    return int(round(worst - share * (worst - best)))


def priority_of(c: Campaign, name: str) -> int:
    longest = max((n.remaining_seconds for n in c.nodes.values()), default=0.0)
    best, worst = c.limits.priority_range
    return koji_priority(c.nodes[name].remaining_seconds, longest, worst, best)


def priorities(nodes: Mapping[str, Node], high: int = 10, low: int = 30) -> dict:
    """Koji priority of every node: the longest remaining chain gets ``high`` (runs first)."""
    longest = max((n.remaining_seconds for n in nodes.values()), default=0.0)
    return {name: koji_priority(n.remaining_seconds, longest, low, high)
            for name, n in nodes.items()}


def to_release(c: Campaign, global_in_flight: int = 0) -> list:
    """Nodes to submit now: planned, longest chain first, within both in-flight caps.

    ``global_in_flight`` counts builds in flight in every campaign, this one included.
    """
    if c.state != RUNNING:
        return []
    mine = c.count(BUILDING)
    room = min(c.limits.max_in_flight - mine, c.limits.max_in_flight_global - global_in_flight)
    if room <= 0:
        return []
    ready = [n for n in c.nodes.values() if n.state == PLANNED and may_start(c, n)]
    ready.sort(key=lambda n: (-n.remaining_seconds, n.tier, n.name))
    return [n.name for n in ready[:room]]


_INFRA_PATTERNS = [re.compile(p, re.I) for p in (
    r"mock exited with status (?:2|3|30|40|50|60|70)\b",   # mock: root/config/lock errors, not the build
    r"buildroot",
    r"\bhost\b.*\b(died|restarted|offline|lost|unreachable)",
    r"timed? ?out|timeout",
    r"no space left on device",
    r"connection (refused|reset|aborted)|network is unreachable|name or service not known",
    r"serveroffline|server offline|retryerror|503 service unavailable",
    r"out of memory|cannot allocate memory|killed by signal 9",
    r"repo(sitory)? .* (not ready|expired|missing)|failed to download metadata",
)]


def classify_failure(error: str) -> str:
    """``infrastructure`` (retry) or ``package`` (the package or its gate is at fault)."""
    text = error or ""
    if any(p.search(text) for p in _INFRA_PATTERNS):
        return INFRASTRUCTURE
    return PACKAGE


# ---- transitions ----------------------------------------------------------------------------

def _with(c: Campaign, node: Node) -> Campaign:
    nodes = dict(c.nodes)
    nodes[node.name] = node
    return settle(replace(c, nodes=nodes))


def _need(c: Campaign, name: str, *states: str) -> Node:
    if name not in c.nodes:
        raise CampaignError(f"{name} is not part of campaign {c.id}")
    n = c.nodes[name]
    if n.state not in states:
        raise CampaignError(f"{name} is {n.state}, expected {' or '.join(states)}")
    return n


def start(c: Campaign, name: str, task: Optional[str] = None) -> Campaign:
    """A node is being submitted (intent first, the task id when known)."""
    n = _need(c, name, PLANNED)
    return _with(c, replace(n, state=BUILDING, attempts=n.attempts + 1, task=task, reason=""))


def submitted(c: Campaign, name: str, task: str) -> Campaign:
    n = _need(c, name, BUILDING)
    return _with(c, replace(n, task=task))


def build_finished(c: Campaign, name: str, result: TaskResult) -> Campaign:
    """The build ended: to the repo wait, an infrastructure retry, or failed."""
    n = _need(c, name, BUILDING)
    if result.ok:
        return _with(c, replace(n, state=WAITING_REPO, nvr=result.nvr, failure_class=None))
    kind = classify_failure(result.error)
    if kind == INFRASTRUCTURE and n.attempts <= c.limits.max_infra_retries:
        return _with(c, replace(n, state=PLANNED, task=None, failure_class=kind,
                                reason=result.error.strip()[:500]))
    return _with(c, replace(n, state=FAILED, failure_class=kind, reason=result.error.strip()[:500]))


def repo_ready(c: Campaign, names: Iterable[str]) -> Campaign:
    """The buildroot repo now holds these builds: gate them, or done when there is no gate."""
    for name in names:
        n = _need(c, name, WAITING_REPO)
        c = _with(c, replace(n, state=GATING if c.gate else DONE))
    return c


def gate_finished(c: Campaign, name: str, passed: bool, reason: str = "") -> Campaign:
    n = _need(c, name, GATING)
    if passed:
        return _with(c, replace(n, state=DONE))
    return _with(c, replace(n, state=FAILED, failure_class=PACKAGE, reason=f"gate failed: {reason}"))


def newer_build_completed(c: Campaign, name: str, nvr: str) -> Campaign:
    """A fixed build of a failed package landed: it is done; its quarantined dependents resume."""
    if name not in c.nodes or c.nodes[name].state != FAILED:
        return c
    n = c.nodes[name]
    c = _with(c, replace(n, state=DONE, nvr=nvr, failure_class=None, reason=f"resolved by {nvr}"))
    if c.state == FAILED:
        c = replace(c, state=RUNNING)
        c = replace(c, state=campaign_state(c))
    return c


def requeue(c: Campaign, name: str) -> Campaign:
    """By hand: build a failed node again (fresh retry budget)."""
    n = _need(c, name, FAILED)
    c = replace(c, state=RUNNING if c.state == FAILED else c.state)
    return _with(c, replace(n, state=WAITING_DEPS, attempts=0, failure_class=None, reason="", task=None))


def resume(c: Campaign) -> Campaign:
    """By hand: a paused campaign runs again, and every failed node is queued again."""
    if c.state == CANCELLED:
        raise CampaignError(f"campaign {c.id} was cancelled; start a new one")
    c = replace(c, state=RUNNING)
    for name, n in c.nodes.items():
        if n.state == FAILED:
            c = requeue(c, name)
    return settle(c)


def pause(c: Campaign) -> Campaign:
    return replace(c, state=PAUSED) if c.state == RUNNING else c


def cancel(c: Campaign) -> Campaign:
    return replace(c, state=CANCELLED) if c.state not in (DONE, CANCELLED) else c


def tier_progress(c: Campaign) -> list:
    """Per tier: (tier, {state: count}, total), for progress displays."""
    tiers: dict = {}
    for n in c.nodes.values():
        counts = tiers.setdefault(n.tier, {})
        counts[n.state] = counts.get(n.state, 0) + 1
    return [(t, counts, sum(counts.values())) for t, counts in sorted(tiers.items())]


# ---- the same decisions over a plain ``name -> Node`` mapping ---------------------------------

def releasable(nodes: Mapping[str, Node], release: str, max_in_flight: int) -> list:
    """Names to submit now, longest remaining chain first, within the in-flight cap
    (builds, repo waits and gates all count as in flight)."""
    if release not in RELEASE_MODES:
        raise ValueError(f"unknown release mode {release!r}")
    c = Campaign("-", nodes, release)
    in_flight = c.count(*IN_FLIGHT)
    room = max(0, max_in_flight - in_flight)
    ready = [n for n in nodes.values() if n.state in (PLANNED, WAITING_DEPS) and may_start(c, n)]
    ready.sort(key=lambda n: (-n.remaining_seconds, n.tier, n.name))
    return [n.name for n in ready[:room]]


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


def after_failure(nodes: Mapping[str, Node], name: str, error: str, max_retries: int,
                  failure: Optional[str] = None) -> dict:
    """State changes after ``name`` failed: retry an infrastructure failure while
    ``attempts < max_retries``, else fail it and quarantine only its dependents.
    ``failure`` forces the class (a failed gate is always the package's)."""
    node = nodes[name]
    failure = failure or classify_failure(error)
    error = error.strip()[:2000]
    if failure == INFRASTRUCTURE and node.attempts < max_retries:
        return {name: replace(node, state=PLANNED, failure_class=failure, reason=error,
                              task=None, repo_wait=None, gate_since=None)}
    changes = {name: replace(node, state=FAILED, failure_class=failure, reason=error,
                             repo_wait=None, gate_since=None)}
    for user in dependents(nodes, name):
        if nodes[user].state in UNSTARTED or nodes[user].state in IN_FLIGHT:
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


def after_build(nodes: Mapping[str, Node], name: str, ok: bool, nvr: Optional[str],
                error: str, max_retries: int) -> dict:
    """State changes once the build of ``name`` finished: on to the repo wait, or
    :func:`after_failure`."""
    if ok:
        return {name: replace(nodes[name], state=WAITING_REPO, nvr=nvr, failure_class=None,
                              reason="", repo_wait=None)}
    return after_failure(nodes, name, error or "build failed", max_retries)


def after_repo(nodes: Mapping[str, Node], names: Iterable[str], gated: bool, now: float) -> dict:
    """The buildroot repo holds these builds: to the CI gate, or done without one."""
    return {n: replace(nodes[n], state=GATING if gated else DONE, repo_wait=None,
                       gate_since=now if gated else None) for n in names}


def after_gate(nodes: Mapping[str, Node], name: str, passed: bool, reason: str) -> dict:
    """The gate decided: done, or a package failure that quarantines the dependents."""
    if passed:
        return {name: replace(nodes[name], state=DONE, gate_since=None, reason="")}
    return after_failure(nodes, name, f"gate failed: {reason}", 0, failure=PACKAGE)


def after_requeue(nodes: Mapping[str, Node], name: str) -> dict:
    """By hand: build the failed ``name`` again, from a fresh retry budget; its
    dependents wait for it again."""
    changes = after_resume(nodes, name)
    changes[name] = replace(nodes[name], state=PLANNED, attempts=0, failure_class=None,
                            reason="", task=None, nvr=None)
    return changes


# ---- load-aware release ---------------------------------------------------------------------

def arch_loads(hosts: Iterable[Mapping], arches: Iterable[str]) -> dict:
    """Per build arch, koji's load: the summed ``task_load`` over the summed
    ``capacity`` of the enabled, ready hosts that build it (rows of ``listHosts``).
    An arch no ready host builds has load ``inf``."""
    load = {a: 0.0 for a in arches}
    capacity = {a: 0.0 for a in arches}
    for host in hosts:
        if not host.get("enabled", True) or not host.get("ready", True):
            continue
        for arch in str(host.get("arches") or "").split():
            if arch in load:
                load[arch] += float(host.get("task_load") or 0.0)
                capacity[arch] += float(host.get("capacity") or 0.0)
    return {a: (load[a] / capacity[a] if capacity[a] > 0 else float("inf")) for a in load}


def hold_back_reason(loads: Mapping[str, float], threshold: float) -> Optional[str]:
    """Why new builds should wait (an arch above ``threshold``), or None."""
    busy = sorted((a, v) for a, v in loads.items() if v > threshold)
    if not busy:
        return None
    return "koji is busy: " + ", ".join(
        f"{a} {'has no ready host' if v == float('inf') else f'at {v:.0%} of capacity'}"
        for a, v in busy) + f" (threshold {threshold:.0%})"
