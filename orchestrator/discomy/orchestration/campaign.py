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
  who is at fault (``failure_class``) is decided from facts the backend reads:
  koji's task state and fault class (:func:`koji_failure_class`), rpmbuild's
  exit status (:func:`rpmbuild_failure_class`), never from the error text;
- ``quarantined``: a (transitive) dependency failed; goes back to ``planned``
  when that dependency is resolved.

Campaign states: ``running``, ``paused``, ``done``, ``failed``, ``cancelled``.

Every decision is a function over a ``name -> Node`` mapping of frozen nodes:
:func:`releasable` says what to submit now, and each ``after_*`` function
returns the node changes a transition makes (claimed, built, in the repo,
gated, failed, fixed, requeued), which the engine writes to the store before it
acts on them. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Optional, Sequence

from discomy.planning.priorities import koji_priority, open_longest, release_key

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
    log: Optional[str] = None           # where the whole log of the latest attempt is
    host: Optional[str] = None          # the builders of the latest attempt
    started_at: Optional[float] = None  # when the latest attempt was submitted
    build_seconds: Optional[float] = None   # how long it ran, as the build system measured


# ---- decisions ------------------------------------------------------------------------------

def _may_start(nodes: Mapping[str, Node], node: Node, release: str,
               unsettled_tiers: frozenset) -> bool:
    """Its in-campaign dependencies are done (built and in the repo) and, per tier,
    every earlier tier is settled."""
    if not all(nodes[d].state == DONE for d in node.deps if d in nodes):
        return False
    return release == PER_EDGE or not any(t < node.tier for t in unsettled_tiers)


def releasable(nodes: Mapping[str, Node], release: str, max_in_flight: int) -> list:
    """Names to submit now, longest remaining chain first, within the in-flight cap
    (builds, repo waits and gates all count as in flight)."""
    if release not in RELEASE_MODES:
        raise ValueError(f"unknown release mode {release!r}: use per-tier or per-edge")
    in_flight = sum(1 for n in nodes.values() if n.state in IN_FLIGHT)
    room = max(0, max_in_flight - in_flight)
    if room == 0:
        return []
    unsettled = frozenset(n.tier for n in nodes.values() if n.state not in SETTLED)
    ready = [n for n in nodes.values() if n.state in (PLANNED, WAITING_DEPS)
             and _may_start(nodes, n, release, unsettled)]
    ready.sort(key=lambda n: release_key(n.remaining_seconds, n.tier, n.name))
    return [n.name for n in ready[:room]]


def campaign_state(nodes: Iterable[Node]) -> str:
    """running until every node is done (done) or nothing can move any more (failed)."""
    states = [n.state for n in nodes]
    if all(s == DONE for s in states):
        return DONE
    if any(s in IN_FLIGHT or s in (PLANNED, WAITING_DEPS) for s in states):
        return RUNNING
    return FAILED


def priorities(nodes: Mapping[str, Node], high: int = 10, low: int = 30,
               names: Optional[Iterable[str]] = None) -> dict:
    """Koji priority of ``names`` (default: every node) when submitted now: the longest
    chain among them and the nodes not started yet gets ``high`` (runs first)."""
    names = list(nodes if names is None else names)
    remaining = {name: n.remaining_seconds for name, n in nodes.items()}
    longest = open_longest(remaining, [name for name, n in nodes.items()
                                       if n.state in UNSTARTED] + names)
    return {name: koji_priority(remaining[name], longest, low, high) for name in names}


# koji's fault classes (koji/__init__.py) that a build host or the hub raises, not a
# package's build: the buildroot could not be made (BuildrootError: mock --init, a repo
# that is not ready), the host's session ended (AuthError and its kind, RetryError),
# the hub went away or a lock was lost (ServerOffline, LockError). BuildError and the
# rest (a failed rpmbuild, an unknown source, a refused package) are the package's.
KOJI_HOST_FAULTS = frozenset({"BuildrootError", "AuthError", "RetryError", "ServerOffline",
                              "LockError"})


def koji_failure_class(state: str, fault_classes: Sequence[str] = (),
                       child_canceled: bool = False) -> str:
    """Who is at fault for a koji build task that did not close. ``state`` is koji's task
    state name (``FAILED``, ``CANCELED``, or ``""`` for a task the hub no longer knows);
    ``fault_classes`` are the names of the class of the task's fault and of its bases
    (empty for a fault outside koji's classes: a Python exception on the builder, such
    as ``OSError: No space left on device``); ``child_canceled``: one of its subtasks was
    canceled and none failed (an admin freed a stuck builder)."""
    if state != "FAILED":
        return INFRASTRUCTURE           # canceled by someone else, or lost by the hub
    if not fault_classes or KOJI_HOST_FAULTS.intersection(fault_classes) or child_canceled:
        return INFRASTRUCTURE
    return PACKAGE


def rpmbuild_failure_class(exit_status: Optional[int], disk_full: bool = False) -> str:
    """Who is at fault for a local rpmbuild that did not succeed. ``exit_status`` is None
    when rpmbuild could not be started (not installed, no room to write its log), and
    negative when a signal killed it (the OOM killer, a shutdown); ``disk_full``: the
    build's file system had no room left. Otherwise rpmbuild ran to its end and failed
    in one of the package's stages (%prep, %build, %install, %check, %files)."""
    if exit_status is None or exit_status < 0 or disk_full:
        return INFRASTRUCTURE
    return PACKAGE


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


# ---- transitions: the node changes each one makes --------------------------------------------

def after_claim(nodes: Mapping[str, Node], names: Iterable[str]) -> dict:
    """Released nodes are claimed for a build: the intent, recorded before the submission
    (what :meth:`discomy.orchestration.store.Store.claim` writes in one transaction)."""
    return {n: replace(nodes[n], state=BUILDING, attempts=nodes[n].attempts + 1, task=None,
                       nvr=None, repo_wait=None, gate_since=None, host=None, started_at=None,
                       build_seconds=None) for n in names}


def after_failure(nodes: Mapping[str, Node], name: str, error: str, max_retries: int,
                  failure: str) -> dict:
    """State changes after ``name`` failed: retry an ``infrastructure`` failure up to
    ``max_retries`` times, else fail it and quarantine only its dependents."""
    if failure not in (INFRASTRUCTURE, PACKAGE):
        raise ValueError(f"unknown failure class {failure!r}")
    node = nodes[name]
    error = error.strip()[:2000]
    if failure == INFRASTRUCTURE and node.attempts <= max_retries:
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
                error: str, max_retries: int, failure: str = PACKAGE,
                log: Optional[str] = None, host: str = "",
                build_seconds: Optional[float] = None) -> dict:
    """State changes once the build of ``name`` finished: on to the repo wait, or
    :func:`after_failure` of the class the backend found. ``log`` is where the
    attempt's whole log is, ``host`` where it ran and ``build_seconds`` how long,
    kept either way."""
    node = replace(nodes[name], log=log or None, host=host or None,
                   build_seconds=build_seconds)
    if ok:
        return {name: replace(node, state=WAITING_REPO, nvr=nvr, failure_class=None,
                              reason="", repo_wait=None)}
    return after_failure({**nodes, name: node}, name, error or "build failed", max_retries,
                         failure)


def after_repo(nodes: Mapping[str, Node], names: Iterable[str], gated: bool, now: float) -> dict:
    """The buildroot repo holds these builds: to the CI gate, or done without one."""
    return {n: replace(nodes[n], state=GATING if gated else DONE, repo_wait=None,
                       gate_since=now if gated else None) for n in names}


def after_gate(nodes: Mapping[str, Node], name: str, passed: bool, reason: str) -> dict:
    """The gate decided: done, or a package failure that quarantines the dependents."""
    if passed:
        return {name: replace(nodes[name], state=DONE, gate_since=None, reason="")}
    return after_failure(nodes, name, f"gate failed: {reason}", 0, failure=PACKAGE)


def fix_refusal(node: Node, source: Optional[str], failed_source: Optional[str]) -> Optional[str]:
    """Why a campaign that builds only from its own sources (local) cannot take a fix of
    the failed ``node`` now, or None: ``source`` is the source package it would build
    (None: there is none), ``failed_source`` the one its last attempt failed with (None:
    unknown). Building a package again from the source it failed with in one of its own
    stages would fail the same way; after an infrastructure failure it is worth it."""
    if source is None:
        return f"there is no source package of {node.name} to build a fix from"
    if node.failure_class == PACKAGE and failed_source is not None \
            and source == failed_source:
        return f"the source package of {node.name} is still the one that failed"
    return None


def after_requeue(nodes: Mapping[str, Node], name: str) -> dict:
    """By hand: build the failed ``name`` again, from a fresh retry budget; its
    dependents wait for it again."""
    changes = after_resume(nodes, name)
    changes[name] = replace(nodes[name], state=PLANNED, attempts=0, failure_class=None,
                            reason="", task=None, nvr=None)
    return changes


def made_by_a_campaign(release: str, release_suffix: str) -> bool:
    """A build whose release carries a campaign's suffix (``release_suffix`` with its
    ``{campaign}`` number): a rebuild merged by a campaign, not a packager's change."""
    marker = release_suffix.split("{campaign}")[0]
    return bool(marker) and re.search(re.escape(marker) + r"\d+", release) is not None


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
