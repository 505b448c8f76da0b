"""The AMQP 0-9-1 listener against a real RabbitMQ: typed events delivered once,
acknowledged only after the handler returned, bad messages rejected, reconnects."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import replace

import pika
import pytest

from discomy.orchestration.events import BuildStateChanged, RepoDone
from discomy.orchestration.listeners.amqp091 import (Amqp091Listener, ListenerConfig, ListenerConfigError,
                                       connection_parameters)

from samples import fedora_build, fedora_repo_done, wait_until


def publish(url, messages):
    """Publish ``(routing_key, body)`` pairs persistently, with publisher confirms."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    ids = []
    for key, body in messages:
        msg_id = str(uuid.uuid4())
        ids.append(msg_id)
        payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
        channel.basic_publish("amq.topic", key, payload,
                              pika.BasicProperties(message_id=msg_id, delivery_mode=2,
                                                   content_type="application/json"))
    connection.close()
    return ids


class Running:
    def __init__(self, listener):
        self.listener = listener
        self.stop = threading.Event()
        self.thread = threading.Thread(target=listener.run, args=(self.stop,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)



def config(rabbitmq, queue):
    return ListenerConfig(url=rabbitmq.url, queue=queue, reconnect_min_seconds=0.5,
                          reconnect_max_seconds=2)


def test_koji_messages_arrive_as_typed_events_exactly_once(rabbitmq):
    seen = []
    listener = Amqp091Listener(config(rabbitmq, "q-once"), seen.append)
    with Running(listener):
        time.sleep(0.5)     # queue declared and bound
        ids = publish(rabbitmq.url, [
            ("org.example.prod.buildsys.build.state.change", fedora_build(build_id=1)),
            ("org.example.prod.buildsys.repo.done", fedora_repo_done(repo_id=3)),
            ("org.example.prod.buildsys.rpm.sign", {"ignored": True}),   # not bound
        ])
        assert wait_until(lambda: len(seen) == 2)
        time.sleep(0.5)
    assert isinstance(seen[0], BuildStateChanged) and seen[0].build_id == 1
    assert isinstance(seen[1], RepoDone) and seen[1].repo_id == 3
    assert [e.msg_id for e in seen] == ids[:2]
    assert listener.stats.acked == 2


def test_a_handler_that_cannot_store_now_gets_the_message_again_instead_of_losing_it(rabbitmq):
    from discomy.orchestration.listeners import TryLater

    attempts = []

    def handler(event):
        attempts.append(event.dedupe_key)
        if len(attempts) == 1:
            raise TryLater("store is down")

    listener = Amqp091Listener(config(rabbitmq, "q-retry"), handler)
    with Running(listener):
        time.sleep(0.5)
        publish(rabbitmq.url, [("buildsys.build.state.change", fedora_build(build_id=2))])
        assert wait_until(lambda: len(attempts) == 2)
    assert attempts == ["build:2:1", "build:2:1"]
    assert listener.stats.requeued == 1 and listener.stats.acked == 1


def test_malformed_and_forged_messages_are_rejected_and_the_consumer_goes_on(rabbitmq):
    seen = []
    listener = Amqp091Listener(config(rabbitmq, "q-bad"), seen.append)
    with Running(listener):
        time.sleep(0.5)
        publish(rabbitmq.url, [
            ("buildsys.build.state.change", b"\xff not json"),
            ("buildsys.build.state.change", {**fedora_build(build_id=3), "new": 42}),
            ("buildsys.build.state.change", fedora_build(build_id=4)),
        ])
        assert wait_until(lambda: len(seen) == 1)
        time.sleep(0.3)
    assert seen[0].build_id == 4
    assert listener.stats.rejected == 2


def test_broker_restart_reconnects_fires_the_reconciler_hook_and_loses_nothing(rabbitmq):
    seen, reconnects = [], []
    listener = Amqp091Listener(config(rabbitmq, "q-restart"), seen.append,
                               on_reconnect=lambda: reconnects.append(time.monotonic()))
    with Running(listener):
        time.sleep(0.5)
        publish(rabbitmq.url, [("buildsys.build.state.change", fedora_build(build_id=i))
                               for i in range(10, 15)])
        assert wait_until(lambda: len(seen) == 5)
        rabbitmq.stop()
        time.sleep(1)
        rabbitmq.start()
        publish(rabbitmq.url, [("buildsys.build.state.change", fedora_build(build_id=i))
                               for i in range(15, 20)])
        assert wait_until(lambda: len(seen) >= 10, 60)
    assert sorted({e.build_id for e in seen}) == list(range(10, 20))
    assert reconnects, "on_reconnect did not run after the broker came back"


def test_a_broker_that_was_down_at_start_fires_the_reconciler_hook_once_up(rabbitmq):
    reconnects = []
    rabbitmq.stop()
    try:
        listener = Amqp091Listener(replace(config(rabbitmq, "q-late"), reconnect_min_seconds=0.2,
                                           reconnect_max_seconds=0.5),
                                   lambda e: None, on_reconnect=lambda: reconnects.append(1))
        with Running(listener):
            time.sleep(1.0)                 # refused meanwhile: koji may have sent messages
            rabbitmq.start()
            assert wait_until(lambda: reconnects == [1], 30)
    finally:
        if rabbitmq.proc.poll() is not None:
            rabbitmq.start()


def test_listener_config_errors_name_the_key():
    with pytest.raises(ListenerConfigError, match="unknown key"):
        ListenerConfig.from_mapping({"uri": "amqp://x"})
    with pytest.raises(ListenerConfigError, match="prefetch"):
        ListenerConfig.from_mapping({"prefetch": 0})
    assert ListenerConfig.from_mapping({"topics": ["a.b"]}).topics == ("a.b",)


def test_amqps_with_certificate_files_connects_over_tls(tmp_path):
    import subprocess

    key, cert = tmp_path / "client-key.pem", tmp_path / "client-cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=discomy-test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    config = ListenerConfig.from_mapping({
        "url": "amqps://fedora:@broker.example.org/%2Fpublic_pubsub", "queue_durable": False,
        "tls_ca_cert": str(cert), "tls_certfile": str(cert), "tls_keyfile": str(key)})
    params = connection_parameters(config)
    assert params.ssl_options is not None and params.port == 5671
    assert params.virtual_host == "/public_pubsub"
    assert connection_parameters(ListenerConfig()).ssl_options is None
    with pytest.raises(ListenerConfigError, match="tls_certfile and tls_keyfile"):
        ListenerConfig.from_mapping({"tls_certfile": str(cert)})


def test_batch_mode_hands_over_waiting_events_together_and_acks_after(rabbitmq):
    batches, published = [], threading.Event()

    def store(events):
        published.wait(30)      # a slow first commit: the rest queue up meanwhile
        batches.append(list(events))

    listener = Amqp091Listener(
        ListenerConfig(url=rabbitmq.url, queue="q-batch", batch=50, reconnect_min_seconds=0.5),
        handler=lambda e: None, batch_handler=store)
    with Running(listener):
        time.sleep(0.5)
        publish(rabbitmq.url, [("buildsys.build.state.change", fedora_build(build_id=i))
                               for i in range(120)] +
                [("buildsys.build.state.change", b"junk")])
        published.set()
        assert wait_until(lambda: sum(len(b) for b in batches) == 120)
        time.sleep(0.3)
    assert max(len(b) for b in batches) > 1 and all(len(b) <= 50 for b in batches)
    assert sorted(e.build_id for b in batches for e in b) == list(range(120))
    assert listener.stats.acked == 120 and listener.stats.rejected == 1
