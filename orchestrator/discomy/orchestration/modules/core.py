"""Module builds as a state machine, and the decisions over them (pure core).

States a release engineer sees, as MBS named them:

- ``init``: recorded (the modulemd read, its refs resolved, its components and
  their campaign written); nothing is in the build system yet;
- ``wait``: the buildroot is being made: koji tags and target (or the local
  work directory), reused components tagged in, the first repo;
- ``build``: the components build, batch by batch or along the buildafter DAG,
  as the nodes of the module build's campaign;
- ``done``: every component is built; the module repo is being made;
- ``ready``: the module repo is there, with its ``modules.yaml``;
- ``failed``, with the reason and the failure class (``package`` when a
  component's build or gate failed, ``infrastructure`` otherwise), and
  ``canceled``.

The decisions: the koji tag and dist of a module build (:func:`koji_tag`,
:func:`dist_tag`), which components are reused from an earlier build of the same
stream (:func:`reuse`), and what the campaign's end means for the module
(:func:`outcome`). Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

from discomy.orchestration import campaign as cm

INIT, WAIT, BUILD, DONE, READY, FAILED, CANCELED = (
    "init", "wait", "build", "done", "ready", "failed", "canceled")
STATES = (INIT, WAIT, BUILD, DONE, READY, FAILED, CANCELED)
TERMINAL = (READY, FAILED, CANCELED)
ACTIVE = (INIT, WAIT, BUILD, DONE)
# what may follow what (a resubmission takes a failed or canceled build back to wait)
TRANSITIONS = {INIT: (WAIT, FAILED, CANCELED), WAIT: (BUILD, FAILED, CANCELED),
               BUILD: (DONE, FAILED, CANCELED), DONE: (READY, FAILED, CANCELED),
               READY: (), FAILED: (WAIT,), CANCELED: (WAIT,)}

CHANGED_AND_AFTER, ONLY_CHANGED, ALL = "changed-and-after", "only-changed", "all"
REUSE_STRATEGIES = (CHANGED_AND_AFTER, ONLY_CHANGED, ALL)

# koji's limit on tag names, minus the "-build" of the build tag
MAX_TAG = 256 - len("-build")


def may_follow(old: str, new: str) -> bool:
    return new in TRANSITIONS.get(old, ())


def modularity_label(name: str, stream: str, version, context: str) -> str:
    """``%{modularitylabel}`` of the module's rpms: ``name:stream:version:context``."""
    return f"{name}:{stream}:{version}:{context}"


def koji_tag(name: str, stream: str, version, context: str, scratch: bool = False,
             module_id: Optional[int] = None) -> str:
    """The module's koji tag (its build tag adds ``-build``, its target is the same name),
    as MBS names them: ``module-<name>-<stream>-<version>-<context>``, dashes in the
    stream made underscores; a name beyond koji's limit becomes ``module-<hash>``.
    Scratch builds get ``scratch-module-...`` with their build id, so they never clash."""
    prefix = "scratch-module" if scratch else "module"
    parts = [name, stream.replace("-", "_"), str(version), context]
    if scratch:
        parts.append(str(module_id))
    tag = re.sub(r"[^A-Za-z0-9_.+-]", "_", f"{prefix}-{'-'.join(parts)}")
    if len(tag) > MAX_TAG:
        tag = f"{prefix}-{hashlib.sha1(tag.encode()).hexdigest()[:16]}"
    return tag


def dist_tag(name: str, stream: str, version, context: str, module_id: int,
             platform: Optional[str], prefix: str = "module+") -> str:
    """The ``%dist`` of a module's rpms, as MBS makes it: the prefix, the platform stream,
    the build's number and a hash of its NSVC (``.module+el9.4.0+42+1a2b3c4d``), so
    every build of every module has releases of its own."""
    digest = hashlib.sha1(f"{name}.{stream}.{version}.{context}".encode()).hexdigest()[:8]
    marking = re.sub(r"[^A-Za-z0-9_.]", "_", platform or "")
    parts = [prefix.rstrip("+")] + ([marking] if marking else []) + [str(module_id), digest]
    return "." + "+".join(parts)


# ---- reuse ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Previous:
    """What an earlier build of the same stream built: its id, its build requirements, and
    per component that is done ``(repository, commit, nvr)``."""
    module_id: int
    buildrequires: Mapping[str, str]
    components: Mapping[str, tuple]


def reuse(components: Mapping[str, tuple], deps: Mapping[str, Iterable[str]],
          tiers: Iterable[Iterable[str]], kind: str, buildrequires: Mapping[str, str],
          previous: Optional[Previous], strategy: str = CHANGED_AND_AFTER) -> dict:
    """``name -> NVR`` of the components taken from ``previous`` instead of built again.

    ``components`` is ``name -> (repository, commit)`` of this build. A component is
    unchanged when the previous build built it from the same repository and commit,
    and the module's build requirements are the same. ``all`` rebuilds everything;
    ``only-changed`` reuses every unchanged component; ``changed-and-after`` (the
    default) also rebuilds what comes after a changed one: the batches from the first
    one with a change on (``buildorder``), or what is built after a changed one,
    directly or not (``buildafter``)."""
    if strategy not in REUSE_STRATEGIES:
        raise ValueError(f"unknown reuse strategy {strategy!r}: use "
                         f"{', '.join(REUSE_STRATEGIES)}")
    if strategy == ALL or previous is None or dict(previous.buildrequires) != dict(buildrequires):
        return {}
    unchanged = {name for name, source in components.items()
                 if name in previous.components
                 and tuple(previous.components[name][:2]) == tuple(source)}
    if strategy == CHANGED_AND_AFTER:
        changed = set(components) - unchanged
        if kind == "dag":
            users: dict = {}
            for name, ds in deps.items():
                for d in ds:
                    users.setdefault(d, set()).add(name)
            stack = list(changed)
            while stack:
                for user in users.get(stack.pop(), ()):
                    if user not in changed:
                        changed.add(user)
                        stack.append(user)
        else:
            later = False
            for tier in tiers:
                later = later or any(n in changed for n in tier)
                if later:
                    changed.update(tier)
        unchanged -= changed
    return {name: previous.components[name][2] for name in sorted(unchanged)}


# ---- the end of the components' campaign ------------------------------------------------------

def outcome(campaign_state: str, nodes: Mapping[str, cm.Node]) -> tuple:
    """``(module state, reason, failure class)`` once the components' campaign stopped;
    None while it runs (or is paused: the build system is away)."""
    if campaign_state == cm.DONE:
        return DONE, f"all {len(nodes)} components built", None
    if campaign_state == cm.CANCELLED:
        return CANCELED, "canceled", None
    if campaign_state != cm.FAILED:
        return None
    failed = sorted((n for n in nodes.values() if n.state == cm.FAILED), key=lambda n: n.name)
    if not failed:          # the campaign failed as a whole (the build system refused it)
        return FAILED, "the component builds could not run", cm.INFRASTRUCTURE
    kind = cm.PACKAGE if any(n.failure_class == cm.PACKAGE for n in failed) \
        else cm.INFRASTRUCTURE
    first = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return FAILED, f"component {first.name} failed: {first.reason}{more}", kind


def batch_progress(nodes: Mapping[str, cm.Node]) -> list:
    """Per batch (tier), counts of its components by state: what ``--watch`` shows."""
    tiers: dict = {}
    for node in nodes.values():
        counts = tiers.setdefault(node.tier, {})
        counts[node.state] = counts.get(node.state, 0) + 1
    return [{"batch": tier + 1, "states": dict(sorted(tiers[tier].items()))}
            for tier in sorted(tiers)]
