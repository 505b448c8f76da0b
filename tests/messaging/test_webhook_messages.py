"""A forge push's build announced: each state on a real RabbitMQ as
``discomy.webhook.build.state.change`` (a fedora-messaging message found by its entry
point), and its end as a chat notice through the notifier's webhook."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from fedora_messaging.message import get_message

WEBHOOK_TESTS = Path(__file__).resolve().parents[1] / "webhooks"
if str(WEBHOOK_TESTS) not in sys.path:
    sys.path.insert(0, str(WEBHOOK_TESTS))

from hook_world import World  # noqa: E402

from discomy.orchestration.webhooks.messages import WebhookBuildStateChange  # noqa: E402

PREFIX = "org.example.prod"


class Chat(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        import json

        type(self).received.append(json.loads(self.rfile.read(
            int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def chat():
    Chat.received = []
    server = HTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def listening(topic_queue):
    """Every webhook state message on the bus, read with pika."""
    return topic_queue(f"{PREFIX}.discomy.webhook.#")


def test_each_state_of_a_push_build_is_on_the_bus_and_its_end_in_chat(rabbitmq, listening,
                                                                      chat, tmp_path):
    w = World(tmp_path, amqp_url=rabbitmq.url, topic_prefix=PREFIX,
              sections={"notify": {"webhook_url": chat}})
    try:
        build_id = w.push("github", "acme/corelib", w.first).json()["build"]
        w.settle()
        w.service.notifier.close()          # sends what it holds
        messages = [get_message(key, props, body) for key, props, body in listening()]
    finally:
        w.close()
    assert messages and all(isinstance(m, WebhookBuildStateChange) for m in messages)
    for m in messages:
        m.validate()
        assert m._headers["fedora_messaging_schema"] == "discomy.webhook.build.state.change.v1"
        assert m.topic == f"{PREFIX}.discomy.webhook.build.state.change"
    states = [(m.body["old_state"], m.body["state"]) for m in messages]
    assert states == [("queued", "preparing"), ("preparing", "submitted"),
                      ("submitted", "success")]
    last = messages[-1].body
    assert last["id"] == build_id and last["commit"] == w.first and last["mode"] == "ci"
    assert last["nvr"].startswith("corelib-1.2-0.git") and last["package"] == "corelib"
    assert last["url"].endswith(f"/pushes/{build_id}")
    (notice,) = Chat.received
    assert notice["kind"] == "ci build succeeded" and notice["nvr"] == last["nvr"]
    assert notice["url"] == last["url"] and "corelib" in notice["text"]
