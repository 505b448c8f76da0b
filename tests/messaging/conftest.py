"""A real RabbitMQ on 127.0.0.1 for the messaging tests, started once per session
(with the AMQP 1.0 plugin) and stopped by pid, epmd included."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


@dataclass
class Broker:
    base: Path
    port: int
    env: dict
    proc: subprocess.Popen = None
    epmd: subprocess.Popen = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def start(self) -> None:
        log = open(self.base / "server.log", "ab")
        self.proc = subprocess.Popen([RABBITMQ_SERVER], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_for_port(self.port, 90):
            self.stop()
            raise RuntimeError(f"RabbitMQ did not start; see {self.base / 'server.log'}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # the port closes a moment after the process is gone
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and wait_for_port(self.port, 0.1):
            time.sleep(0.2)


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory):
    if not os.path.exists(RABBITMQ_SERVER):
        pytest.fail("rabbitmq-server is not installed (make test installs it)")
    base = tmp_path_factory.mktemp("rabbitmq")
    port, dist, epmd_port = free_port(), free_port(), free_port()
    (base / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n")
    (base / "enabled_plugins").write_text("[rabbitmq_amqp1_0].\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(base),
        "RABBITMQ_BASE": str(base), "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"), "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_NODENAME": f"discomy-test-{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist), "RABBITMQ_PID_FILE": str(base / "pid"),
        "ERL_EPMD_ADDRESS": "127.0.0.1", "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }
    # our own epmd, so it is stopped by pid too (rabbitmq would daemonise one)
    epmd = subprocess.Popen(["epmd", "-port", str(epmd_port), "-address", "127.0.0.1"],
                            env=env, start_new_session=True)
    broker = Broker(base, port, env, epmd=epmd)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        epmd.terminate()
        epmd.wait(10)


@pytest.fixture
def topic_queue(rabbitmq):
    """``topic_queue(pattern)``: a queue bound to amq.topic with ``pattern``, read by the
    returned function, which gives every message waiting as (routing key, properties,
    body) and leaves the queue empty."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.url))
    channel = connection.channel()

    def bind(pattern: str):
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, "amq.topic", routing_key=pattern)

        def drain():
            got = []
            while True:
                method, properties, body = channel.basic_get(queue, auto_ack=True)
                if method is None:
                    return got
                got.append((method.routing_key, properties, body))
        return drain
    yield bind
    connection.close()
