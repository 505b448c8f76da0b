"""Notifications: email and chat webhooks, templated, rate-limited, never blocking.

``Notifier.notify(n)`` only puts the notification on a bounded queue and
returns; a worker thread renders it and sends it to every configured channel.
A channel that fails is retried a few times and then the notification is
dropped and counted, so a dead SMTP relay or a hung webhook never stalls the
engine. Rate limiting is a token bucket per (channel, campaign) (the pure part:
:class:`TokenBucket`), so a storm of failures in one campaign becomes a few
messages, not hundreds.

Webhooks get ``{"text": ...}`` (what Slack, Mattermost and Matrix-style
incoming hooks accept) plus the structured fields; with a secret configured the
body is signed: ``X-Discomy-Signature: sha256=<hex HMAC of the body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import smtplib
import string
import threading
import time
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Any, Mapping, Optional

from discomy.common.settings import check_keys

log = logging.getLogger(__name__)

DEFAULT_SUBJECT = "[discomy] $kind: $package in campaign $campaign"
DEFAULT_TEXT = ("Discomy campaign $campaign: $package ($nvr) $kind.\n"
                "$reason\n$url")


class NotifyConfigError(ValueError):
    """Notification settings that cannot work; the message names the key."""


@dataclass(frozen=True)
class Notification:
    kind: str                  # "failed", "quarantined", "resumed", "done", ...
    campaign: str
    package: str = ""
    nvr: str = ""
    reason: str = ""
    url: str = ""
    recipients: tuple = ()     # extra email recipients (e.g. the package's maintainers)


@dataclass(frozen=True)
class NotifyConfig:
    smtp_host: Optional[str] = None
    smtp_port: int = 25
    mail_from: str = "discomy@localhost"
    mail_to: tuple = ()
    webhook_url: Optional[str] = None
    webhook_secret: Optional[str] = None
    subject_template: str = DEFAULT_SUBJECT
    text_template: str = DEFAULT_TEXT
    rate_per_hour: float = 20.0          # per channel and campaign
    burst: int = 5
    timeout_seconds: float = 10.0
    retries: int = 3
    queue_size: int = 1000

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "[notify]") -> "NotifyConfig":
        values = check_keys(cls, data, where, NotifyConfigError)
        if "mail_to" in values:
            if isinstance(values["mail_to"], str):
                values["mail_to"] = (values["mail_to"],)
            values["mail_to"] = tuple(values["mail_to"])
        for key in ("subject_template", "text_template"):
            if key in values:
                try:
                    string.Template(values[key]).substitute(_fields(Notification("k", "c")))
                except (KeyError, ValueError) as exc:
                    raise NotifyConfigError(f"{where}: {key} has an unknown placeholder {exc}") from None
        if values.get("webhook_url") and not str(values["webhook_url"]).startswith(("http://", "https://")):
            raise NotifyConfigError(f"{where}: webhook_url must be an http(s) URL")
        return cls(**values)


def _fields(n: Notification) -> dict:
    data = asdict(n)
    data["recipients"] = ", ".join(n.recipients)
    return data


def render(config: NotifyConfig, n: Notification) -> tuple:
    """(subject, text) of a notification."""
    values = _fields(n)
    subject = string.Template(config.subject_template).safe_substitute(values)
    text = string.Template(config.text_template).safe_substitute(values).strip()
    return subject, text


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class TokenBucket:
    """``rate`` tokens per second up to ``burst``; ``take(now)`` says whether one is left."""

    rate: float
    burst: int
    tokens: float = field(default=-1.0)
    stamp: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.stamp = float(self.burst), now
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Notifier:
    """Queue notifications and send them from a worker thread."""

    def __init__(self, config: NotifyConfig, clock=time.monotonic):
        self.config = config
        self.clock = clock
        self.queue: "queue.Queue[Optional[Notification]]" = queue.Queue(config.queue_size)
        self.buckets: dict = {}
        self.sent = {"email": 0, "webhook": 0}
        self.dropped = {"queue-full": 0, "rate-limited": 0, "failed": 0}
        self._thread = threading.Thread(target=self._work, name="discomy-notify", daemon=True)
        self._thread.start()

    def notify(self, n: Notification) -> bool:
        """Queue ``n``; never blocks. False when the queue is full (the notification is dropped)."""
        try:
            self.queue.put_nowait(n)
            return True
        except queue.Full:
            self.dropped["queue-full"] += 1
            log.warning("notification queue full; dropped %s for %s", n.kind, n.package)
            return False

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued, then stop the worker."""
        self.queue.put(None)
        self._thread.join(timeout)

    # -- the worker -------------------------------------------------------------
    def _allowed(self, channel: str, n: Notification) -> bool:
        key = (channel, n.campaign)
        bucket = self.buckets.setdefault(
            key, TokenBucket(self.config.rate_per_hour / 3600.0, self.config.burst))
        if bucket.take(self.clock()):
            return True
        self.dropped["rate-limited"] += 1
        return False

    def _work(self) -> None:
        while True:
            n = self.queue.get()
            if n is None:
                return
            subject, text = render(self.config, n)
            if self.config.webhook_url and self._allowed("webhook", n):
                self._try("webhook", lambda: self._post(n, text))
            recipients = tuple(self.config.mail_to) + tuple(n.recipients)
            if self.config.smtp_host and recipients and self._allowed("email", n):
                self._try("email", lambda: self._mail(recipients, subject, text))

    def _try(self, channel: str, send) -> None:
        for attempt in range(1, self.config.retries + 1):
            try:
                send()
                self.sent[channel] += 1
                return
            except Exception as exc:
                log.warning("%s notification failed (attempt %d): %s", channel, attempt, exc)
                time.sleep(min(0.2 * attempt, 2.0))
        self.dropped["failed"] += 1

    def _post(self, n: Notification, text: str) -> None:
        import requests

        payload = {"text": text, "kind": n.kind, "campaign": n.campaign, "package": n.package,
                   "nvr": n.nvr, "reason": n.reason, "url": n.url}
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self.config.webhook_secret:
            headers["X-Discomy-Signature"] = sign(self.config.webhook_secret, body)
        response = requests.post(self.config.webhook_url, data=body, headers=headers,
                                 timeout=self.config.timeout_seconds)
        response.raise_for_status()

    def _mail(self, recipients: tuple, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = self.config.mail_from
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message.set_content(text)
        with smtplib.SMTP(self.config.smtp_host, self.config.smtp_port,
                          timeout=self.config.timeout_seconds) as smtp:
            smtp.send_message(message)
