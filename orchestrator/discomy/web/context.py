"""What every request handler works with: the store, the orchestrator config, the
API's settings, a koji session, and the hooks of the process it runs in.

One :class:`ApiContext` per application, on ``app.state.context``; handlers get
it with ``Depends(context)``. Inside ``discomy serve`` the daemon hands over its
lock (an API write never interleaves with an engine step), its ``wake``
(a campaign resumed or started here is stepped at the next tick, not after
the next koji poll) and its module driver's (``wake_modules``: a module build
submitted or canceled here is looked at the next tick).
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from fastapi import Request


@dataclass(frozen=True)
class ApiSettings:
    """The ``[api]`` section, parsed (the config has already checked it)."""
    reads_public: bool = True
    proxy_user_header: str = ""
    trusted_proxies: tuple = ()           # ipaddress networks
    max_body_bytes: int = 1 << 20
    planning_slots: int = 2
    koji_timeout_seconds: float = 15.0
    hosts_cache_seconds: float = 10.0
    metrics: bool = True

    @classmethod
    def from_config(cls, config: dict) -> "ApiSettings":
        a = config["api"]
        return cls(a["reads_public"], a["proxy_user_header"],
                   tuple(ipaddress.ip_network(p, strict=False) for p in a["trusted_proxies"]),
                   a["max_body_bytes"], a["planning_slots"], a["koji_timeout_seconds"],
                   a["hosts_cache_seconds"], a["metrics"])

    def trusts(self, address: Optional[str]) -> bool:
        """Whether a request from ``address`` (the TCP peer) may name its user in the
        proxy header."""
        if not address or not self.proxy_user_header:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)


@dataclass
class ApiContext:
    store: Any                                # discomy.orchestration.store.Store
    config: dict                              # the orchestrator config, checked
    settings: ApiSettings
    session_factory: Optional[Callable] = None   # a koji session; None: from [koji]
    admin_session_factory: Optional[Callable] = None  # None: [api] koji_admin_profile's
    write_lock: Any = field(default_factory=contextlib.nullcontext)
    wake: Callable[[int], None] = lambda campaign_id: None
    wake_modules: Callable[[], None] = lambda: None
    metrics: Any = None                       # discomy.web.metrics.ApiMetrics
    planning: threading.BoundedSemaphore = None
    caches: dict = field(default_factory=dict)
    dashboard: Any = None                     # discomy.web.dashboard.Dashboard, once mounted
    webhooks: Any = None                      # discomy.orchestration.webhooks.service.WebhookService

    def __post_init__(self):
        if self.planning is None:
            self.planning = threading.BoundedSemaphore(self.settings.planning_slots)

    def koji_session(self):
        """A koji session for one look (anonymous with ``[koji] server``), which gives
        up after ``[api] koji_timeout_seconds``."""
        if self.session_factory is not None:
            return self.session_factory()
        from discomy.orchestration.backends.koji import session_for

        k = self.config["koji"]
        session = session_for(k["profile"], k["server"])
        session.opts["timeout"] = self.settings.koji_timeout_seconds
        return session


    def may_drain(self) -> bool:
        """Whether the dashboard drains hosts: only with ``[api] koji_admin_profile``."""
        return bool(self.config["api"]["koji_admin_profile"])

    def koji_admin_session(self):
        """A koji session logged in as ``[api] koji_admin_profile`` (admin rights)."""
        if self.admin_session_factory is not None:
            return self.admin_session_factory()
        from discomy.orchestration.backends.koji import session_for

        session = session_for(self.config["api"]["koji_admin_profile"])
        session.opts["timeout"] = self.settings.koji_timeout_seconds
        return session


async def context(request: Request) -> ApiContext:
    # async: FastAPI runs a plain function on a worker thread, for nothing here
    return request.app.state.context
