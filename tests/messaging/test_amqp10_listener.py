"""The AMQP 1.0 (protonmsg) listener through RabbitMQ's AMQP 1.0 plugin."""

from __future__ import annotations

import threading
import time

from proton import Message
from proton.utils import BlockingConnection

from discomy.events import BuildStateChanged, RepoDone
from discomy.listeners.amqp10 import Amqp10Config, Amqp10Listener

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
