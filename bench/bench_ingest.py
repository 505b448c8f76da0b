#!/usr/bin/env python3
"""Ingest rate and publish -> stored latency through a real RabbitMQ.

Starts RabbitMQ on 127.0.0.1 (as the tests do), publishes N koji
build-state messages (persistent) for a watched package with a live campaign,
and consumes them with the daemon's own listener and handlers (``Service``):
each event is stored in SQLite (deduplicated, committed before the ack) and
decided on (coalesced into the live campaign). Prints messages per second and
publish -> decision latency percentiles.

Usage: .venv/bin/python bench/bench_ingest.py [--messages 5000] [--validate]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pika

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "messaging"))

from conftest import Broker, free_port  # noqa: E402  (the tests' RabbitMQ launcher)
from samples import fedora_build  # noqa: E402

from discomy.orchestration.config import DEFAULTS  # noqa: E402
from discomy.orchestration.daemon import Service  # noqa: E402


def start_broker(base: Path) -> tuple:
    port, dist, epmd_port = free_port(), free_port(), free_port()
    (base / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n")
    (base / "enabled_plugins").write_text("[].\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(base), "RABBITMQ_BASE": str(base),
           "RABBITMQ_MNESIA_BASE": str(base / "mnesia"), "RABBITMQ_LOG_BASE": str(base / "log"),
           "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
           "RABBITMQ_NODENAME": f"discomy-bench-{port}@localhost",
           "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(port),
           "RABBITMQ_DIST_PORT": str(dist), "ERL_EPMD_ADDRESS": "127.0.0.1",
           "ERL_EPMD_PORT": str(epmd_port),
           "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}"}
    epmd = subprocess.Popen(["epmd", "-port", str(epmd_port), "-address", "127.0.0.1"], env=env,
                            start_new_session=True)
    broker = Broker(base, port, env, epmd=epmd)
    broker.start()
    return broker, epmd


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--validate", action="store_true", help="check the published schemas too")
    parser.add_argument("--batch", type=int, default=100, help="events per commit (1: one each)")
    parser.add_argument("--rate", type=float, default=0, help="publish at most this many msg/s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        broker, epmd = start_broker(base)
        try:
            config = copy.deepcopy(DEFAULTS)
            config["store"]["url"] = f"sqlite:///{base / 'bench.sqlite'}"
            config["messaging"].update(amqp_url=broker.url, queue="bench",
                                       topic_prefix="org.example.prod", batch=args.batch,
                                       prefetch=max(100, 2 * args.batch))
            # a watched package with a live campaign: every event is a real decision
            # (coalesce into it, or look for a failed node to resume)
            config["watch"]["packages"] = ["corelib"]
            service = Service(config)
            service.store.create_campaign(["corelib"], "per-tier", "local", [], target="local")
            sent_at: dict = {}
            latencies = []
            done = threading.Event()
            decide_batch, decide_one = service.handle_batch, service.handle

            def handle_batch(events):
                decide_batch(events)               # stored in one commit, decided, then acked
                now = time.perf_counter()
                latencies.extend(now - sent_at[e.msg_id] for e in events)
                if len(latencies) >= args.messages:
                    done.set()

            def handle(event):
                decide_one(event)
                latencies.append(time.perf_counter() - sent_at[event.msg_id])
                if len(latencies) >= args.messages:
                    done.set()

            service.handle_batch, service.handle = handle_batch, handle
            (listener,) = service.listeners()
            listener.config = replace(listener.config, validate=args.validate)
            stop = threading.Event()
            thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
            thread.start()
            time.sleep(1.0)
            connection = pika.BlockingConnection(pika.URLParameters(broker.url))
            channel = connection.channel()
            # no per-message confirm round trip: the publisher would be the bottleneck
            started = time.perf_counter()
            for i in range(args.messages):
                if args.rate:
                    while time.perf_counter() - started < i / args.rate:
                        time.sleep(0.0005)
                msg_id = str(uuid.uuid4())
                sent_at[msg_id] = time.perf_counter()
                channel.basic_publish("amq.topic", "org.example.prod.buildsys.build.state.change",
                                      json.dumps(fedora_build(build_id=i, name="corelib")),
                                      pika.BasicProperties(message_id=msg_id, delivery_mode=2))
            done.wait(600)
            elapsed = time.perf_counter() - started
            connection.close()
            stop.set()
            thread.join(30)
        finally:
            broker.stop()
            epmd.terminate()
            epmd.wait(10)
    lat = sorted(latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
    print(f"{len(lat)} messages through RabbitMQ, stored in SQLite and decided (schema validation "
          f"{'on' if args.validate else 'off'}, {args.batch} per commit"
          f"{f', paced at {args.rate:g}/s' if args.rate else ''}): {len(lat) / elapsed:,.0f} msg/s; "
          f"latency p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, max {lat[-1] * 1000:.1f} ms "
          f"(goal >= 1,000 msg/s, p99 <= 200 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
