"""Message listeners (shells): they turn broker messages into ``discomy.orchestration.events``
and hand them to a handler, acknowledging a message only after the handler
returned, so an event is stored before the broker forgets it.

Every message is settled one of three ways, so no single message can stop a
listener or come back for ever:

- the handler returned: acknowledged;
- the handler raised :class:`TryLater` (the message is fine, the store is not
  there now): given back to the broker, to come again;
- anything else (not a koji event, a body the parser chokes on, a handler or
  store that refuses this message): handed to ``on_reject`` as a
  :class:`Rejected` (the daemon keeps it in its dead-letter table) and rejected
  without requeue. If even ``on_reject`` fails, the message comes again.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from discomy.orchestration.events import KojiEvent, MessageError

log = logging.getLogger(__name__)

MALFORMED, UNHANDLED = "malformed", "unhandled"     # why a message was rejected
REASON_CHARS = 500


class TryLater(Exception):
    """Raised by a handler that cannot take a good message now (the store is down, the
    disk is full): the message goes back to the broker and comes again."""


@dataclass(frozen=True)
class Incoming:
    """A message as received, before it is parsed."""
    what: str                   # how log lines name it
    topic: str                  # the routing key or the AMQP 1.0 address
    msg_id: Optional[str]
    body: Any
    properties: Any = None


@dataclass(frozen=True)
class Rejected:
    """A message settled without its event being handled, as received."""
    source: str                 # "amqp091" or "amqp10"
    topic: str                  # the routing key or the AMQP 1.0 address
    msg_id: Optional[str]
    body: Any
    properties: Any
    reason: str                 # one sentence
    stage: str                  # MALFORMED: not a koji event; UNHANDLED: its handling failed


@dataclass
class ListenerStats:
    delivered: int = 0
    acked: int = 0
    rejected: int = 0
    requeued: int = 0
    reconnects: int = 0
    errors: collections.deque = field(default_factory=lambda: collections.deque(maxlen=100))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MessageError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    first = text.splitlines()[0] if text.strip() else type(exc).__name__
    return first[:REASON_CHARS]


class Delivery:
    """How one listener settles its messages (shared by both protocols)."""

    def __init__(self, source: str, on_reject: Optional[Callable[[Rejected], None]] = None):
        self.source = source
        self.on_reject = on_reject
        self.stats = ListenerStats()
        self.backoff = 0.0      # grows while the handler keeps saying TryLater

    def parse(self, parse: Callable[[], KojiEvent], message: Incoming, reject: Callable[[], None],
              retry: Callable[[], None]) -> Optional[KojiEvent]:
        """The message's event; None when it was settled here (rejected or given back)."""
        try:
            return parse()
        except Exception as exc:   # MessageError, or anything a hostile body provokes
            self.refuse(message, exc, MALFORMED, reject, retry)
            return None

    def handle(self, event: KojiEvent, handler: Callable, message: Incoming,
               ack: Callable[[], None], reject: Callable[[], None],
               retry: Callable[[], None]) -> bool:
        """Hand ``event`` over and settle its message; False when it was given back."""
        try:
            handler(event)
        except TryLater as exc:
            self.give_back(f"{message.what} ({event.dedupe_key})", exc, retry)
            return False
        except Exception as exc:
            log.error("handling %s (%s) failed", message.what, event.dedupe_key, exc_info=True)
            self.refuse(message, exc, UNHANDLED, reject, retry)
            return True
        self.backoff = 0.0
        ack()
        self.stats.acked += 1
        return True

    def refuse(self, message: Incoming, exc: BaseException, stage: str, reject: Callable[[], None],
               retry: Callable[[], None]) -> None:
        reason = _reason(exc)
        rejected = Rejected(self.source, message.topic, message.msg_id, message.body,
                            message.properties, reason, stage)
        try:
            if self.on_reject is not None:
                self.on_reject(rejected)
        except Exception as failure:
            # not recorded, so not dropped: it comes again
            self.give_back(message.what, failure, retry)
            return
        # a MessageError's sentence names the message already
        log.warning("rejected (%s): %s", stage,
                    reason if isinstance(exc, MessageError) else f"{message.what}: {reason}")
        self.stats.rejected += 1
        self.stats.errors.append(reason)
        reject()

    def give_back(self, what: str, exc: BaseException, retry: Callable[[], None]) -> None:
        self.backoff = min(max(self.backoff * 2, 0.05), 5.0)
        log.warning("%s comes again in %.2f s: %s", what, self.backoff, _reason(exc))
        self.stats.requeued += 1
        retry()
        # a broker redelivers at once: without a pause a down store is hammered
        time.sleep(self.backoff)


def ride_out_outages(stop, session: Callable[[Callable[[], None]], None], outages: tuple,
                     config, stats, on_reconnect: Optional[Callable[[], None]],
                     what: str) -> None:
    """Run ``session(connected)`` until ``stop`` is set, again after every broker outage.

    ``session`` connects, calls ``connected()`` once it can consume, consumes until
    ``stop`` and closes its connection whatever happens; an exception of ``outages``
    means the broker went away: it is retried with a backoff from
    ``config.reconnect_min_seconds`` to ``config.reconnect_max_seconds``, and
    ``on_reconnect()`` runs once it is back, as messages may have been lost meanwhile.
    """
    delay = config.reconnect_min_seconds
    missed = False          # a connection was lost or refused: messages may be gone

    def connected() -> None:
        nonlocal missed, delay
        if missed:
            stats.reconnects += 1
            log.info("reconnected to %s", what)
            if on_reconnect:
                on_reconnect()
        missed = False
        delay = config.reconnect_min_seconds

    while not stop.is_set():
        try:
            session(connected)
        except outages as exc:
            missed = True
            log.warning("%s unavailable (%s); retrying in %.0f s", what,
                        exc.__class__.__name__, delay)
            stop.wait(delay)
            delay = min(delay * 2, config.reconnect_max_seconds)


def close_quietly(connection) -> None:
    """Close a connection that may already be broken; a second failure changes nothing."""
    if connection is None or getattr(connection, "is_open", True) is False:
        return
    try:
        connection.close()
    except Exception:
        pass

