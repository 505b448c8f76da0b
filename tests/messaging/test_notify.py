"""Notifications reach a real local webhook and SMTP server, signed, rate-limited,
and never block the caller."""

from __future__ import annotations

import hashlib
import hmac
import json
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from hypothesis import given, strategies as st

from discomy.orchestration.notify import (Notification, NotifyConfig, NotifyConfigError, Notifier, TokenBucket,
                            render)


class Hook(BaseHTTPRequestHandler):
    received: list = []
    delay = 0.0

    def do_POST(self):
        time.sleep(type(self).delay)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    Hook.received, Hook.delay = [], 0.0
    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", Hook
    server.shutdown()
    server.server_close()


class SMTPSink(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: records each message's data."""

    messages: list = []

    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())

    def handle(self):
        self.reply("220 localhost sink")
        data = None
        while True:
            line = self.rfile.readline().decode(errors="replace")
            if not line:
                return
            if data is not None:
                if line.rstrip("\r\n") == ".":
                    type(self).messages.append("".join(data))
                    data = None
                    self.reply("250 queued")
                else:
                    data.append(line)
                continue
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 localhost")
            elif verb == "DATA":
                data = []
                self.reply("354 go on")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def smtp():
    SMTPSink.messages = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SMTPSink)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], SMTPSink
    server.shutdown()
    server.server_close()


FAILED = Notification("failed", "c42", "zlib", "zlib-1.3-2.el9", "build failed: %check",
                      "https://koji.example.org/koji/taskinfo?taskID=9", ("maint@example.org",))



def test_webhook_gets_text_and_fields_signed_with_hmac(webhook):
    url, hook = webhook
    notifier = Notifier(NotifyConfig(webhook_url=url, webhook_secret="s3cret"))
    notifier.notify(FAILED)
    notifier.close()
    headers, body = hook.received[0]
    payload = json.loads(body)
    assert "zlib (zlib-1.3-2.el9) failed" in payload["text"] and payload["campaign"] == "c42"
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Discomy-Signature"] == expected


def test_email_goes_to_configured_and_package_recipients(smtp):
    port, sink = smtp
    notifier = Notifier(NotifyConfig(smtp_host="127.0.0.1", smtp_port=port,
                                     mail_to=("releng@example.org",)))
    notifier.notify(FAILED)
    notifier.close()
    assert len(sink.messages) == 1
    message = sink.messages[0]
    assert "releng@example.org, maint@example.org" in message
    assert "Subject: [discomy] failed: zlib in campaign c42" in message


def test_a_hung_webhook_never_blocks_notify(webhook):
    url, hook = webhook
    hook.delay = 2.0
    notifier = Notifier(NotifyConfig(webhook_url=url, timeout_seconds=5))
    started = time.monotonic()
    for _ in range(5):
        assert notifier.notify(FAILED)
    assert time.monotonic() - started < 0.5
    notifier.close(timeout=0.1)


def test_a_storm_in_one_campaign_is_rate_limited(webhook):
    url, hook = webhook
    notifier = Notifier(NotifyConfig(webhook_url=url, burst=3, rate_per_hour=1))
    for _ in range(50):
        notifier.notify(FAILED)
    notifier.notify(Notification("failed", "other-campaign", "bash"))
    notifier.close()
    assert len(hook.received) == 4
    assert notifier.dropped["rate-limited"] == 47


def test_an_unreachable_webhook_is_retried_then_dropped_and_counted():
    notifier = Notifier(NotifyConfig(webhook_url="http://127.0.0.1:9/none", retries=2,
                                     timeout_seconds=1))
    notifier.notify(FAILED)
    notifier.close()
    assert notifier.dropped["failed"] == 1 and notifier.sent["webhook"] == 0


@given(st.floats(0.01, 10), st.integers(1, 10), st.lists(st.floats(0, 100), max_size=50))
def test_token_bucket_never_allows_more_than_burst_plus_refill(rate, burst, gaps):
    bucket, now, allowed = TokenBucket(rate, burst), 0.0, 0
    for gap in gaps:
        now += gap
        allowed += bucket.take(now)
    assert allowed <= burst + rate * now + 1e-6


def test_bad_notify_config_names_the_key():
    with pytest.raises(NotifyConfigError, match="unknown key"):
        NotifyConfig.from_mapping({"smtp": "x"})
    with pytest.raises(NotifyConfigError, match="placeholder"):
        NotifyConfig.from_mapping({"text_template": "$nope"})
    assert render(NotifyConfig(), FAILED)[0] == "[discomy] failed: zlib in campaign c42"
