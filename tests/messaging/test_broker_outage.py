"""The broker down for a full minute in the middle of a campaign: no transition missed.

``discomy serve`` runs against a real RabbitMQ and the stand-in koji hub, with a
koji backend (scratch builds to ``el9-candidate``), ``[watch]`` on ``corelib``
and ``parsekit`` in ``el9`` and a periodic reconciler far beyond the test's
length, so only the engine's own polling and the reconnect hook can pick up
what happens while the broker is away.

1. Broker up: corelib's new build is tagged into el9 and its message starts
   campaign A (parsekit, then alpha, beta, appsuite).
2. RabbitMQ stops for 60 s. Meanwhile, with nothing published:
   - A's parsekit build finishes, alpha's build fails (the engine polls koji);
   - a fixed alpha is tagged into el9, A's destination tag (should resume A);
   - a new parsekit is tagged into el9, a watched package in a watched tag
     (should start campaign B).
3. RabbitMQ is back: the listener reconnects, its hook runs the reconciler,
   which resumes A and starts B. Then the messages koji would have sent are
   published late, with the same content: stored once, nothing starts twice.
4. Both campaigns complete; every transition of the outage was seen once.

And the guarantee it rests on: an event whose handler failed is not kept as
stored, so its redelivery (or the reconciler's look) still counts as new.
"""

from __future__ import annotations

import copy
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pika
from sqlalchemy import select
from sqlalchemy.orm import Session

from discomy.orchestration.config import DEFAULTS
from discomy.orchestration.daemon import Service
from discomy.orchestration.store import EventRow

from samples import fedora_build, wait_until
from test_amqp091_listener import publish

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standins"))

from kojihub_xmlrpc import StandinKojiHub  # noqa: E402

OUTAGE_SECONDS = 60.0
PREFIX = "org.example.prod"
QUEUE = "discomy-outage"
SCM = "git+https://src.example.org/rpms/{name}.git#main"
PACKAGES = ("corelib", "parsekit", "alpha", "beta", "appsuite")


def koji_tag(build: dict, tag: str = "el9", tag_id: int = 2) -> dict:
    """A koji-fedoramessaging ``buildsys.tag`` body for a stand-in build."""
    return {"build_id": build["build_id"], "name": build["name"], "version": build["version"],
            "release": build["release"], "tag": tag, "tag_id": tag_id, "instance": "primary",
            "user": "packager", "owner": "packager"}


def koji_messages(build: dict) -> list:
    """What koji sends when a packager's build completes and lands in el9."""
    return [(f"{PREFIX}.buildsys.build.state.change",
             fedora_build(build_id=build["build_id"], name=build["name"],
                          version=build["version"], release=build["release"])),
            (f"{PREFIX}.buildsys.tag", koji_tag(build))]


def queue_declared(url: str, queue: str) -> bool:
    try:
        connection = pika.BlockingConnection(pika.URLParameters(url))
    except pika.exceptions.AMQPError:
        return False
    try:
        connection.channel().queue_declare(queue, passive=True)
        return True
    except pika.exceptions.AMQPError:
        return False
    finally:
        if connection.is_open:
            connection.close()


def delete_queue(url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    connection.channel().queue_delete(queue)
    connection.close()


def config_for(tmp_path, rabbitmq, example_repos, hub) -> dict:
    config = copy.deepcopy(DEFAULTS)
    config["store"]["url"] = f"sqlite:///{tmp_path / 'serve.sqlite'}"
    config["campaign"].update(backend="koji", target="el9-candidate", mode="scratch",
                              workdir=str(tmp_path / "work"))
    config["plan"].update(repos=[str(r) for r in example_repos.repos],
                          cache_dir=str(tmp_path / "cache"))
    config["watch"].update(packages=["corelib", "parsekit"], tags=["el9"])
    config["koji"].update(server=hub.url, scm_url=SCM, poll_seconds=1, retries=2,
                          retry_backoff_seconds=0.2)
    config["messaging"].update(amqp_url=rabbitmq.url, topic_prefix=PREFIX, queue=QUEUE,
                               reconcile_seconds=3600)   # only a reconnect runs it again
    return config


def test_a_minute_without_the_broker_mid_campaign_misses_no_transition(
        tmp_path, rabbitmq, example_repos):
    wall = time.monotonic()
    hub = StandinKojiHub()
    with hub.lock:
        for name in PACKAGES:          # what el9 holds before anything happens
            hub.add_build(name, "1.0", "1.el9", "el9")
    hub.outcomes[SCM.format(name="alpha")] = [
        "BuildError: error building package (arch x86_64), mock exited with status 1; "
        "see build.log"]
    service = Service(config_for(tmp_path, rabbitmq, example_repos, hub))

    # what the daemon is told, by whom, and when
    handled, reconciles, reconnects, listeners = [], [], [], []
    real_handle, real_batch, real_reconcile, real_request, real_listeners = (
        service.handle, service.handle_batch, service.reconcile, service.request_reconcile,
        service.listeners)

    def handle(event):
        handled.append((time.monotonic(), event))
        real_handle(event)

    def handle_batch(events):
        handled.extend((time.monotonic(), event) for event in events)
        real_batch(events)

    def reconcile():
        started = time.monotonic()
        real_reconcile()
        reconciles.append((started, time.monotonic()))

    def request_reconcile():
        reconnects.append(time.monotonic())
        real_request()

    def quick_listeners():
        # the daemon backs off up to 60 s between reconnects; a test cannot wait that long
        out = real_listeners()
        for listener in out:
            listener.config = replace(listener.config, reconnect_min_seconds=0.5,
                                      reconnect_max_seconds=2.0)
        listeners.extend(out)
        return out

    service.handle, service.handle_batch, service.reconcile = handle, handle_batch, reconcile
    service.request_reconcile, service.listeners = request_reconcile, quick_listeners

    def node(cid, name):
        return service.store.nodes(cid)[name]

    def campaigns():
        return service.store.campaigns()

    seen = {}                           # transition -> what showed it
    stop = threading.Event()
    thread = threading.Thread(target=service.serve, args=(stop, 0.2), daemon=True)
    broker_down = False
    try:
        thread.start()
        # consuming, and the first look at el9 (the baseline) taken
        assert wait_until(lambda: queue_declared(rabbitmq.url, QUEUE) and reconciles, 30)
        (listener,) = listeners

        # -- 1. broker up: a message starts campaign A -------------------------------------
        hub.task_seconds = 12          # long enough for builds to finish during the outage
        with hub.lock:
            corelib = hub.add_build("corelib", "1.3", "2.el9", "el9")
        publish(rabbitmq.url, koji_messages(corelib))
        assert wait_until(lambda: len(campaigns()) == 1, 30)
        (a,) = campaigns()
        assert wait_until(lambda: node(a.id, "parsekit").task is not None, 30)

        # -- 2. the broker is down for a minute --------------------------------------------
        rabbitmq.stop()
        broker_down = True
        down_at = time.monotonic()
        # builds finish and fail with no message: the engine polls koji
        if wait_until(lambda: node(a.id, "parsekit").state == "done", 40):
            seen["A: parsekit's build finished"] = "engine poll, broker down"
        if wait_until(lambda: node(a.id, "alpha").state == "failed", 40):
            seen["A: alpha's build failed"] = "engine poll, broker down"
        assert wait_until(lambda: campaigns()[0].state == "failed", 10)
        hub.task_seconds = 1
        with hub.lock:
            alpha_fix = hub.add_build("alpha", "1.0", "2.el9", "el9")      # resumes A
            parsekit = hub.add_build("parsekit", "1.1", "1.el9", "el9")    # starts B
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        # not learnt yet (the broker is still down), and nothing lost either
        assert len(campaigns()) == 1 and node(a.id, "alpha").state == "failed"
        assert listener.stats.reconnects == 0 and not reconnects
        outage = time.monotonic() - down_at
        rabbitmq.start()
        broker_down = False
        up_at = time.monotonic()

        # -- 3. reconnected: the hook runs the reconciler, which catches up ----------------
        assert wait_until(lambda: len(campaigns()) == 2
                          and campaigns()[0].state != "failed", 30)
        caught_up = time.monotonic()
        if [c.changed for c in campaigns()] == ["corelib", "parsekit"]:
            seen["parsekit tagged into el9: B started"] = "reconciler after reconnect"
        if kinds(service, a.id).count("resumed") == 1:
            seen["alpha's fix tagged into el9: A resumed"] = "reconciler after reconnect"
        assert reconnects and listener.stats.reconnects >= 1
        # the campaigns change inside the reconcile; it is recorded once it returns
        assert wait_until(lambda: any(started >= reconnects[0] for started, _ in reconciles),
                          30), "no reconcile after the reconnect"
        b = campaigns()[1]

        # the messages koji sent meanwhile would only now arrive, as they were
        acked = listener.stats.acked
        late = koji_messages(alpha_fix) + koji_messages(parsekit)
        publish(rabbitmq.url, late)
        assert wait_until(lambda: listener.stats.acked == acked + len(late), 30)

        # -- 4. everything completes -------------------------------------------------------
        assert wait_until(lambda: [c.state for c in campaigns()] == ["done", "done"], 60)
    finally:
        stop.set()
        thread.join(60)
        if broker_down:
            rabbitmq.start()
        delete_queue(rabbitmq.url, QUEUE)
        hub.stop()
    wall = time.monotonic() - wall

    # -- the count -----------------------------------------------------------------------------
    assert [c.changed for c in campaigns()] == ["corelib", "parsekit"]   # B exactly once
    nodes_a, nodes_b = service.store.nodes(a.id), service.store.nodes(b.id)
    assert {n: x.state for n, x in nodes_a.items()} == dict.fromkeys(
        ("parsekit", "alpha", "beta", "appsuite"), "done")
    assert nodes_a["alpha"].reason == "fixed build"
    assert {n: x.state for n, x in nodes_b.items()} == dict.fromkeys(
        ("alpha", "beta", "appsuite"), "done")
    assert kinds(service, a.id).count("resumed") == 1                    # resumed once

    # every build submitted once: A's four (alpha's failed one included), B's three
    builds = sorted(t["request"][0].split("/")[-1].split(".git")[0]
                    for t in hub.tasks.values() if t["method"] == "build")
    assert builds == sorted(["parsekit", "alpha", "beta", "appsuite",
                             "alpha", "beta", "appsuite"])

    # each tag transition stored once, by whoever reported it first: the reconciler for
    # the two of the outage; the late messages were delivered, acknowledged and absorbed
    stored = events(service)
    assert stored[f"tag:el9:{corelib['nvr']}"] != "reconciler"
    assert stored[f"tag:el9:{alpha_fix['nvr']}"] == "reconciler"
    assert stored[f"tag:el9:{parsekit['nvr']}"] == "reconciler"
    delivered_late = [e for t, e in handled
                      if t > caught_up and not e.msg_id.startswith("reconciler-")]
    assert len(delivered_late) == len(late)
    duplicates = [e for e in delivered_late if stored.get(e.dedupe_key) == "reconciler"]
    assert len(duplicates) == 2

    expected = ["A: parsekit's build finished", "A: alpha's build failed",
                "alpha's fix tagged into el9: A resumed", "parsekit tagged into el9: B started"]
    missed = [t for t in expected if t not in seen]
    print(f"\nbroker outage: {outage:.1f} s down, then {caught_up - up_at:.1f} s to catch up "
          f"after the restart; koji transitions during the outage expected {len(expected)}, "
          f"seen {len(seen)}, missed {len(missed)}; late messages {len(late)} "
          f"({len(duplicates)} duplicates absorbed); reconnects {listener.stats.reconnects}; "
          f"wall {wall:.1f} s")
    assert outage >= OUTAGE_SECONDS
    assert missed == []


def kinds(service, campaign_id) -> list:
    return [n.kind for n in service.store.notifications(campaign_id)]


def events(service) -> dict:
    """dedupe key -> ``reconciler`` or ``broker``: who reported the stored event."""
    with Session(service.store.engine) as s:
        return {key: "reconciler" if msg_id.startswith("reconciler-") else "broker"
                for key, msg_id in s.execute(select(EventRow.dedupe_key, EventRow.msg_id))}


def test_a_transition_whose_handler_failed_is_handled_when_it_comes_again(tmp_path,
                                                                          example_repos):
    """The listener gives a message whose handler raised back to the broker; its
    redelivery (or the reconciler's look) must not then count as a duplicate."""
    from discomy.orchestration.events import BuildStateChanged

    config = copy.deepcopy(DEFAULTS)
    config["store"]["url"] = f"sqlite:///{tmp_path / 'serve.sqlite'}"
    config["watch"]["packages"] = ["corelib"]
    config["local"]["source_repos"] = [str(r) for r in example_repos.repos]
    config["campaign"]["workdir"] = str(tmp_path / "work")
    config["plan"]["cache_dir"] = str(tmp_path / "cache")
    service = Service(config)
    create, attempts = service.store.create_campaign, []

    def create_once_locked(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("database is locked")
        return create(*args, **kwargs)

    service.store.create_campaign = create_once_locked
    event = BuildStateChanged("m-1", 900, "corelib", "1.3", "1.el9", 0, 1)
    try:
        service.handle(event)
    except OSError:
        pass
    assert service.store.campaigns() == []
    service.handle(event)                       # the broker delivers it again
    assert [c.changed for c in service.store.campaigns()] == ["corelib"]
    service.handle(event)                       # handled now: a true duplicate
    assert len(service.store.campaigns()) == 1 and len(attempts) == 2


def test_a_late_tag_message_for_a_superseded_build_starts_nothing(tmp_path, example_repos):
    """After an outage, the messages of two builds of a watched package arrive late: only
    the build that is still the latest in the watched tag gets a campaign."""
    from types import SimpleNamespace

    from discomy.orchestration.events import Tagged

    hub = StandinKojiHub()
    try:
        config = config_for(tmp_path, SimpleNamespace(url=""), example_repos, hub)
        config["messaging"]["amqp_url"] = ""
        old = hub.add_build("corelib", "1.3", "1.el9", "el9")
        new = hub.add_build("corelib", "1.3", "2.el9", "el9")
        service = Service(config)
        service.handle(Tagged("m-old", "el9", "corelib", "1.3", "1.el9", "tag", old["build_id"]))
        assert service.store.campaigns() == []
        service.handle(Tagged("m-new", "el9", "corelib", "1.3", "2.el9", "tag", new["build_id"]))
        assert [c.changed for c in service.store.campaigns()] == ["corelib"]
    finally:
        hub.stop()


def test_the_reconciler_finds_new_builds_of_watched_packages_without_any_message(
        tmp_path, example_repos):
    """Watching COMPLETE builds (no watched tags): what koji built while no message came
    is found with listBuilds; what was there at the first look starts nothing."""
    from types import SimpleNamespace

    from discomy.orchestration.events import BuildStateChanged

    hub = StandinKojiHub()
    try:
        config = config_for(tmp_path, SimpleNamespace(url=""), example_repos, hub)
        config["messaging"]["amqp_url"] = ""
        config["watch"]["tags"] = []
        hub.add_build("corelib", "1.3", "1.el9", "el9")
        service = Service(config)
        service.reconcile()                               # the baseline
        assert service.store.campaigns() == []
        newer = hub.add_build("corelib", "1.3", "2.el9", "el9")
        service.reconcile()
        assert [c.changed for c in service.store.campaigns()] == ["corelib"]
        service.store.set_campaign_state(1, "done")     # so only deduplication stops a second
        service.reconcile()
        # the message koji sent for that build, arriving late, is the same transition
        service.handle(BuildStateChanged("m-late", newer["build_id"], "corelib", "1.3", "2.el9",
                                         0, 1))
        assert len(service.store.campaigns()) == 1
    finally:
        hub.stop()
