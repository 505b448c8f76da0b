"""Prometheus metrics of the orchestrator, served on a local port.

One registry per process (not prometheus_client's global one), so tests and
several engines in one process do not collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


@dataclass
class Metrics:
    registry: CollectorRegistry
    events: Counter             # events stored, by kind and source
    duplicates: Counter         # events already seen (deduplicated), by kind
    rejected: Counter           # messages rejected, by stage (malformed / unhandled)
    queue_depth: Gauge          # nodes released but not yet submitted
    in_flight: Gauge            # builds submitted and not finished
    failures: Counter           # node failures, by class (infrastructure / package)
    submissions: Counter        # builds submitted, by backend

    @classmethod
    def create(cls) -> "Metrics":
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            events=Counter("discomy_events_total", "koji events stored", ["kind", "source"],
                           registry=registry),
            duplicates=Counter("discomy_events_duplicate_total", "koji events seen again",
                               ["kind"], registry=registry),
            rejected=Counter("discomy_messages_rejected_total",
                             "messages rejected: not koji events (malformed), or their "
                             "handling failed (unhandled)", ["stage"], registry=registry),
            queue_depth=Gauge("discomy_queue_depth", "nodes released and waiting to be submitted",
                              registry=registry),
            in_flight=Gauge("discomy_builds_in_flight", "builds submitted and not finished",
                            registry=registry),
            failures=Counter("discomy_failures_total", "node failures", ["failure_class"],
                             registry=registry),
            submissions=Counter("discomy_submissions_total", "builds submitted", ["backend"],
                                registry=registry),
        )

    def serve(self, port: int, address: str = "127.0.0.1") -> Optional[object]:
        """Expose ``/metrics`` on ``address:port`` (loopback by default)."""
        return start_http_server(port, addr=address, registry=self.registry)
