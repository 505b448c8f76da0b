"""``discomy serve``: the orchestrator daemon (shell).

Listens to koji's messages (fedora-messaging and/or protonmsg, from the
``[messaging]`` section), stores every event once, and reacts with one small
handler per message kind (the layout of MBS's scheduler handlers):

- a COMPLETE build of a watched package starts a campaign, unless a live one
  for that package already exists (newer changes coalesce into it);
- a COMPLETE build of a package that failed in a live campaign resumes it:
  the node is done and its quarantined dependents are released;
- other events are stored for the reconciler and the record.

Between messages, a tick advances every running campaign by one engine step.
Prometheus metrics are served when ``[metrics] port`` is set. SIGTERM and
SIGINT stop it cleanly; everything it needs to go on is in the store.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Optional

from . import campaign as cm
from .events import BuildStateChanged

log = logging.getLogger(__name__)
COMPLETE = 1


class Service:
    def __init__(self, config: dict, metrics=None):
        from .store import Store

        self.config = config
        self.store = Store(config["store"]["url"])
        self.metrics = metrics
        self.lock = threading.Lock()        # handlers and ticks share the store

    # -- handlers, one per message kind -------------------------------------------
    def handle(self, event) -> None:
        with self.lock:
            if not self.store.record_event(event):
                if self.metrics:
                    self.metrics.duplicates.labels(kind=type(event).__name__).inc()
                return
            if self.metrics:
                self.metrics.events.labels(kind=type(event).__name__, source="broker").inc()
            handler = HANDLERS.get(type(event))
            if handler:
                handler(self, event)

    def on_build_state(self, event: BuildStateChanged) -> None:
        if event.new != COMPLETE:
            return
        resumed = self.resume_failed(event.name)
        watch = self.config["watch"]
        if event.name in watch.get("packages", []) and not resumed:
            self.start_campaign(event.name, event.nvr)

    def resume_failed(self, name: str) -> bool:
        from .engine import Engine

        found = False
        for row in self.store.campaigns():
            if row.state not in (cm.RUNNING, cm.FAILED):
                continue
            node = self.store.nodes(row.id).get(name)
            if node is not None and node.state == cm.FAILED:
                log.info("campaign %s: a fixed build of %s is in; resuming", row.id, name)
                Engine(self.store, None, row.id).resume(name)
                found = True
        return found

    def live_campaign_for(self, name: str) -> Optional[int]:
        for row in self.store.campaigns():
            if row.state in (cm.RUNNING, cm.PAUSED) and name in row.changed.split(","):
                return row.id
        return None

    def start_campaign(self, name: str, nvr: str) -> Optional[int]:
        from .local_campaign import start_local_campaign

        live = self.live_campaign_for(name)
        if live is not None:
            log.info("%s changed again (%s): coalesced into live campaign %s", name, nvr, live)
            return None
        repos = [Path(p) for p in self.config["local"]["source_repos"]]
        campaign_id = start_local_campaign(self.store, repos, [name],
                                           self.config["campaign"]["release"],
                                           workdir=Path(self.config["campaign"]["workdir"]))
        log.info("campaign %s: started for %s (%s)", campaign_id, name, nvr)
        return campaign_id

    # -- the tick ------------------------------------------------------------------
    def tick(self) -> None:
        """Advance every running local campaign by one engine step."""
        from .backends.local import LocalBackend
        from .engine import Engine

        with self.lock:
            for row in self.store.campaigns():
                if row.state != cm.RUNNING or row.backend != "local":
                    continue
                backend = LocalBackend(Path(row.workdir) / f"campaign-{row.id}",
                                       row.source_repos, row.id,
                                       dist=self.config["local"]["dist"])
                engine = Engine(self.store, backend, row.id, row.release,
                                self.config["campaign"]["max_in_flight"],
                                max_in_flight_global=self.config["campaign"]["max_in_flight_global"])
                engine.recover()
                if not engine.step():
                    state = cm.campaign_state(self.store.nodes(row.id).values())
                    if state != cm.RUNNING:
                        self.store.set_campaign_state(row.id, state)
                        log.info("campaign %s: %s", row.id, state)
            if self.metrics:
                self.metrics.in_flight.set(self.store.builds_in_flight())

    def listeners(self) -> list:
        messaging = self.config["messaging"]
        out = []
        if messaging.get("amqp_url"):
            from .listeners.amqp091 import Amqp091Listener, ListenerConfig

            out.append(Amqp091Listener(ListenerConfig(url=messaging["amqp_url"]), self.handle))
        if messaging.get("amqp10_url"):
            from .listeners.amqp10 import Amqp10Config, Amqp10Listener

            out.append(Amqp10Listener(Amqp10Config(url=messaging["amqp10_url"],
                                                   topic_prefix=messaging["amqp10_prefix"]),
                                      self.handle))
        return out

    def serve(self, stop: threading.Event, tick_seconds: float = 2.0) -> None:
        threads = []
        for listener in self.listeners():
            thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
            thread.start()
            threads.append(thread)
        while not stop.is_set():
            self.tick()
            stop.wait(tick_seconds)
        for thread in threads:
            thread.join(30)


HANDLERS = {BuildStateChanged: Service.on_build_state}


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run the orchestrator daemon",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None,
                        help="TOML config (default /etc/discomy/orchestrator.toml)")
    parser.add_argument("--tick", type=float, default=2.0, help="seconds between campaign steps")
    parser.set_defaults(func=run_serve)


def run_serve(args) -> int:
    from .cli import CliError
    from .config import ConfigError, load_config
    from .metrics import Metrics

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    metrics = Metrics.create()
    if config["metrics"]["port"]:
        metrics.serve(config["metrics"]["port"], config["metrics"]["address"])
    service = Service(config, metrics)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("discomy serve: store %s", config["store"]["url"])
    service.serve(stop, args.tick)
    return 0
