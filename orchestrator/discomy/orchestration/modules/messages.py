"""``discomy.module.state.change``: a module build's state, announced on the message bus.

:class:`ModuleStateChange` is a fedora-messaging message class (its JSON schema
is ``body_schema``), registered under the ``fedora.messages`` entry point
``discomy.module.state.change.v1``, so consumers read it with
``fedora_messaging.message.get_message`` like koji's own messages. The body:

```json
{"id": 7, "name": "nodejs", "stream": "20", "version": "9040020261204120000",
 "context": "1a2b3c4d", "nsvc": "nodejs:20:9040020261204120000:1a2b3c4d",
 "state": "ready", "old_state": "done", "state_reason": "...",
 "failure_class": null, "scratch": false, "owner": "jdoe", "backend": "koji",
 "koji_tag": "module-nodejs-20-...", "repo": "https://kojipkgs.example.org/repos-dist/...",
 "components": {"total": 3, "done": 3, "failed": 0, "reused": 1}}
```

:class:`Publisher` sends it with pika (the client fedora-messaging is built on)
to an AMQP 0-9-1 broker, publisher-confirmed, with fedora-messaging's headers
(``fedora_messaging_schema``, ``sent-at``, severity), a routing key of the
topic after ``topic_prefix``. A broker that is away raises
:class:`PublishError`; the driver announces the state again at its next step.
"""

from __future__ import annotations

import json
import logging
from typing import Optional

from fedora_messaging import message

log = logging.getLogger(__name__)

TOPIC = "discomy.module.state.change"
STATES = ["init", "wait", "build", "done", "ready", "failed", "canceled"]
_NULLABLE_TEXT = {"type": ["string", "null"]}


class ModuleStateChange(message.Message):
    """A module build moved to another state."""

    topic = TOPIC
    body_schema = {
        "id": "https://discomy.example.org/schemas/module.state.change.v1.json",
        "$schema": "http://json-schema.org/draft-04/schema#",
        "description": "A module build's new state",
        "type": "object",
        "required": ["id", "name", "stream", "version", "context", "nsvc", "state",
                     "old_state", "state_reason", "scratch", "components"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "name": {"type": "string", "minLength": 1},
            "stream": {"type": "string", "minLength": 1},
            "version": {"type": "string", "pattern": "^[0-9]+$"},
            "context": {"type": "string", "minLength": 1},
            "nsvc": {"type": "string"},
            "state": {"type": "string", "enum": STATES},
            "old_state": {"type": ["string", "null"], "enum": STATES + [None]},
            "state_reason": {"type": "string"},
            "failure_class": {"type": ["string", "null"],
                              "enum": ["package", "infrastructure", None]},
            "scratch": {"type": "boolean"},
            "owner": {"type": "string"},
            "backend": {"type": "string", "enum": ["koji", "local"]},
            "koji_tag": _NULLABLE_TEXT,
            "repo": _NULLABLE_TEXT,
            "components": {
                "type": "object",
                "required": ["total"],
                "properties": {k: {"type": "integer", "minimum": 0}
                               for k in ("total", "done", "failed", "reused")},
            },
        },
    }

    @property
    def app_name(self) -> str:
        return "discomy"

    @property
    def agent_name(self) -> Optional[str]:
        return self.body.get("owner") or None

    @property
    def usernames(self) -> list:
        return [self.body["owner"]] if self.body.get("owner") else []

    @property
    def summary(self) -> str:
        b = self.body
        text = f"module build {b['id']} ({b['nsvc']}) is {b['state']}"
        return f"{text}: {b['state_reason']}" if b.get("state_reason") else text

    def __str__(self) -> str:
        b = self.body
        lines = [self.summary]
        if b.get("repo"):
            lines.append(f"module repo: {b['repo']}")
        return "\n".join(lines)


class PublishError(RuntimeError):
    """The broker did not take the message."""


class Publisher:
    """Publish :class:`ModuleStateChange` messages to ``url`` (amqp:// or amqps://)."""

    def __init__(self, url: str, exchange: str = "amq.topic", topic_prefix: str = "",
                 timeout_seconds: float = 10.0):
        self.url, self.exchange = url, exchange
        self.prefix = topic_prefix.strip(".")
        self.timeout = timeout_seconds

    def routing_key(self, msg: message.Message) -> str:
        return f"{self.prefix}.{msg.topic}" if self.prefix else msg.topic

    def publish(self, body: dict) -> ModuleStateChange:
        import pika
        from pika.exceptions import AMQPError

        msg = ModuleStateChange(body=body)
        msg.validate()          # a message that breaks its own schema is ours to fix, not sent
        params = pika.URLParameters(self.url)
        params.socket_timeout = params.blocked_connection_timeout = self.timeout
        params.client_properties = {"app": "discomy", "product": "discomy orchestrator"}
        try:
            connection = pika.BlockingConnection(params)
            try:
                channel = connection.channel()
                channel.confirm_delivery()
                channel.basic_publish(self.exchange, self.routing_key(msg),
                                      json.dumps(msg.body).encode("utf-8"), msg._properties)
            finally:
                connection.close()
        except (AMQPError, OSError) as exc:
            raise PublishError(f"{_shown(self.url)}: {exc.__class__.__name__}: {exc}") \
                from None
        log.info("announced %s: module build %s is %s", self.routing_key(msg), body["id"],
                 body["state"])
        return msg


def _shown(url: str) -> str:
    """``url`` without its password, for logs."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()
