"""The engine: drives one campaign against a backend (shell).

Each :meth:`Engine.step` reads the nodes from the store, asks
:mod:`discomy.orchestration.campaign` what follows, writes the transition, and only then
acts. A node is ``building`` with no task in the store before it is
submitted; a node found that way (a restart, a lost answer) is first looked up
in the backend, so nothing is submitted twice. Steps never block: builds,
repo requests and gates are polled, so one daemon drives many campaigns.

A step, in order: settle finished builds; move built nodes through the
buildroot repo (one request shared by every build of the round) and the CI
gate; release what is ready within the in-flight caps, unless the build
system is busy; merge a passed side-tag campaign. A build system that does
not answer pauses the campaign (:class:`HubUnavailable`), it never fails it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from string import Template
from typing import Callable, Optional

from discomy.orchestration import campaign as cm
from discomy.orchestration.backends import LOST, READY, BackendError, HubUnavailable
from discomy.orchestration.store import Store

log = logging.getLogger(__name__)

PROGRESS, WAITING, FINISHED = "progress", "waiting", "finished"


@dataclass(frozen=True)
class EngineSettings:
    """How the daemon drives campaigns; what a campaign is (its release mode, target,
    mode) is recorded with it in the store."""
    max_in_flight: int = 10
    max_in_flight_global: int = 50
    max_retries: int = 3            # infrastructure failures retried this many times
    priority_high: int = 20         # koji priority of the longest remaining chain
    priority_low: int = 30          # ... of a chain of length 0
    poll_seconds: float = 30.0      # between steps that made no progress
    maintainer_email: str = ""      # "$owner@example.org": a failure also mails the owner


class Engine:
    def __init__(self, store: Store, backend, campaign_id: int,
                 settings: EngineSettings = EngineSettings(),
                 on_change: Optional[Callable[[dict], None]] = None, notifier=None,
                 gate=None, metrics=None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self.store, self.backend, self.campaign_id = store, backend, campaign_id
        self.settings = settings
        self.on_change = on_change or (lambda nodes: None)
        self.notifier, self.gate, self.metrics = notifier, gate, metrics
        self.clock, self.sleep = clock, sleep
        self._prepared = False
        self._deps: Optional[dict] = None
        self._held = False

    # -- the loop ----------------------------------------------------------------
    def run(self) -> str:
        """Step until the campaign is finished, paused or cancelled; its final state."""
        while True:
            outcome = self.step()
            if outcome == FINISHED:
                return self.store.campaign(self.campaign_id).state
            if outcome == WAITING:
                self.sleep(self.settings.poll_seconds)

    def step(self) -> str:
        """One round: ``progress`` (something moved), ``waiting`` (on koji) or ``finished``."""
        if self.store.campaign(self.campaign_id).state != cm.RUNNING:
            return FINISHED
        try:
            return self._step()
        except HubUnavailable as exc:
            # the build system is down: keep every node as it is, go on when it is back
            log.error("campaign %s paused: %s", self.campaign_id, exc)
            self.store.set_campaign_state(self.campaign_id, cm.PAUSED, note=f"hub: {exc}")
            return FINISHED
        except BackendError as exc:
            log.error("campaign %s failed: %s", self.campaign_id, exc)
            self.store.set_campaign_state(self.campaign_id, cm.FAILED, note=str(exc))
            self._notify("failed", "", str(exc))
            return FINISHED

    def _step(self) -> str:
        row = self.store.campaign(self.campaign_id)
        if not self._prepared:
            fields = self.backend.prepare()
            if fields:
                self.store.update_campaign(self.campaign_id, **fields)
            self._prepared = True
        # one read of the node states per step; each phase writes its changes to the
        # store first and then to this dict, so the next phase sees them
        nodes = self._nodes()
        moved = self._settle_builds(nodes)
        moved |= self._advance_repo(nodes)
        moved |= self._advance_gates(nodes)
        moved |= self._release(nodes, row.release)
        if moved:
            nodes = self._nodes()
        state = cm.campaign_state(nodes.values())
        if state == cm.RUNNING:
            return PROGRESS if moved else WAITING
        if state == cm.DONE and row.mode == "sidetag" and not row.merged:
            if not self.backend.merge(sorted(n.nvr for n in nodes.values() if n.nvr)):
                self.store.update_campaign(self.campaign_id, note="merging into the destination")
                return WAITING
            self.store.update_campaign(self.campaign_id, merged=True, note="")
        self.store.set_campaign_state(self.campaign_id, state)
        self._notify(state, "", f"campaign {state}")
        log.info("campaign %s: %s", self.campaign_id, state)
        return FINISHED

    # -- the parts of a step -------------------------------------------------------
    def _nodes(self) -> dict:
        """The campaign's nodes; the edges are fixed by the plan, so read once."""
        if self._deps is None:
            self._deps = self.store.deps(self.campaign_id)
        return self.store.nodes(self.campaign_id, deps=self._deps)

    def _write(self, nodes: dict, changes: dict) -> None:
        self.store.update_nodes(self.campaign_id, changes)
        nodes.update(changes)
        for name, node in changes.items():
            if node.state == cm.FAILED:
                if self.metrics:
                    self.metrics.failures.labels(failure_class=node.failure_class).inc()
                self._notify("failed", name, node.reason, node)
        self.on_change(nodes)

    def _settle_builds(self, nodes: dict) -> bool:
        moved = False
        building = sorted(n for n, node in nodes.items() if node.state == cm.BUILDING)
        unsent = [n for n in building if nodes[n].task is None]
        if unsent:
            # the intent is recorded but the submission may not be (a restart, a lost
            # answer): look in the build system first, for all of them at once
            found = self.backend.find_all(unsent)
            prio = self._priorities(nodes, unsent)
            for name in unsent:
                self._submit(nodes, name, prio[name], found.get(name))
            moved = True
        outcomes = self.backend.poll_all([nodes[n].task for n in building]) if building else {}
        for name in building:
            outcome = outcomes.get(nodes[name].task)
            if outcome is None:
                continue
            self._write(nodes, cm.after_build(nodes, name, outcome.ok, outcome.nvr,
                                              outcome.error, self.settings.max_retries,
                                              outcome.failure, outcome.log, outcome.host,
                                              outcome.seconds))
            moved = True
        return moved

    def _submit(self, nodes: dict, name: str, priority: int, task: Optional[str] = None) -> None:
        if task is None:
            task = self.backend.submit(name, priority)
            if self.metrics:
                self.metrics.submissions.labels(backend=self.backend.name).inc()
            log.info("campaign %s: submitted %s as %s", self.campaign_id, name, task)
        else:
            log.info("campaign %s: %s was already submitted as %s", self.campaign_id, name, task)
        # a submission found again after a restart keeps the time it was first recorded
        node = replace(nodes[name], task=str(task),
                       started_at=nodes[name].started_at or self.clock())
        self.store.update_nodes(self.campaign_id, {name: node})
        nodes[name] = node

    def _priorities(self, nodes: dict, names: list) -> dict:
        """Koji priorities of ``names`` against the longest chain still open now."""
        return cm.priorities(nodes, self.settings.priority_high, self.settings.priority_low,
                             names)

    def _advance_repo(self, nodes: dict) -> bool:
        waiting = {n: node for n, node in nodes.items() if node.state == cm.WAITING_REPO}
        if not waiting:
            return False
        moved = False
        for ref in sorted({node.repo_wait for node in waiting.values() if node.repo_wait}):
            members = [n for n, node in waiting.items() if node.repo_wait == ref]
            state = self.backend.repo_state(ref)
            if state == READY:
                self._write(nodes, cm.after_repo(nodes, members, self.gate is not None,
                                                 self.clock()))
                moved = True
            elif state == LOST:
                log.warning("campaign %s: repo request %s was lost; asking again",
                            self.campaign_id, ref)
                self._write(nodes, {n: replace(waiting[n], repo_wait=None) for n in members})
        unasked = sorted(n for n, node in nodes.items()
                         if node.state == cm.WAITING_REPO and not node.repo_wait)
        if unasked:
            # one regeneration for every build of the round
            ref = self.backend.request_repo(sorted(nodes[n].nvr or n for n in unasked))
            if ref is None:
                self._write(nodes, cm.after_repo(nodes, unasked, self.gate is not None,
                                                 self.clock()))
            else:
                self._write(nodes, {n: replace(nodes[n], repo_wait=ref) for n in unasked})
            moved = True
        return moved

    def _advance_gates(self, nodes: dict) -> bool:
        if self.gate is None:
            return False
        moved = False
        for name in sorted(n for n, node in nodes.items() if node.state == cm.GATING):
            node = nodes[name]
            waited = self.clock() - (node.gate_since or self.clock())
            verdict = self.gate.check(node.nvr or name, waited)
            if verdict.state == "pending":
                continue
            self._write(nodes, cm.after_gate(nodes, name, verdict.state == "pass",
                                             verdict.reason))
            moved = True
        return moved

    def _release(self, nodes: dict, release: str) -> bool:
        ready = cm.releasable(nodes, release, self.settings.max_in_flight)
        room = self.settings.max_in_flight_global - self.store.builds_in_flight()
        ready = ready[:max(0, room)]
        if not ready:
            return False
        busy = self.backend.hold_back()
        if busy:
            log.info("campaign %s: holding back %d builds: %s", self.campaign_id, len(ready), busy)
            self.store.update_campaign(self.campaign_id, note=busy)
            self._held = True
            return False
        if self._held:          # the build system has room again: the note is stale
            self.store.update_campaign(self.campaign_id, note="")
            self._held = False
        # the intent first: claimed rows are committed as building before any submission,
        # and a row another engine holds is skipped, so no node is submitted twice. A
        # node just claimed has no submission anywhere: it is submitted without a look.
        claimed = self.store.claim(self.campaign_id, ready)
        nodes.update(cm.after_claim(nodes, claimed))
        prio = self._priorities(nodes, claimed)
        for name in claimed:
            self._submit(nodes, name, prio[name])
        if claimed:
            self.on_change(nodes)
        return bool(claimed)

    # -- by hand -----------------------------------------------------------------------
    def resume(self, name: str) -> str:
        """A fixed build of the failed ``name`` is in: see :func:`take_fix`."""
        how = take_fix(self.store, self.campaign_id, name, self.backend)
        self._notify("resumed", name, "a fixed build is in" if how == FIXED
                     else "building the fixed source package")
        return how

    def _notify(self, kind: str, name: str, reason: str, node: Optional[cm.Node] = None) -> None:
        self.store.add_notification(self.campaign_id, kind, name, reason)
        if self.notifier is None:
            return
        from discomy.orchestration.notify import Notification

        recipients, url = (), ""
        if node is not None:
            # the attempt's log (a failed koji subtask's log or page, a local file)
            url = node.log or (self.backend.task_url(node.task) if node.task else "")
            owner = self._owner(node.name) if self.settings.maintainer_email else None
            if owner:
                recipients = (Template(self.settings.maintainer_email)
                              .safe_substitute(owner=owner),)
        self.notifier.notify(Notification(kind, str(self.campaign_id), name,
                                          nvr=(node.nvr or "") if node else "", reason=reason,
                                          url=url, recipients=recipients))

    def _owner(self, name: str) -> Optional[str]:
        try:
            return self.backend.owner(name)
        except (BackendError, HubUnavailable) as exc:     # a mail without the owner, then
            log.warning("campaign %s: owner of %s unknown: %s", self.campaign_id, name, exc)
            return None


# -- by hand, or on a message: written to the store, the next step acts on them ---------
FIXED, REBUILD, REQUEUED = "fixed", "rebuild", "requeued"


def resume_campaign(store: Store, campaign_id: int, name: Optional[str] = None,
                    local_backend: Optional[Callable] = None) -> tuple:
    """Go on with a paused, failed or interrupted campaign (``discomy resume`` and the
    API): with ``name``, a fix of that failed node is in (:func:`take_fix`; a local
    campaign's backend is made by ``local_backend()``, only then); without, every
    failed node is built again (:func:`requeue_failed`). ``(how, names)``: ``fixed``,
    ``rebuild`` or ``requeued``, and the nodes it concerns. KeyError for an unknown
    campaign; ValueError, and nothing changes, when it cannot go on."""
    row = store.campaign(campaign_id)
    if row.mode == "module":        # resumed by submitting the module build again
        raise ValueError(f"campaign {campaign_id} builds the components of a module build "
                         f"({row.changed}): submit that module build again to resume it")
    if row.state == cm.CANCELLED:
        raise ValueError(f"campaign {campaign_id} was cancelled; start a new one")
    if row.state == cm.DONE:
        raise ValueError(f"campaign {campaign_id} is already done")
    if name is None:
        return REQUEUED, requeue_failed(store, campaign_id)
    # a local campaign's fix is built by the campaign: its backend checks the source
    backend = local_backend() if row.backend == "local" and local_backend else None
    return take_fix(store, campaign_id, name, backend), [name]


def cancel_campaign(store: Store, campaign_id: int) -> dict:
    """Stop a campaign: nothing more is submitted. ``name -> task`` of its builds
    still running (they finish unless someone cancels them). KeyError for an unknown
    campaign, ValueError for one already done or cancelled."""
    row = store.campaign(campaign_id)
    if row.state in (cm.DONE, cm.CANCELLED):
        raise ValueError(f"campaign {campaign_id} is already {row.state}")
    store.set_campaign_state(campaign_id, cm.CANCELLED)
    return {n: x.task for n, x in store.nodes(campaign_id).items()
            if x.state == cm.BUILDING and x.task}


def take_fix(store: Store, campaign_id: int, name: str, backend=None) -> str:
    """A fixed ``name`` (failed) is in; the campaign runs again. Where the campaign's
    builds see builds made outside it (koji: the fix tagged into the destination or
    side tag), the fix counts as the node's build and its dependents are released
    (``fixed``; also without a ``backend`` at hand). A local campaign sees only its
    own repository: ``name`` is built again, from the newest source package of the
    source repositories, and its dependents wait for that build (``rebuild``).
    ValueError, and nothing changes, when the backend cannot take the fix now."""
    nodes = _nodes_checked_failed(store, campaign_id, name)
    if backend is None or getattr(backend, "sees_outside_builds", True):
        mark_fixed(store, campaign_id, name)
        return FIXED
    refusal = backend.fix_refusal(nodes[name])
    if refusal:
        raise ValueError(f"{name} cannot be resumed in campaign {campaign_id}: {refusal}")
    store.update_nodes(campaign_id, cm.after_requeue(nodes, name))
    store.set_campaign_state(campaign_id, cm.RUNNING, note="")
    return REBUILD


def _nodes_checked_failed(store: Store, campaign_id: int, name: str) -> dict:
    nodes = store.nodes(campaign_id)
    if name not in nodes:
        raise ValueError(f"{name} is not part of campaign {campaign_id}")
    if nodes[name].state != cm.FAILED:
        raise ValueError(f"{name} is {nodes[name].state} in campaign {campaign_id}, not failed")
    return nodes


def mark_fixed(store: Store, campaign_id: int, name: str) -> None:
    """A fixed build of the failed ``name`` is in: it counts as done, and its quarantined
    dependents are released; the campaign runs again."""
    nodes = _nodes_checked_failed(store, campaign_id, name)
    store.update_nodes(campaign_id, cm.after_resume(nodes, name))
    store.set_campaign_state(campaign_id, cm.RUNNING, note="")


def requeue_failed(store: Store, campaign_id: int) -> list:
    """Every failed node is built again, from a fresh retry budget (its dependents wait
    for it again); the campaign runs again. The names requeued."""
    nodes = store.nodes(campaign_id)
    failed = sorted(n for n, node in nodes.items() if node.state == cm.FAILED)
    for name in failed:
        changes = cm.after_requeue(nodes, name)
        store.update_nodes(campaign_id, changes)
        nodes.update(changes)
    store.set_campaign_state(campaign_id, cm.RUNNING, note="")
    return failed
