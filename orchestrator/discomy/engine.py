"""The engine: drives a campaign's state machine against a backend (shell).

Each step reads the nodes from the store, asks :mod:`discomy.campaign` what to
do, writes the transition, and only then acts: a node is ``building`` in the
store before its build is submitted, and a node found ``building`` after a
restart is first looked up in the backend, so nothing is built twice.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable, Optional

from . import campaign as cm
from .store import Store

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, store: Store, backend, campaign_id: int, release: str = "per-tier",
                 max_in_flight: int = 4, max_retries: int = 2,
                 on_change: Optional[Callable[[dict], None]] = None, notifier=None,
                 max_in_flight_global: int = 50):
        self.store, self.backend, self.campaign_id = store, backend, campaign_id
        self.release, self.max_in_flight, self.max_retries = release, max_in_flight, max_retries
        self.max_in_flight_global = max_in_flight_global
        self.on_change = on_change or (lambda nodes: None)
        self.notifier = notifier

    def recover(self) -> None:
        """After a restart: settle the nodes a previous run left in flight."""
        nodes = self.store.nodes(self.campaign_id)
        for name, node in nodes.items():
            if node.state not in cm.IN_FLIGHT:
                continue
            nvr = self.backend.lookup(name)
            if nvr:
                log.info("campaign %s: %s was built before the restart (%s)",
                         self.campaign_id, name, nvr)
                self.store.update_nodes(self.campaign_id,
                                        {name: replace(node, state=cm.WAITING_REPO)},
                                        **{name: {"nvr": nvr}})
            else:
                self.store.update_nodes(self.campaign_id, {name: replace(node, state=cm.PLANNED)})

    def step(self) -> bool:
        """One round; False when nothing is left to do."""
        if self.store.campaign(self.campaign_id).state in (cm.PAUSED, cm.CANCELLED):
            return False
        nodes = self.store.nodes(self.campaign_id)
        ready = cm.releasable(nodes, self.release, self.max_in_flight)
        room = self.max_in_flight_global - self.store.builds_in_flight()
        ready = ready[:max(0, room)]
        waiting = [n for n, node in nodes.items() if node.state == cm.WAITING_REPO]
        if not ready and not waiting:
            return False
        # the intent first: claimed rows are committed as building before any submission,
        # and a row another engine holds is skipped, so no node is submitted twice
        claimed = self.store.claim(self.campaign_id, ready,
                                   lambda name, attempt: f"{self.campaign_id}:{name}:{attempt}")
        for name in claimed:
            log.info("campaign %s: building %s", self.campaign_id, name)
            outcome = self.backend.build(name)
            nodes = self.store.nodes(self.campaign_id)
            if outcome.ok:
                self.store.update_nodes(self.campaign_id,
                                        {name: replace(nodes[name], state=cm.WAITING_REPO)},
                                        **{name: {"nvr": outcome.nvr}})
            else:
                changes = cm.after_failure(nodes, name, outcome.error, self.max_retries)
                self.store.update_nodes(self.campaign_id, changes)
                if changes[name].state == cm.FAILED:
                    self._notify(name, changes[name])
            self.on_change(self.store.nodes(self.campaign_id))
        nodes = self.store.nodes(self.campaign_id)
        waiting = {n: node for n, node in nodes.items() if node.state == cm.WAITING_REPO}
        if waiting:
            self.backend.publish()     # one regeneration for every build of the round
            self.store.update_nodes(self.campaign_id,
                                    {n: replace(node, state=cm.DONE) for n, node in waiting.items()})
            self.on_change(self.store.nodes(self.campaign_id))
        return True

    def run(self) -> str:
        from .backends import HubUnavailable

        try:
            self.recover()
            while self.step():
                pass
        except HubUnavailable as exc:
            # the build system is down: pause, keep every node as it is, go on later
            log.error("campaign %s paused: %s", self.campaign_id, exc)
            self.store.set_campaign_state(self.campaign_id, cm.PAUSED)
            return cm.PAUSED
        current = self.store.campaign(self.campaign_id).state
        if current in (cm.PAUSED, cm.CANCELLED):
            return current
        state = cm.campaign_state(self.store.nodes(self.campaign_id).values())
        if state != "running":
            self.store.set_campaign_state(self.campaign_id, state)
        return state

    def resume(self, name: str) -> None:
        """A fixed build of the failed ``name`` is in: release what waited for it."""
        nodes = self.store.nodes(self.campaign_id)
        if nodes[name].state != cm.FAILED:
            raise ValueError(f"{name} has not failed in campaign {self.campaign_id}")
        self.store.update_nodes(self.campaign_id, cm.after_resume(nodes, name))
        self.store.set_campaign_state(self.campaign_id, "running")

    def _notify(self, name: str, node: cm.Node) -> None:
        self.store.add_notification(self.campaign_id, "failed", name, node.reason)
        if self.notifier is not None:
            from .notify import Notification

            self.notifier.notify(Notification("failed", str(self.campaign_id), name,
                                              reason=node.reason))
