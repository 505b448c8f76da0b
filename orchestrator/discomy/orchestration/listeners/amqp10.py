"""A consumer of upstream koji's protonmsg messages over AMQP 1.0 (python-qpid-proton).

Same contract as :mod:`discomy.orchestration.listeners.amqp091`: the message is accepted only
after ``handler(event)`` returned; :class:`~discomy.orchestration.listeners.TryLater` releases it
for redelivery; a message that is not a koji event, or whose handling fails
otherwise, goes to ``on_reject`` and is rejected; connection loss is retried with
backoff and followed by ``on_reconnect()``. The koji address comes from the
message's ``address`` (``topic://koji.build.complete``) or, through RabbitMQ's
AMQP 1.0 plugin, from the ``x-routing-key`` annotation; koji itself sets the
address only on its sender link, so without either the message's ``type`` and
``new`` properties say it (:func:`discomy.orchestration.events.protonmsg_address`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from discomy.common.settings import check_keys
from discomy.orchestration.events import KojiEvent, parse_protonmsg
from discomy.orchestration.listeners import (Delivery, Incoming, Rejected, close_quietly,
                                            ride_out_outages)
from discomy.orchestration.listeners.amqp091 import ListenerConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Amqp10Config:
    url: str = "amqp://127.0.0.1:5672"
    source: str = "/topic/koji.#"         # RabbitMQ; e.g. "topic://koji.>" on ActiveMQ Artemis
    topic_prefix: str = "koji"              # hub.conf protonmsg topic_prefix
    credit: int = 100
    reconnect_min_seconds: float = 1.0
    reconnect_max_seconds: float = 60.0
    tls_ca_cert: Optional[str] = None       # amqps:// : CA bundle
    tls_certfile: Optional[str] = None      # client certificate (may hold the key too, as koji's)
    tls_keyfile: Optional[str] = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "[listener.amqp10]") -> "Amqp10Config":
        data = check_keys(cls, data, where, ListenerConfigError)
        if "credit" in data and (not isinstance(data["credit"], int) or data["credit"] < 1):
            raise ListenerConfigError(f"{where}: credit must be a positive integer")
        if data.get("tls_keyfile") and not data.get("tls_certfile"):
            raise ListenerConfigError(f"{where}: tls_keyfile needs tls_certfile")
        return cls(**data)


def ssl_domain(config: Amqp10Config):
    """A proton client SSL domain for amqps:// (peer name verified), else None."""
    from proton import SSLDomain

    if not config.url.startswith("amqps://"):
        return None
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    if config.tls_ca_cert:
        domain.set_trusted_ca_db(config.tls_ca_cert)
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME, config.tls_ca_cert)
    if config.tls_certfile:
        domain.set_credentials(config.tls_certfile, config.tls_keyfile or config.tls_certfile, None)
    return domain


def koji_address(message) -> Optional[str]:
    """The protonmsg address of a received message."""
    annotations = message.annotations or {}
    for key, value in annotations.items():
        if str(key) == "x-routing-key" and value:
            return str(value)
    return message.address


class Amqp10Listener:
    def __init__(self, config: Amqp10Config, handler: Callable[[KojiEvent], None],
                 on_reconnect: Optional[Callable[[], None]] = None,
                 on_reject: Optional[Callable[[Rejected], None]] = None):
        self.config = config
        self.handler = handler
        self.on_reconnect = on_reconnect
        self.delivery = Delivery("amqp10", on_reject)

    @property
    def stats(self):
        return self.delivery.stats

    def _deliver(self, receiver, message) -> None:
        try:
            address = koji_address(message)
        except Exception:          # annotations no broker should send: the properties say it
            address = None
        msg_id = str(message.id) if message.id is not None else None
        incoming = Incoming(f"protonmsg {address!r}", address or "", msg_id, message.body,
                            message.properties)
        # RELEASED, not MODIFIED: RabbitMQ 3.10's AMQP 1.0 plugin never
        # redelivers a message settled as modified, so it would be lost
        retry = lambda: receiver.release(delivered=False)  # noqa: E731
        self.stats.delivered += 1
        event = self.delivery.parse(
            lambda: parse_protonmsg(address, message.body, message.properties, msg_id,
                                    prefix=self.config.topic_prefix),
            incoming, reject=receiver.reject, retry=retry)
        if event is not None:
            self.delivery.handle(event, self.handler, incoming, ack=receiver.accept,
                                 reject=receiver.reject, retry=retry)

    def run(self, stop: threading.Event) -> None:
        from proton import ConnectionException
        from proton.utils import LinkDetached

        ride_out_outages(stop, lambda connected: self._session(stop, connected),
                         (ConnectionException, LinkDetached, OSError), self.config,
                         self.stats, self.on_reconnect, f"AMQP 1.0 broker {self.config.url}")

    def _session(self, stop: threading.Event, connected) -> None:
        from proton import Timeout
        from proton.utils import BlockingConnection

        connection = BlockingConnection(self.config.url, timeout=10,
                                        ssl_domain=ssl_domain(self.config))
        try:
            receiver = connection.create_receiver(self.config.source, credit=self.config.credit)
            connected()
            while not stop.is_set():
                try:
                    message = receiver.receive(timeout=0.2)
                except Timeout:
                    continue
                self._deliver(receiver, message)
        finally:
            close_quietly(connection)
