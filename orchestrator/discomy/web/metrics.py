"""Prometheus metrics of the REST API, served at its ``/metrics``.

One registry per application (not prometheus_client's global one), as the
daemon's :mod:`discomy.orchestration.metrics`. Requests are labelled by the
route's template (``/api/v1/campaigns/{campaign_id}``), never by the path a
client sent, so the series stay few whatever is asked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

UNMATCHED = "unmatched"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class ApiMetrics:
    registry: CollectorRegistry
    requests: Counter           # by method, route and status
    latency: Histogram          # seconds, by method and route
    in_flight: Gauge
    auth_failures: Counter      # 401s, by reason
    planning_refused: Counter   # 429s: every planning slot was busy

    @classmethod
    def create(cls) -> "ApiMetrics":
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter("discomy_api_requests_total", "API requests answered",
                             ["method", "route", "status"], registry=registry),
            latency=Histogram("discomy_api_request_seconds", "API request latency",
                              ["method", "route"], buckets=BUCKETS, registry=registry),
            in_flight=Gauge("discomy_api_requests_in_flight", "API requests being answered",
                            registry=registry),
            auth_failures=Counter("discomy_api_auth_failures_total",
                                  "requests refused for their credentials", ["reason"],
                                  registry=registry),
            planning_refused=Counter("discomy_api_planning_refused_total",
                                     "plans refused while every planning slot was busy",
                                     registry=registry),
        )


class MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI: streaming bodies pass as they are)."""

    def __init__(self, app, metrics: ApiMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        start = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.in_flight.dec()
            route = getattr(scope.get("route"), "path", UNMATCHED)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.requests.labels(method, route, str(status[0])).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
