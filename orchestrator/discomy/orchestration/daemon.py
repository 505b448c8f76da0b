"""The orchestrator daemon behind ``discomy serve`` (shell).

Listens to koji's messages (fedora-messaging and/or protonmsg, from the
``[messaging]`` section), stores every event once, and reacts with one small
handler per message kind (the layout of MBS's scheduler handlers):

- a COMPLETE build of a watched package (or, with ``[watch] tags``, its
  tagging into a watched tag) starts a campaign, unless a live one for that
  package and target exists: newer changes coalesce into it;
- a newer build of a package that failed in a live campaign resumes it (for
  koji campaigns: tagged into the campaign's destination or side tag);
- task and repo messages wake the campaign they concern, so it is looked at
  now rather than at its next poll.

Messages only make the daemon quicker. The engine polls its own tasks and repo
requests, and the reconciler asks koji directly every ``reconcile_seconds`` and
after every broker reconnect (latest builds of watched and failed packages;
campaigns paused by a hub outage), so a lost message loses no transition.

A message is never what stops the daemon: one that is not a koji event, or
whose handling fails, is kept in the store's rejected messages (``discomy
rejected``), counted and logged, and settled; only a store that is away (down,
restarting, disk full) gives messages back to the broker, to come again.

The main loop's tick advances every running campaign by one engine step (koji
campaigns no more often than ``[koji] poll_seconds`` unless woken), and every
module build by one step of :class:`~discomy.orchestration.modules.driver.ModuleDriver`
(which steps the campaign of its components itself). Prometheus
metrics are served when ``[metrics] port`` is set. SIGTERM and SIGINT stop it
after the step in hand, with exit status 0; everything it needs to go on is in
the store. A store that is away at start or later is waited for, with a log
line per try. A listener that stops for any reason other than a broker outage
(which it rides out itself) stops the daemon with a non-zero status, so its
service manager starts it again.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from discomy.orchestration import campaign as cm
from discomy.orchestration.events import BuildStateChanged, RepoDone, Tagged, TaskStateChanged

log = logging.getLogger(__name__)
COMPLETE = 1


class Service:
    def __init__(self, config: dict, metrics=None, session_factory: Optional[Callable] = None,
                 clock: Callable[[], float] = time.monotonic):
        from discomy.orchestration.runner import side_services
        from discomy.orchestration.store import Store

        self.config = config
        self.store = Store(config["store"]["url"])
        self.metrics = metrics
        self.lock = threading.RLock()        # handlers, ticks and the reconciler share the store
        self.clock = clock
        self.session_factory = session_factory or self._koji_session
        self._session = None
        self.gate, self.notifier = side_services(config)
        self.engines: dict = {}              # campaign id -> Engine (keeps backend caches)
        self.due: dict = {}                  # campaign id -> clock time of its next step
        self.reconcile_due = 0.0
        self.suffix = config["koji"]["release_suffix"]
        self.active_listeners: list = []     # those serve() runs
        self.listener_failures: dict = {}    # listener name -> why its thread ended
        from discomy.orchestration.modules.driver import ModuleDriver

        # module builds: their components' campaigns are driven by them, not below
        self.modules = ModuleDriver(self.store, config, session=self.session, gate=self.gate,
                                    notifier=self.notifier, metrics=metrics, clock=clock)

    # -- handlers, one per message kind -------------------------------------------
    def handle(self, event) -> None:
        self.handle_batch([event])

    def handle_batch(self, events: list) -> None:
        """Events stored in one transaction, then handled in order. A handler that fails
        forgets its event and those after it, and raises, so they count as new when they
        come again (or the reconciler finds them): as :class:`TryLater` when the store or
        the hub is away (the listener gives the messages back), else as it was raised (the
        listener rejects the message at fault)."""
        from discomy.orchestration.listeners import TryLater

        try:
            self._handle_batch(events)
        except Exception as exc:
            if try_later(exc):
                raise TryLater(f"{exc.__class__.__name__}: {first_line(exc)}") from exc
            raise

    def _handle_batch(self, events: list) -> None:
        with self.lock:
            new = self.store.record_events(events)
            handled: set = set()
            for i, event in enumerate(events):
                key = event.dedupe_key
                kind = type(event).__name__
                if key not in new or key in handled:
                    if self.metrics:
                        self.metrics.duplicates.labels(kind=kind).inc()
                    continue
                handled.add(key)
                if self.metrics:
                    self.metrics.events.labels(kind=kind, source="broker").inc()
                handler = HANDLERS.get(type(event))
                try:
                    if handler:
                        handler(self, event)
                except Exception:
                    handled.discard(key)
                    for later in events[i:]:
                        if later.dedupe_key in new and later.dedupe_key not in handled:
                            self.store.forget_event(later.dedupe_key)
                    raise

    def record_rejected(self, rejected) -> None:
        """A message a listener rejected: kept in the store, counted. Raises when it could
        not be kept, so the listener gives the message back instead of dropping it."""
        with self.lock:
            self.store.record_rejected(rejected)
        if self.metrics:
            self.metrics.rejected.labels(stage=rejected.stage).inc()

    def on_build_state(self, event: BuildStateChanged) -> None:
        if event.new != COMPLETE:
            return
        resumed = self.resume_failed(event.name, event.nvr, tag=None)
        if event.name in self.config["watch"]["packages"] and not self.config["watch"]["tags"] \
                and not resumed and not cm.made_by_a_campaign(event.release, self.suffix):
            self.start_campaign(event.name, event.nvr, event.dedupe_key)

    def on_tagged(self, event: Tagged) -> None:
        if event.action != "tag":
            return
        resumed = self.resume_failed(event.name, event.nvr, tag=event.tag)
        watch = self.config["watch"]
        if event.name in watch["packages"] and event.tag in watch["tags"] and not resumed \
                and not cm.made_by_a_campaign(event.release, self.suffix) \
                and not self.is_stale(event):
            self.start_campaign(event.name, event.nvr, event.dedupe_key)

    def is_stale(self, event: Tagged) -> bool:
        """A tag message that arrives after a newer build of the package was tagged (late,
        after an outage): the newer one has, or will have, its own campaign."""
        if self.config["campaign"]["backend"] != "koji":
            return False
        try:
            latest = self.session().getLatestBuilds(event.tag, package=event.name) or []
        except Exception as exc:       # koji unreachable: better a campaign than none
            log.warning("cannot tell whether %s is still the latest in %s: %s",
                        event.nvr, event.tag, exc)
            return False
        if latest and latest[0]["nvr"] != event.nvr:
            log.info("%s is no longer the latest %s in %s (%s is): no campaign for it",
                     event.nvr, event.name, event.tag, latest[0]["nvr"])
            return True
        return False

    def on_task_or_repo(self, event) -> None:
        """A task or repo of ours moved: look at the campaigns and module builds now."""
        for campaign_id in list(self.due):
            self.due[campaign_id] = 0.0
        self.modules.wake()

    def resume_failed(self, name: str, nvr: str, tag: Optional[str]) -> bool:
        """A newer build of ``name`` is in: resume every live campaign it failed in.
        Local campaigns take any COMPLETE build as the sign to build the package again
        from their source repositories (unless those still hold the source that
        failed); koji ones need it tagged into the campaign's destination or side tag
        (a build for another release does not count)."""
        found = False
        # one indexed query per event: most events concern no failed node at all
        for row, failed_nvr in self.store.failed_in_live_campaigns(name):
            if row.mode == "module":    # a module takes a fix as a new module version
                continue
            if row.backend == "koji" and tag not in (row.dest_tag, row.sidetag):
                continue
            if failed_nvr == nvr:
                continue
            log.info("campaign %s: a fixed build of %s is in (%s); resuming", row.id, name, nvr)
            try:
                self._engine(row).resume(name)
            except ValueError as exc:       # e.g. the fixed source has not reached the repo
                log.warning("campaign %s: not resumed: %s", row.id, exc)
                continue
            self.due[row.id] = 0.0
            found = True
        return found

    def start_campaign(self, name: str, nvr: str,
                       event_key: Optional[str] = None) -> Optional[int]:
        from discomy.orchestration.runner import plan_repos, start_campaign
        from discomy.planning.planner import PlanError
        from discomy.planning.repodata import RepodataError

        c = self.config["campaign"]
        koji_backend = c["backend"] == "koji"
        target = c["target"] if koji_backend else "local"
        live = self.store.live_campaign_for(name, target)
        if live is not None:
            log.info("%s changed again (%s): coalesced into live campaign %s", name, nvr, live)
            return None
        try:
            campaign_id = start_campaign(
                self.store, plan_repos(self.config, c["backend"]), [name], c["release"],
                backend=c["backend"],
                target=target, mode=c["mode"] if koji_backend else "local", depth=c["depth"],
                cache_dir=Path(self.config["plan"]["cache_dir"]), workdir=Path(c["workdir"]),
                module_streams=self.config["plan"]["module_streams"])
        except PlanError as exc:
            # the event is stored; the campaign cannot be planned: say so, lose nothing
            log.error("no campaign for %s (%s): %s", name, nvr, exc)
            return None
        except RepodataError as exc:
            # the repos may come back (a mount, a sync in progress): the event is not
            # kept as handled, so its redelivery or the reconciler tries again
            log.error("no campaign for %s (%s) yet: %s", name, nvr, exc)
            if event_key:
                self.store.forget_event(event_key)
            return None
        log.info("campaign %s: started for %s (%s)", campaign_id, name, nvr)
        self.due[campaign_id] = 0.0
        return campaign_id

    # -- engines and backends ------------------------------------------------------
    def _koji_session(self):
        from discomy.orchestration.backends.koji import session_for

        k = self.config["koji"]
        return session_for(k["profile"], k["server"])

    def wake(self, campaign_id: int) -> None:
        """Step this campaign at the next tick (it was started or resumed elsewhere)."""
        self.due[campaign_id] = 0.0

    def session(self):
        if self._session is None:
            self._session = self.session_factory()
        return self._session

    def _engine(self, row):
        from discomy.orchestration.runner import backend_for, engine_for

        if row.id not in self.engines:
            backend = backend_for(row, self.config, self.session)
            self.engines[row.id] = engine_for(self.store, row, self.config, backend,
                                              gate=self.gate, notifier=self.notifier,
                                              metrics=self.metrics)
        return self.engines[row.id]

    # -- the tick ------------------------------------------------------------------
    def tick(self, stop: Optional[threading.Event] = None) -> None:
        """Advance every running campaign that is due by one engine step; once ``stop`` is
        set, no further step starts."""
        from discomy.orchestration.engine import FINISHED, PROGRESS

        now = self.clock()
        with self.lock:
            if now >= self.reconcile_due:
                self.reconcile()
            rows = self.store.campaigns()
        for row in rows:
            if stop is not None and stop.is_set():
                return
            # the lock per step, not per tick: messages are handled between two campaigns'
            # steps (a step re-reads its campaign's state, so a row read above may be stale)
            with self.lock:
                if row.state != cm.RUNNING or row.mode == "module" or \
                        self.due.get(row.id, 0.0) > now:
                    continue
                try:
                    outcome = self._engine(row).step()
                except Exception as exc:      # one broken campaign must not stop the others
                    if try_later(exc):
                        # its writes are transactions: the step is tried again as a whole
                        log.warning("campaign %s: step failed, the store is unavailable "
                                    "(%s); trying again in %s s", row.id, first_line(exc),
                                    self.config["koji"]["poll_seconds"])
                    else:
                        log.exception("campaign %s: step failed", row.id)
                    outcome = None
                if outcome == FINISHED:
                    self.engines.pop(row.id, None)     # a resume builds a fresh one
                quick = outcome == PROGRESS or (outcome is not None and row.backend == "local")
                wait = 0.0 if quick else self.config["koji"]["poll_seconds"]
                self.due[row.id] = now + wait
        self.modules.tick(stop, lock=self.lock)
        if self.metrics:
            with self.lock:
                self._export_gauges()

    def _export_gauges(self) -> None:
        states = self.store.node_states()
        self.metrics.in_flight.set(states.get(cm.BUILDING, 0))
        self.metrics.queue_depth.set(states.get(cm.PLANNED, 0))

    # -- the reconciler --------------------------------------------------------------
    def request_reconcile(self) -> None:
        """From a listener that reconnected: messages may have been lost meanwhile."""
        self.reconcile_due = 0.0

    def reconcile(self) -> None:
        """Ask koji directly what messages would have said.

        - the latest build of each watched package in each watched tag (or, with no
          watched tags, its newest COMPLETE build), as if its message had come
          (stored by the same key, so nothing starts twice);
        - the latest build of each package that failed in a live koji campaign, in
          that campaign's destination and side tag: a newer one resumes it;
        - campaigns paused because the hub was down run again (a step pauses them
          again if it still is).
        """
        from discomy.orchestration.backends import HubUnavailable

        self.reconcile_due = self.clock() + self.config["messaging"]["reconcile_seconds"]
        rows = self.store.campaigns()
        for row in rows:
            if row.state == cm.PAUSED and row.note.startswith("hub:"):
                log.info("campaign %s: trying the hub again", row.id)
                self.store.set_campaign_state(row.id, cm.RUNNING, note="")
                self.due[row.id] = 0.0
        if self.config["campaign"]["backend"] != "koji" and \
                not any(r.backend == "koji" for r in rows):
            return
        try:
            self._reconcile_koji(rows)
        except (HubUnavailable, OSError) as exc:
            log.warning("reconciler: koji unavailable (%s); next try in %s s", exc,
                        self.config["messaging"]["reconcile_seconds"])
        except Exception as exc:      # koji faults: logged, retried next time
            log.warning("reconciler: %s", exc)

    def _reconcile_koji(self, rows) -> None:
        session = self.session()
        watch = self.config["watch"]
        # the first look at a watched package (in a watched tag) is a baseline: what is
        # there already starts nothing, it is only recorded
        for name in watch["packages"]:
            if watch["tags"]:
                seen = [(f"baseline:{tag}:{name}", _tagged(tag, build)) for tag in watch["tags"]
                        for build in session.getLatestBuilds(tag, package=name) or []]
            else:
                newest = session.listBuilds(packageID=name, state=COMPLETE,
                                            queryOpts={"order": "-build_id", "limit": 1})
                seen = [(f"baseline:builds:{name}", _completed(build)) for build in newest or []]
            for baseline, event in seen:
                if self.store.record_event(Marker(baseline)):
                    self.store.record_event(event)
                else:
                    self.handle(event)
        for row in rows:
            if row.backend != "koji" or row.mode == "module" or \
                    row.state not in (cm.RUNNING, cm.FAILED):
                continue
            failed = self.store.failed_names(row.id)
            for tag in filter(None, (row.dest_tag, row.sidetag)):
                for name in failed:
                    for build in session.getLatestBuilds(tag, package=name) or []:
                        # tagged after the campaign started: a fix, not the build it began from
                        if int(build.get("create_event") or 0) > int(row.start_event or 0):
                            self.handle(_tagged(tag, build))

    # -- running -----------------------------------------------------------------------
    def listeners(self) -> list:
        m = self.config["messaging"]
        out = []
        tls = {k: m[k] or None for k in ("tls_ca_cert", "tls_certfile", "tls_keyfile")}
        if m["amqp_url"]:
            from discomy.orchestration.listeners.amqp091 import (
                DEFAULT_TOPICS,
                Amqp091Listener,
                ListenerConfig,
            )

            prefix = m["topic_prefix"]
            topics = tuple(m["topics"]) or (
                tuple(t.replace("#.", f"{prefix}.", 1) for t in DEFAULT_TOPICS)
                if prefix else DEFAULT_TOPICS)
            config = ListenerConfig(url=m["amqp_url"], queue=m["queue"], topics=topics,
                                    queue_durable=m["queue_durable"], prefetch=m["prefetch"],
                                    batch=m["batch"],
                                    dead_letter_exchange=m["dead_letter_exchange"] or None,
                                    reconnect_max_seconds=m["reconnect_max_seconds"], **tls)
            out.append(Amqp091Listener(config, self.handle, on_reconnect=self.request_reconcile,
                                       batch_handler=self.handle_batch,
                                       on_reject=self.record_rejected))
        if m["amqp10_url"]:
            from discomy.orchestration.listeners.amqp10 import Amqp10Config, Amqp10Listener

            config = Amqp10Config(url=m["amqp10_url"], source=m["amqp10_source"],
                                  topic_prefix=m["amqp10_prefix"],
                                  reconnect_max_seconds=m["reconnect_max_seconds"], **tls)
            out.append(Amqp10Listener(config, self.handle, on_reconnect=self.request_reconcile,
                                      on_reject=self.record_rejected))
        return out

    def _listen(self, name: str, listener, stop: threading.Event) -> None:
        try:
            listener.run(stop)
        except BaseException as exc:   # logged here: serve() sees the thread gone
            log.critical("listener %s stopped: %s", name, exc, exc_info=True)
            self.listener_failures[name] = f"{exc.__class__.__name__}: {exc}"
            return
        if not stop.is_set():
            self.listener_failures[name] = "it returned"

    def serve(self, stop: threading.Event, tick_seconds: float = 2.0) -> int:
        """Listen and tick until ``stop`` is set (0), or until a listener thread ends (1)."""
        threads = []
        status = 0
        self.active_listeners = self.listeners()
        for listener in self.active_listeners:
            name = type(listener).__name__
            thread = threading.Thread(target=self._listen, args=(name, listener, stop),
                                      name=name, daemon=True)
            thread.start()
            threads.append(thread)
        try:
            while not stop.is_set():
                dead = [t.name for t in threads if not t.is_alive()]
                if dead and not stop.is_set():
                    log.critical("stopping: listener %s ended (%s); the daemon would be deaf",
                                 ", ".join(dead), "; ".join(self.listener_failures.get(n, "?")
                                                           for n in dead))
                    status = 1
                    break
                try:
                    self.tick(stop)
                except Exception as exc:
                    if not try_later(exc):
                        raise
                    log.warning("the store is unavailable (%s); trying again in %.0f s",
                                first_line(exc), tick_seconds)
                stop.wait(tick_seconds)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
            if self.notifier:
                self.notifier.close()
        return status


def try_later(exc: BaseException) -> bool:
    """Whether a failure is the store's, the hub's or the disk's being away, not the
    work's own: the same work succeeds once they are back."""
    from discomy.orchestration.backends import HubUnavailable
    from discomy.orchestration.store import unavailable

    return unavailable(exc) or isinstance(exc, (HubUnavailable, ConnectionError)) or (
        isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT))


def first_line(exc: BaseException) -> str:
    from discomy.orchestration.store import first_line as line

    return line(exc)


@dataclass(frozen=True)
class Marker:
    """A fact the daemon records once in the event table (stored, never handled)."""
    dedupe_key: str
    msg_id: str = "discomy"


def _completed(build: dict) -> BuildStateChanged:
    """What koji's build state message for ``build`` (a ``listBuilds`` row) would have said."""
    return BuildStateChanged(f"reconciler-build-{build['build_id']}", build["build_id"],
                             build["name"], build["version"], build["release"], None, COMPLETE,
                             build.get("task_id"))


def _tagged(tag: str, build: dict) -> Tagged:
    """What koji's tag message for ``build`` (a ``getLatestBuilds`` row) would have said."""
    return Tagged(f"reconciler-{tag}-{build['build_id']}", tag, build["name"], build["version"],
                  build["release"], "tag", build["build_id"])


HANDLERS = {BuildStateChanged: Service.on_build_state, Tagged: Service.on_tagged,
            TaskStateChanged: Service.on_task_or_repo, RepoDone: Service.on_task_or_repo}


STORE_RETRY_MAX_SECONDS = 60.0


def open_service(config: dict, metrics, stop: threading.Event) -> Optional[Service]:
    """The service on its store, waiting while the store is away (a database that starts
    after the daemon, or restarts); None when ``stop`` came first. A store that can never
    work (a bad URL, a schema from a newer version) raises :class:`StoreError` at once."""
    from discomy.orchestration.store import StoreUnavailable

    delay = 1.0
    while not stop.is_set():
        try:
            return Service(config, metrics)
        except StoreUnavailable as exc:
            log.warning("the store is unavailable (%s); trying again in %.0f s", exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, STORE_RETRY_MAX_SECONDS)
    return None
