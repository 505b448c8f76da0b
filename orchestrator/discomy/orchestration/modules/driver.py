"""The module build driver (shell): moves each module build one step at a time.

One small handler per state (the layout of MBS's scheduler handlers), each
reading the store, deciding with :mod:`discomy.orchestration.modules.core`,
writing the new state, and only then acting:

- ``init``: on to ``wait``;
- ``wait``: the backend makes the buildroot (koji tags, inheritance, package
  list, target, reused builds tagged, the first repo; or the local work
  directory); on to ``build`` once it is there;
- ``build``: one step of the :class:`~discomy.orchestration.engine.Engine` over
  the module build's campaign, whose nodes are the components: submissions in
  batch or DAG order with the campaign priorities, each round of builds waiting
  for its buildroot repo before its dependents go, the CI gate per batch when
  ``[modules] gate`` is on, infrastructure failures retried; on to ``done``,
  ``failed`` or ``canceled`` when the campaign ends;
- ``done``: the final modulemd (artifacts, NVRs) and the module repo; on to
  ``ready``;
- ``ready``, ``failed``, ``canceled``: the builds a cancel left running are
  canceled, and the state is announced.

Every state a build reaches is announced on the message bus
(:mod:`~discomy.orchestration.modules.messages`) after it is written; the state
last announced is kept, so a broker that is away gets it at a later step. A
build system that does not answer keeps the module build where it is (a note
says why); a build system that refuses fails it, with the reason.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

from discomy.orchestration import campaign as cm
from discomy.orchestration.backends import BackendError, HubUnavailable
from discomy.orchestration.engine import FINISHED, PROGRESS, WAITING, Engine
from discomy.orchestration.modules import core
from discomy.orchestration.rpmtools import ToolError
from discomy.planning import modulemd
from discomy.planning.modules import ModuleError

log = logging.getLogger(__name__)


def publisher_for(config: dict):
    """The publisher of ``[modules] amqp_url`` (None: nothing is announced)."""
    m = config["modules"]
    if not m["amqp_url"]:
        return None
    # here, not above: fedora-messaging is needed only where messages are sent
    from discomy.orchestration.modules.messages import Publisher

    return Publisher(m["amqp_url"], m["exchange"], m["topic_prefix"])


class ModuleDriver:
    def __init__(self, store, config: dict, session: Optional[Callable] = None, gate=None,
                 notifier=None, metrics=None, publisher=None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.store, self.modules, self.config = store, store.modules, config
        self.session = session
        self.gate = gate if config["modules"]["gate"] else None
        self.notifier, self.metrics = notifier, metrics
        self.publisher = publisher if publisher is not None else publisher_for(config)
        self.clock, self.sleep = clock, sleep
        self.backends: dict = {}
        self.engines: dict = {}
        self.due: dict = {}             # module build id -> clock time of its next step
        self.on_change: Optional[Callable] = None   # fed the nodes after each transition

    # -- backends and engines ------------------------------------------------------------
    def backend(self, row):
        if row.id not in self.backends:
            components = self.modules.components(row.id)
            if row.backend == "koji":
                self.backends[row.id] = self._koji_backend(row, components)
            else:
                from discomy.orchestration.modules.backends import ModuleLocalBackend

                previous = {c.reused_from: self._local_repo(c.reused_from)
                            for c in components if c.reused_from}
                self.backends[row.id] = ModuleLocalBackend(Path(row.workdir), row, components,
                                                           previous)
        return self.backends[row.id]

    def _koji_backend(self, row, components):
        from discomy.orchestration.backends.koji import profile_urls, session_for
        from discomy.orchestration.modules.backends import ModuleKojiBackend

        k, m = self.config["koji"], self.config["modules"]
        urls = {"weburl": k["weburl"], "topurl": k["topurl"]}
        if not k["server"] and not all(urls.values()):
            found = profile_urls(k["profile"])
            urls = {key: value or found[key] for key, value in urls.items()}
        session = self.session() if self.session else session_for(k["profile"], k["server"])
        return ModuleKojiBackend(session, row, components, arches=m["arches"],
                                 topdir=m["koji_topdir"], retries=k["retries"],
                                 backoff_seconds=k["retry_backoff_seconds"],
                                 load_threshold=k["load_threshold"],
                                 load_cache_seconds=k["poll_seconds"], **urls)

    def _local_repo(self, module_id: int) -> Optional[str]:
        try:
            previous = self.modules.get(module_id)
        except KeyError:
            return None
        return str(Path(previous.workdir) / "repo") if previous.workdir else None

    def engine(self, row) -> Engine:
        if row.id not in self.engines:
            from discomy.orchestration.runner import engine_settings

            self.engines[row.id] = Engine(self.store, self.backend(row), row.campaign_id,
                                          settings=engine_settings(self.config),
                                          gate=self.gate, notifier=self.notifier,
                                          metrics=self.metrics, on_change=self.on_change)
        return self.engines[row.id]

    def forget(self, module_id: int) -> None:
        self.backends.pop(module_id, None)
        self.engines.pop(module_id, None)

    # -- a step ----------------------------------------------------------------------------
    def step(self, module_id: int) -> str:
        """One step of a module build: ``progress``, ``waiting`` or ``finished`` (nothing
        more to do for it)."""
        row = self.modules.get(module_id)
        handler = HANDLERS.get(row.state)
        try:
            if handler is None:
                return self._settle(row)
            return handler(self, row)
        except HubUnavailable as exc:
            log.error("module build %s (%s): %s", row.id, row.nsvc, exc)
            self.modules.update(row.id, note=f"hub: {exc}")
            return WAITING
        except (BackendError, ModuleError, ToolError) as exc:
            log.error("module build %s (%s) failed: %s", row.id, row.nsvc, exc)
            row = self.modules.get(module_id)
            if row.state not in core.ACTIVE:
                raise
            self._set_state(row, core.FAILED, str(exc), cm.INFRASTRUCTURE, note="")
            return PROGRESS

    def on_init(self, row) -> str:
        self._set_state(row, core.WAIT, "making the buildroot")
        return PROGRESS

    def on_wait(self, row) -> str:
        nodes = self.store.nodes(row.campaign_id)
        reused = {c.name: nodes[c.name].nvr for c in self.modules.components(row.id)
                  if c.reused_from and c.name in nodes}
        note = self.backend(row).prepare_buildroot(reused)
        if note:
            if note != row.note:
                self.modules.update(row.id, note=note)
            return WAITING
        batches = len({n.tier for n in nodes.values()})
        self._set_state(row, core.BUILD, f"building {len(nodes) - len(reused)} of "
                                         f"{len(nodes)} components in {batches} "
                                         f"{'batches' if row.order_kind == 'batches' else 'tiers'}",
                        note="")
        return PROGRESS

    def on_build(self, row) -> str:
        outcome = None
        if self.store.campaign(row.campaign_id).state == cm.RUNNING:
            outcome = self.engine(row).step()
        campaign = self.store.campaign(row.campaign_id)
        ended = core.outcome(campaign.state, self.store.nodes(row.campaign_id))
        if ended is None:
            note = campaign.note if campaign.state == cm.PAUSED else ""
            if note != row.note:
                self.modules.update(row.id, note=note)
            return PROGRESS if outcome == PROGRESS else WAITING
        state, reason, failure = ended
        self._set_state(row, state, reason, failure, note="")
        return PROGRESS

    def on_done(self, row) -> str:
        backend = self.backend(row)
        nodes = self.store.nodes(row.campaign_id)
        components = self.modules.components(row.id)
        nvrs = {c.name: nodes[c.name].nvr for c in components}
        artifacts = backend.artifacts(nvrs)
        self.modules.set_artifacts(row.id, artifacts)
        buildonly = sorted(c.name for c in components if c.buildonly)
        shipped = [a for c in components if not c.buildonly for a in artifacts.get(c.name, ())
                   if not a.endswith(".rpm")]
        filtered = sorted({a.rsplit("-", 2)[0] for name in buildonly
                           for a in artifacts.get(name, ()) if not a.endswith(".rpm")})
        built = {c.name: {"nvr": nvrs[c.name] or "", "ref": c.commit, "repository": c.repository,
                          **({"reused_from": c.reused_from} if c.reused_from else {})}
                 for c in components}
        final = modulemd.final(row.modulemd, shipped, built, filtered,
                               xmd={"module_build_id": row.id, "dist": row.dist,
                                    **({"koji_tag": row.koji_tag} if row.koji_tag else {})})
        if final != row.modulemd_final:
            self.modules.update(row.id, modulemd_final=final)
        step = backend.module_repo(final, artifacts, buildonly, row.repo_task)
        if step.task is not None and step.task != row.repo_task:
            self.modules.update(row.id, repo_task=step.task, note=step.note)
        if step.location:
            self._set_state(row, core.READY, f"module repo {step.location}", repo=step.location,
                            note="")
            return PROGRESS
        if step.note and step.note != row.note:
            self.modules.update(row.id, note=step.note)
        return WAITING

    def _settle(self, row) -> str:
        """A finished module build: a cancel's leftovers stopped; its state announced."""
        if row.state == core.CANCELED:
            self._stop_leftovers(row)
        if row.published_state != row.state:
            self._announce(row)
        return FINISHED

    def _stop_leftovers(self, row) -> None:
        nodes = self.store.nodes(row.campaign_id)
        running = {n: node for n, node in nodes.items() if node.state in cm.IN_FLIGHT}
        if not running:
            return
        backend = self.backend(row)
        for node in running.values():
            if node.task:
                backend.cancel(node.task)
        self.store.update_nodes(row.campaign_id, {
            n: replace(node, state=cm.FAILED, failure_class=cm.INFRASTRUCTURE,
                       reason="the module build was canceled") for n, node in running.items()})
        log.info("module build %s: canceled %d component builds", row.id, len(running))

    # -- states ------------------------------------------------------------------------------
    def _set_state(self, row, state: str, reason: str, failure: Optional[str] = None,
                   **fields) -> None:
        if not core.may_follow(row.state, state):
            raise ValueError(f"module build {row.id}: {row.state} cannot become {state}")
        if not self.modules.set_state(row.id, state, reason, failure, expected=row.state,
                                      **fields):
            # moved meanwhile by someone else (a cancel through the API): theirs stands
            log.info("module build %s: no longer %s, not made %s", row.id, row.state, state)
            return
        log.info("module build %s (%s): %s -> %s: %s", row.id, row.nsvc, row.state, state,
                 reason)
        old = row.state
        row = self.modules.get(row.id)
        if state in core.TERMINAL:
            self.store.add_notification(row.campaign_id, f"module {state}", row.nsvc, reason)
            self._notify(row)
        self._announce(row, old)

    def _announce(self, row, old: Optional[str] = None) -> None:
        if self.publisher is None:
            self.modules.update(row.id, published_state=row.state)
            return
        from discomy.orchestration.modules.messages import PublishError
        from discomy.orchestration.modules.service import message_body

        try:
            self.publisher.publish(message_body(self.store, row, old))
        except PublishError as exc:
            log.warning("module build %s: state %s not announced yet: %s", row.id, row.state,
                        exc)
            return
        self.modules.update(row.id, published_state=row.state)

    def _notify(self, row) -> None:
        if self.notifier is None:
            return
        from discomy.orchestration.notify import Notification

        self.notifier.notify(Notification(f"module {row.state}", f"module build {row.id}",
                                          row.nsvc, reason=row.state_reason,
                                          url=row.repo or ""))

    # -- running -------------------------------------------------------------------------
    def run(self, module_id: int, poll_seconds: Optional[float] = None,
            on_step: Optional[Callable] = None) -> object:
        """Step ``module_id`` in the foreground until it is finished; its row."""
        poll = self.config["koji"]["poll_seconds"] if poll_seconds is None else poll_seconds
        while True:
            outcome = self.step(module_id)
            if on_step:
                on_step(self.modules.get(module_id))
            if outcome == FINISHED:
                return self.modules.get(module_id)
            if outcome == WAITING:
                self.sleep(poll)

    def wake(self) -> None:
        for module_id in list(self.due):
            self.due[module_id] = 0.0

    def tick(self, stop=None, lock=None) -> None:
        """One step of every module build that is due (the daemon's tick)."""
        import contextlib

        now = self.clock()
        guard = lock or contextlib.nullcontext()
        with guard:
            live = self.modules.live()
        for module_id in live:
            if stop is not None and stop.is_set():
                return
            if self.due.get(module_id, 0.0) > now:
                continue
            with guard:
                try:
                    outcome = self.step(module_id)
                except Exception as exc:    # one broken module build must not stop the others
                    from discomy.orchestration.store import first_line, unavailable

                    if unavailable(exc):    # its writes are transactions: tried again whole
                        log.warning("module build %s: step failed, the store is unavailable "
                                    "(%s)", module_id, first_line(exc))
                    else:
                        log.exception("module build %s: step failed", module_id)
                    outcome = None
                row = self.modules.get(module_id)
            if outcome == FINISHED:
                self.forget(module_id)
                self.due.pop(module_id, None)
                continue
            quick = outcome == PROGRESS or (outcome is not None and row.backend == "local")
            self.due[module_id] = now + (0.0 if quick else self.config["koji"]["poll_seconds"])


HANDLERS = {core.INIT: ModuleDriver.on_init, core.WAIT: ModuleDriver.on_wait,
            core.BUILD: ModuleDriver.on_build, core.DONE: ModuleDriver.on_done}
