"""Message listeners (shells): they turn broker messages into ``discomy.events``
and hand them to a handler, acknowledging a message only after the handler
returned, so an event is stored before the broker forgets it."""

import logging
from typing import Callable

from ..events import KojiEvent, MessageError

log = logging.getLogger(__name__)


def deliver(stats, parse: Callable[[], KojiEvent], handler: Callable[[KojiEvent], None],
            ack: Callable[[], None], reject: Callable[[], None], retry: Callable[[], None],
            what: str) -> None:
    """One message: parse it, hand the event over, and only then acknowledge it.

    A message that is not a koji event is rejected (never redelivered); a handler
    that raises gets the message back later (``retry``), so nothing is lost.
    """
    stats.delivered += 1
    try:
        event = parse()
    except MessageError as exc:
        log.warning("rejecting %s: %s", what, exc)
        stats.rejected += 1
        stats.errors.append(str(exc))
        reject()
        return
    try:
        handler(event)
    except Exception:  # the handler's failure must not lose the message
        log.exception("handler failed on %s (%s); it will come again", what, event.dedupe_key)
        stats.requeued += 1
        retry()
        return
    ack()
    stats.acked += 1
