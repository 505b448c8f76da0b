"""A consumer of koji-fedoramessaging messages on an AMQP 0-9-1 broker (RabbitMQ).

Contract with the handler: ``handler(event)`` stores the event (deduplicated)
and returns; only then is the message acknowledged. A handler that raises
:class:`~discomy.orchestration.listeners.TryLater` gets the message back later (nack with
requeue), so nothing is lost while the store is down. A message that is not a
valid koji event, or whose handling fails otherwise, goes to ``on_reject`` and
is rejected without requeue (dead-lettered by the broker too when the queue has
a dead-letter exchange), and the consumer goes on. Connection loss is retried
with backoff; ``on_reconnect()`` runs after every reconnection so the
reconciler can poll koji for what was missed. Any other error ends ``run`` (the
daemon watches its listeners and exits, for its service manager to restart it).

It speaks AMQP through pika, the client fedora-messaging itself is built on,
rather than ``fedora_messaging.api.consume``: that API reads one process-wide
configuration and runs a Twisted reactor, which cannot be restarted within a
process, while the daemon and its tests need several consumers with their own
settings. The queue, bindings, TLS files and prefetch mirror fedora-messaging's
own settings (see docs/messaging.md).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from discomy.common.settings import check_keys
from discomy.orchestration.events import KojiEvent, parse_fedora_message
from discomy.orchestration.listeners import (Delivery, Incoming, Rejected, TryLater, close_quietly,
                                            ride_out_outages)

log = logging.getLogger(__name__)

DEFAULT_TOPICS = (
    "#.buildsys.build.state.change", "#.buildsys.tag", "#.buildsys.untag",
    "#.buildsys.repo.done", "#.buildsys.task.state.change",
)


class ListenerConfigError(ValueError):
    """Listener settings that cannot work; the message names the key."""


@dataclass(frozen=True)
class ListenerConfig:
    url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    exchange: str = "amq.topic"
    queue: str = "discomy"
    topics: tuple = DEFAULT_TOPICS
    prefetch: int = 100
    validate: bool = True                  # check the koji-fedoramessaging schemas
    reconnect_min_seconds: float = 1.0
    reconnect_max_seconds: float = 60.0
    dead_letter_exchange: Optional[str] = None
    batch: int = 1                          # >1: store up to this many events per commit
    batch_wait_seconds: float = 0.02
    queue_durable: bool = True              # False for Fedora's public broker (UUID-named queues)
    tls_ca_cert: Optional[str] = None       # amqps:// : CA bundle, client cert and key files
    tls_certfile: Optional[str] = None
    tls_keyfile: Optional[str] = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "[listener]") -> "ListenerConfig":
        values = check_keys(cls, data, where, ListenerConfigError)
        if "topics" in values:
            topics = values["topics"]
            if not isinstance(topics, (list, tuple)) or not all(isinstance(t, str) and t for t in topics):
                raise ListenerConfigError(f"{where}: topics must be a list of routing-key patterns")
            values["topics"] = tuple(topics)
        if "batch" in values and (not isinstance(values["batch"], int) or values["batch"] < 1):
            raise ListenerConfigError(f"{where}: batch must be a positive integer")
        if "prefetch" in values and (not isinstance(values["prefetch"], int) or values["prefetch"] < 1):
            raise ListenerConfigError(f"{where}: prefetch must be a positive integer")
        if "url" in values and not str(values["url"]).startswith(("amqp://", "amqps://")):
            raise ListenerConfigError(f"{where}: url must start with amqp:// or amqps://")
        if bool(values.get("tls_certfile")) != bool(values.get("tls_keyfile")):
            raise ListenerConfigError(f"{where}: tls_certfile and tls_keyfile go together")
        return cls(**values)


def connection_parameters(config: ListenerConfig):
    """pika connection parameters for ``config``: the URL, plus TLS files for amqps://."""
    import ssl

    import pika

    params = pika.URLParameters(config.url)
    if config.url.startswith("amqps://") and (config.tls_ca_cert or config.tls_certfile):
        context = ssl.create_default_context(cafile=config.tls_ca_cert)
        if config.tls_certfile:
            context.load_cert_chain(config.tls_certfile, config.tls_keyfile)
        params.ssl_options = pika.SSLOptions(context, params.host)
    params.client_properties = {"app": "discomy", "product": "discomy orchestrator"}
    return params


class Amqp091Listener:
    """Consume until ``stop`` is set: ``Amqp091Listener(config, handler).run(stop)``.

    With ``batch_handler`` and ``config.batch > 1`` the events that are already
    waiting (up to ``batch``) are handed over together, so the store commits them
    in one transaction (group commit), and acknowledged together afterwards.
    """

    def __init__(self, config: ListenerConfig, handler: Callable[[KojiEvent], None],
                 on_reconnect: Optional[Callable[[], None]] = None,
                 batch_handler: Optional[Callable[[list], None]] = None,
                 on_reject: Optional[Callable[[Rejected], None]] = None):
        self.config = config
        self.handler = handler
        self.batch_handler = batch_handler
        self.on_reconnect = on_reconnect
        self.delivery = Delivery("amqp091", on_reject)

    @property
    def stats(self):
        return self.delivery.stats

    # -- one message ----------------------------------------------------------
    def _incoming(self, method, properties, body) -> Incoming:
        msg_id = getattr(properties, "message_id", None)
        return Incoming(f"message {msg_id or method.delivery_tag!r} on {method.routing_key!r}",
                        method.routing_key, msg_id, body,
                        {"message_id": msg_id, "headers": getattr(properties, "headers", None),
                         "content_type": getattr(properties, "content_type", None)})

    def _parse(self, channel, method, properties, body):
        """``(incoming, tag, event)``, or None when the message was settled already."""
        tag = method.delivery_tag
        incoming = self._incoming(method, properties, body)
        msg_id = incoming.msg_id or f"amqp:{method.routing_key}:{tag}"
        self.stats.delivered += 1
        event = self.delivery.parse(
            lambda: parse_fedora_message(method.routing_key, body, msg_id,
                                         validate=self.config.validate),
            incoming, reject=lambda: channel.basic_reject(tag, requeue=False),
            retry=lambda: channel.basic_nack(tag, requeue=True))
        return None if event is None else (incoming, tag, event)

    def _handle(self, channel, incoming, tag, event, handler) -> bool:
        return self.delivery.handle(event, handler, incoming,
                                    ack=lambda: channel.basic_ack(tag),
                                    reject=lambda: channel.basic_reject(tag, requeue=False),
                                    retry=lambda: channel.basic_nack(tag, requeue=True))

    def _deliver(self, channel, method, properties, body) -> None:
        parsed = self._parse(channel, method, properties, body)
        if parsed is not None:
            self._handle(channel, *parsed, self.handler)

    def _deliver_batch(self, channel, messages) -> None:
        """Parse every message, store the good ones in one call, then ack them all.

        When the batch fails for another reason than :class:`TryLater`, its events are
        handed over again one at a time, so only the one at fault is rejected."""
        parsed = [p for p in (self._parse(channel, *m) for m in messages) if p is not None]
        if not parsed:
            return
        last = max(tag for _, tag, _ in parsed)
        try:
            self.batch_handler([event for _, _, event in parsed])
        except Exception as exc:
            if isinstance(exc, TryLater):
                # every earlier delivery is settled already, so one frame settles the batch
                self.delivery.give_back(f"a batch of {len(parsed)} events", exc,
                                        lambda: channel.basic_nack(last, multiple=True,
                                                                   requeue=True))
                return
            log.warning("a batch of %d events failed (%s); handing them over one by one",
                        len(parsed), exc.__class__.__name__)
            for i, (incoming, tag, event) in enumerate(parsed):
                if not self._handle(channel, incoming, tag, event,
                                    lambda e: self.batch_handler([e])):
                    for _, later, _ in parsed[i + 1:]:     # the store is away: all come again
                        channel.basic_nack(later, requeue=True)
                    return
            return
        self.delivery.backoff = 0.0
        channel.basic_ack(last, multiple=True)
        self.stats.acked += len(parsed)

    def _consume(self, channel, stop) -> None:
        if self.batch_handler is None or self.config.batch <= 1:
            for method, properties, body in channel.consume(self.config.queue,
                                                            inactivity_timeout=0.2):
                if stop.is_set():
                    break
                if method is not None:
                    self._deliver(channel, method, properties, body)
            return
        pending = []
        for method, properties, body in channel.consume(self.config.queue,
                                                        inactivity_timeout=self.config.batch_wait_seconds):
            if method is not None:
                pending.append((method, properties, body))
            # commit what has arrived as soon as nothing more is already waiting:
            # waiting for a full batch would add its fill time to every event's latency
            if pending and (method is None or len(pending) >= self.config.batch
                            or channel.get_waiting_message_count() == 0):
                self._deliver_batch(channel, pending)
                pending = []
            if stop.is_set():
                break
        if pending:
            self._deliver_batch(channel, pending)

    # -- the loop ---------------------------------------------------------------
    def _declare(self, channel) -> None:
        args = {}
        if self.config.dead_letter_exchange:
            args["x-dead-letter-exchange"] = self.config.dead_letter_exchange
        channel.queue_declare(self.config.queue, durable=self.config.queue_durable,
                              auto_delete=not self.config.queue_durable, arguments=args or None)
        for topic in self.config.topics:
            channel.queue_bind(self.config.queue, self.config.exchange, routing_key=topic)
        channel.basic_qos(prefetch_count=self.config.prefetch)

    def run(self, stop: threading.Event) -> None:
        from pika.exceptions import AMQPError

        ride_out_outages(stop, lambda connected: self._session(stop, connected),
                         (AMQPError, OSError), self.config, self.stats, self.on_reconnect,
                         f"broker {self.config.url}")

    def _session(self, stop: threading.Event, connected) -> None:
        import pika

        connection = pika.BlockingConnection(connection_parameters(self.config))
        try:
            channel = connection.channel()
            self._declare(channel)
            connected()
            self._consume(channel, stop)
            channel.cancel()
        finally:
            close_quietly(connection)
