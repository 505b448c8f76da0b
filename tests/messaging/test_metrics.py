"""The orchestrator's Prometheus metrics are scraped over HTTP on loopback."""

import socket
import urllib.request

from discomy.orchestration.metrics import Metrics


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metrics_are_served_with_their_labels():
    metrics = Metrics.create()
    metrics.events.labels(kind="build", source="amqp091").inc(3)
    metrics.failures.labels(failure_class="infrastructure").inc()
    metrics.in_flight.set(7)
    port = free_port()
    server = metrics.serve(port)
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        if isinstance(server, tuple):
            server[0].shutdown()
    assert 'discomy_events_total{kind="build",source="amqp091"} 3.0' in text
    assert 'discomy_failures_total{failure_class="infrastructure"} 1.0' in text
    assert "discomy_builds_in_flight 7.0" in text


def test_two_engines_in_one_process_keep_separate_counts():
    a, b = Metrics.create(), Metrics.create()
    a.rejected.labels(stage="malformed").inc()
    assert b.registry.get_sample_value("discomy_messages_rejected_total",
                                       {"stage": "malformed"}) is None
