"""One message never stops the daemon: the listeners of ``discomy serve`` against a real
RabbitMQ and the daemon's own store and handlers. A message that is not a koji event
(nested 100,000 deep, a lone surrogate in a name) or whose handling fails is kept in
the store's rejected messages, counted, and settled, and the messages around it go
on; a store that is only away gets the messages again; a listener that ends for
another reason stops the daemon with a non-zero status."""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
import time

import pika
import pytest

from discomy.orchestration.config import DEFAULTS
from discomy.orchestration.events import Tagged
from discomy.orchestration.metrics import Metrics
from discomy.orchestration.daemon import HANDLERS, Service

from samples import fedora_build, wait_until
from test_amqp091_listener import publish

PREFIX = "org.example.prod"


def koji_tag(build_id, name, tag="el9"):
    return {"build_id": build_id, "name": name, "version": "1", "release": "1.el9", "tag": tag,
            "tag_id": 2, "instance": "primary", "user": "packager", "owner": "packager"}


def service_for(tmp_path, rabbitmq, queue, batch, metrics=None):
    config = copy.deepcopy(DEFAULTS)
    config["store"]["url"] = f"sqlite:///{tmp_path / 'serve.sqlite'}"
    config["campaign"]["workdir"] = str(tmp_path / "work")
    config["messaging"].update(amqp_url=rabbitmq.url, topic_prefix=PREFIX, queue=queue,
                               batch=batch)
    return Service(config, metrics)


class Listening:
    """The service's own AMQP 0-9-1 listener, run on a thread as ``serve`` runs it."""

    def __init__(self, service):
        (self.listener,) = service.listeners()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.listener.run, args=(self.stop,), daemon=True)

    def __enter__(self):
        self.thread.start()
        time.sleep(0.5)             # queue declared and bound
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)


def stored_keys(service) -> set:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from discomy.orchestration.store import EventRow

    with Session(service.store.engine) as s:
        return set(s.scalars(select(EventRow.dedupe_key)))


def queue_depth(url, queue) -> int:
    """Messages ready plus unacknowledged, as the broker counts them."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


@pytest.mark.parametrize("batch", [1, 50])
def test_a_body_nested_a_hundred_thousand_deep_is_kept_as_rejected_and_the_listener_goes_on(
        tmp_path, rabbitmq, batch):
    metrics = Metrics.create()
    service = service_for(tmp_path, rabbitmq, f"q-deep-{batch}", batch, metrics)
    with Listening(service) as running:
        publish(rabbitmq.url, [
            (f"{PREFIX}.buildsys.build.state.change", "[" * 100_000),
            (f"{PREFIX}.buildsys.build.state.change", fedora_build(build_id=31)),
        ])
        assert wait_until(lambda: "build:31:1" in stored_keys(service), 20)
        assert running.thread.is_alive()
    (rejected,) = service.store.rejected()
    assert rejected.stage == "malformed" and "nested too deeply" in rejected.reason
    assert rejected.body == b"[" * 100_000 and rejected.size == 100_000
    assert rejected.topic == f"{PREFIX}.buildsys.build.state.change"
    assert metrics.registry.get_sample_value("discomy_messages_rejected_total",
                                             {"stage": "malformed"}) == 1
    # settled, so it does not come back after a restart
    assert queue_depth(rabbitmq.url, f"q-deep-{batch}") == 0


def test_a_lone_surrogate_is_refused_at_parse_time_and_its_batch_neighbours_are_stored(
        tmp_path, rabbitmq):
    service = service_for(tmp_path, rabbitmq, "q-surrogate", 50)
    with Listening(service) as running:
        # json.dumps writes the lone surrogate as the escape \udcff: valid JSON
        publish(rabbitmq.url, [(f"{PREFIX}.buildsys.tag", koji_tag(i, name))
                               for i, name in enumerate(["alpha", "be\udcffta", "gamma"])])
        assert wait_until(lambda: len(stored_keys(service)) == 2, 20)
        time.sleep(0.5)
    assert stored_keys(service) == {"tag:el9:alpha-1-1.el9", "tag:el9:gamma-1-1.el9"}
    (rejected,) = service.store.rejected()
    assert rejected.stage == "malformed" and "'name' is not valid Unicode text" in rejected.reason
    assert running.listener.stats.requeued == 0
    assert queue_depth(rabbitmq.url, "q-surrogate") == 0


def test_an_event_whose_handling_fails_is_rejected_alone_and_the_rest_of_its_batch_is_kept(
        tmp_path, rabbitmq, monkeypatch):
    real = HANDLERS[Tagged]

    def on_tagged(service, event):
        if event.name == "broken":
            raise ValueError("a handler bug this event walks into")
        real(service, event)

    monkeypatch.setitem(HANDLERS, Tagged, on_tagged)
    service = service_for(tmp_path, rabbitmq, "q-handler", 50)
    names = ["a1", "a2", "broken", "a3", "a4"]
    with Listening(service) as running:
        publish(rabbitmq.url, [(f"{PREFIX}.buildsys.tag", koji_tag(i, name))
                               for i, name in enumerate(names)])
        assert wait_until(lambda: service.store.rejected_count() == 1, 20)
        assert wait_until(lambda: len(stored_keys(service)) == 4, 20)
    assert stored_keys(service) == {f"tag:el9:{n}-1-1.el9" for n in names if n != "broken"}
    (rejected,) = service.store.rejected()
    assert rejected.stage == "unhandled"
    assert rejected.reason == "ValueError: a handler bug this event walks into"
    assert json.loads(rejected.body)["name"] == "broken"
    assert running.listener.stats.rejected == 1 and running.listener.stats.requeued == 0
    assert queue_depth(rabbitmq.url, "q-handler") == 0


def test_while_the_store_is_locked_messages_come_again_and_none_is_rejected(tmp_path, rabbitmq):
    service = service_for(tmp_path, rabbitmq, "q-locked", 50)
    with Listening(service) as running:
        # another writer holds the SQLite file past the driver's 5 s busy timeout
        blocker = sqlite3.connect(tmp_path / "serve.sqlite", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        publish(rabbitmq.url, [(f"{PREFIX}.buildsys.build.state.change",
                                fedora_build(build_id=i)) for i in (41, 42, 43)])
        assert wait_until(lambda: running.listener.stats.requeued >= 1, 20)
        blocker.execute("COMMIT")
        blocker.close()
        assert wait_until(lambda: len(stored_keys(service)) == 3, 30)
    assert stored_keys(service) == {"build:41:1", "build:42:1", "build:43:1"}
    assert service.store.rejected_count() == 0 and running.listener.stats.rejected == 0


def test_a_listener_that_ends_stops_the_daemon_with_a_non_zero_status(tmp_path, rabbitmq,
                                                                      monkeypatch):
    from discomy.orchestration.listeners.amqp091 import Amqp091Listener

    service = service_for(tmp_path, rabbitmq, "q-dies", 1)

    def run(self, stop):
        raise RuntimeError("a fault no reconnect can mend")

    monkeypatch.setattr(Amqp091Listener, "run", run)
    stop, result = threading.Event(), []
    thread = threading.Thread(target=lambda: result.append(service.serve(stop, 0.1)),
                              daemon=True)
    thread.start()
    thread.join(20)
    stopped = not thread.is_alive()
    stop.set()
    assert stopped, "discomy serve went on without its listener"
    assert result == [1]
    assert "a fault no reconnect can mend" in service.listener_failures["Amqp091Listener"]


def test_discomy_rejected_lists_what_the_daemon_rejected(tmp_path, capsys):
    from discomy.cli import main
    from discomy.orchestration.listeners import Rejected
    from discomy.orchestration.store import Store

    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    store = Store(url)
    store.record_rejected(Rejected("amqp091", "buildsys.tag", "m-1", b"\xff\x00 not json",
                                   {"headers": None}, "message 'm-1': body is not JSON",
                                   "malformed"))
    store.record_rejected(Rejected("amqp10", "koji.build.complete", None, {"a": [1, 2]}, None,
                                   "RuntimeError: boom", "unhandled"))
    assert main(["rejected", "--store", url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2 rejected messages, the newest 2:"
    assert "koji.build.complete" in out[1] and "RuntimeError: boom" in out[1]
    assert "buildsys.tag" in out[2] and "body is not JSON" in out[2]
    assert main(["rejected", "--store", url, "--json", "--limit", "1"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["body"] == '{"a": [1, 2]}'


def test_a_protonmsg_nested_too_deep_is_kept_as_rejected_and_the_receiver_goes_on(tmp_path,
                                                                                  rabbitmq):
    from discomy.orchestration.listeners.amqp10 import Amqp10Listener

    from samples import proton_build
    from test_amqp10_listener import send

    service = service_for(tmp_path, rabbitmq, "unused", 1)
    service.config["messaging"].update(amqp_url="", amqp10_source="/topic/koji.build.#",
                                       amqp10_url=f"amqp://127.0.0.1:{rabbitmq.port}")
    (listener,) = service.listeners()
    assert isinstance(listener, Amqp10Listener)
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(1.0)             # the subscription exists before koji publishes
        address, _, props = proton_build(build_id=61)
        send(rabbitmq.port, [(address, "[" * 100_000, props), proton_build(build_id=62)])
        assert wait_until(lambda: "build:62:1" in stored_keys(service), 20)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(30)
    (rejected,) = service.store.rejected()
    assert rejected.source == "amqp10" and "nested too deeply" in rejected.reason
    assert rejected.body == b"[" * 100_000 and "BuildStateChange" in rejected.properties
