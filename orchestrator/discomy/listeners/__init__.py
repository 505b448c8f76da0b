"""Message listeners (shells): they turn broker messages into ``discomy.events``
and hand them to a handler, acknowledging a message only after the handler
returned, so an event is stored before the broker forgets it."""
