"""``discomy.webhook.build.state.change``: a build a forge push started, announced on
the message bus.

A fedora-messaging message class (JSON schema in ``body_schema``), registered
under the ``fedora.messages`` entry point ``discomy.webhook.build.state.change.v1``
and sent with the module builds' publisher
(:class:`discomy.orchestration.modules.messages.Publisher`) to ``[webhooks]
amqp_url``. The body:

```json
{"id": 12, "forge": "github", "repository": "rpms/corelib", "branch": "main",
 "commit": "0123...", "mode": "ci", "backend": "koji", "target": "el9-candidate",
 "state": "submitted", "old_state": "preparing", "reason": "...",
 "package": "corelib", "nvr": "corelib-1.2-0.git20261130.0123abc.el9",
 "previous": "1.2-0.git20261129.89abcde.el9", "task": "4242", "url": "https://..."}
```
"""

from __future__ import annotations

from typing import Optional

from fedora_messaging import message

TOPIC = "discomy.webhook.build.state.change"
STATES = ["queued", "preparing", "skipped", "submitted", "success", "failure"]
_TEXT = {"type": "string"}


class WebhookBuildStateChange(message.Message):
    """A build started by a forge push moved to another state."""

    topic = TOPIC
    body_schema = {
        "id": "https://discomy.example.org/schemas/webhook.build.state.change.v1.json",
        "$schema": "http://json-schema.org/draft-04/schema#",
        "description": "A forge-push build's new state",
        "type": "object",
        "required": ["id", "forge", "repository", "branch", "commit", "mode", "backend",
                     "state", "old_state", "reason"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "forge": {"type": "string", "enum": ["github", "gitlab", "forgejo"]},
            "repository": _TEXT, "branch": _TEXT,
            "commit": {"type": "string", "pattern": "^[0-9a-f]{40}([0-9a-f]{24})?$"},
            "mode": {"type": "string", "enum": ["ci", "release"]},
            "backend": {"type": "string", "enum": ["koji", "local"]},
            "target": _TEXT,
            "state": {"type": "string", "enum": STATES},
            "old_state": {"type": ["string", "null"], "enum": STATES + [None]},
            "reason": _TEXT, "package": _TEXT, "nvr": _TEXT, "previous": _TEXT,
            "task": _TEXT, "url": _TEXT,
            "campaign": {"type": ["integer", "null"]},
        },
    }

    @property
    def app_name(self) -> str:
        return "discomy"

    @property
    def agent_name(self) -> Optional[str]:
        return None

    @property
    def summary(self) -> str:
        b = self.body
        what = b.get("nvr") or f"{b['repository']}@{b['commit'][:7]}"
        text = f"{b['mode']} build {b['id']} of {what} is {b['state']}"
        return f"{text}: {b['reason']}" if b.get("reason") else text

    def __str__(self) -> str:
        lines = [self.summary]
        if self.body.get("url"):
            lines.append(self.body["url"])
        return "\n".join(lines)
