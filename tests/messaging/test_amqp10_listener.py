"""The AMQP 1.0 (protonmsg) listener through RabbitMQ's AMQP 1.0 plugin."""

from __future__ import annotations

import threading
import time

from proton import Message
from proton.utils import BlockingConnection

from discomy.orchestration.events import BuildStateChanged, RepoDone
from discomy.orchestration.listeners.amqp10 import Amqp10Config, Amqp10Listener

from samples import proton_build, wait_until


def send(port, messages):
    """Send like koji's protonmsg: to ``<prefix>.<address>`` on the topic exchange."""
    connection = BlockingConnection(f"amqp://127.0.0.1:{port}", timeout=10)
    senders = {}
    try:
        for address, body, props in messages:
            key = address.split("://", 1)[-1]
            if key not in senders:
                senders[key] = connection.create_sender(f"/topic/{key}")
            # like protonmsg: the address is on the link, not on the message
            senders[key].send(Message(body=body, properties=props, durable=True))
    finally:
        connection.close()



def test_protonmsg_build_and_repo_messages_arrive_as_events(rabbitmq):
    seen = []
    listener = Amqp10Listener(Amqp10Config(url=f"amqp://127.0.0.1:{rabbitmq.port}",
                                           reconnect_min_seconds=0.5), seen.append)
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(1.0)      # the subscription exists before koji publishes
        send(rabbitmq.port, [
            proton_build(build_id=77),
            ("topic://koji.repo.done", "{}", {"type": "RepoDone", "tag": "el9-build",
                                               "repo_id": 12, "task_id": 3, "expire": False}),
            ("topic://koji.build.complete", "{not json", {"new": "COMPLETE"}),
        ])
        assert wait_until(lambda: len(seen) == 2 and listener.stats.rejected == 1)
    finally:
        stop.set()
        thread.join(30)
    assert isinstance(seen[0], BuildStateChanged) and seen[0].build_id == 77
    assert seen[0].dedupe_key == "build:77:1"
    assert isinstance(seen[1], RepoDone) and seen[1].repo_id == 12


def test_a_handler_that_cannot_store_now_gets_the_protonmsg_message_again(rabbitmq):
    from discomy.orchestration.listeners import TryLater

    seen, failures = [], []

    def flaky(event):
        if not failures:
            failures.append(event)
            raise TryLater("store unavailable")
        seen.append(event)

    listener = Amqp10Listener(Amqp10Config(url=f"amqp://127.0.0.1:{rabbitmq.port}",
                                           source="/topic/koji.build.#",
                                           reconnect_min_seconds=0.5), flaky)
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        send(rabbitmq.port, [proton_build(build_id=78)])
        assert wait_until(lambda: len(seen) == 1)
    finally:
        stop.set()
        thread.join(30)
    assert failures[0].dedupe_key == seen[0].dedupe_key == "build:78:1"
    assert listener.stats.requeued == 1 and listener.stats.acked == 1


def test_installed_proton_is_built_with_tls():
    # a proton compiled without OpenSSL headers cannot speak amqps:// at all
    from proton import SSL

    assert SSL.present(), "python-qpid-proton was built without TLS: install libssl-dev and rebuild it"


def test_amqps_config_builds_a_verifying_tls_domain(tmp_path):
    import subprocess

    import pytest
    from discomy.orchestration.listeners.amqp091 import ListenerConfigError
    from discomy.orchestration.listeners.amqp10 import ssl_domain

    pem = tmp_path / "client.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=discomy-test", "-keyout", str(pem), "-out", str(pem)],
                   check=True, capture_output=True)
    config = Amqp10Config.from_mapping({"url": "amqps://broker.example.org:5671",
                                        "tls_ca_cert": str(pem), "tls_certfile": str(pem)})
    assert ssl_domain(config) is not None
    assert ssl_domain(Amqp10Config()) is None
    with pytest.raises(ListenerConfigError, match="tls_keyfile needs tls_certfile"):
        Amqp10Config.from_mapping({"tls_keyfile": str(pem)})


def test_protonmsg_listener_reconnects_after_a_broker_restart_and_calls_the_reconciler(rabbitmq):
    seen, reconnects = [], []
    listener = Amqp10Listener(Amqp10Config(url=f"amqp://127.0.0.1:{rabbitmq.port}",
                                           source="/topic/koji.build.#",
                                           reconnect_min_seconds=0.5, reconnect_max_seconds=2),
                              seen.append, on_reconnect=lambda: reconnects.append(1))
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        send(rabbitmq.port, [proton_build(build_id=90)])
        assert wait_until(lambda: len(seen) == 1)
        rabbitmq.stop()
        time.sleep(1)
        rabbitmq.start()
        # a topic subscription does not outlive its connection: what was sent
        # meanwhile is the reconciler's to find, hence the hook
        assert wait_until(lambda: reconnects, 60)
        time.sleep(0.5)
        send(rabbitmq.port, [proton_build(build_id=91)])
        assert wait_until(lambda: len(seen) == 2, 30)
    finally:
        stop.set()
        thread.join(30)
    assert [e.build_id for e in seen] == [90, 91]
    assert listener.stats.reconnects >= 1
