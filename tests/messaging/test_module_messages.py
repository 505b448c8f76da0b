"""``discomy.module.state.change`` on a real RabbitMQ: every state a module build reaches is
published after it is written, as a fedora-messaging message whose schema consumers find by
its entry point; a broker that is away gets the state later, once."""

from __future__ import annotations

import copy
import json

import pytest
from fedora_messaging.message import get_message

from discomy.cli.examples import EXAMPLE_MODULE, make_git_repos
from discomy.orchestration.config import DEFAULTS
from discomy.orchestration.modules.driver import ModuleDriver
from discomy.orchestration.modules.messages import ModuleStateChange, Publisher
from discomy.orchestration.modules.service import submit_module_build
from discomy.orchestration.store import Store

PREFIX = "org.example.prod"


@pytest.fixture(scope="module")
def git(tmp_path_factory):
    return make_git_repos(tmp_path_factory.mktemp("git"))


@pytest.fixture
def listening(topic_queue):
    """Every module state message on the bus, read with pika."""
    return topic_queue(f"{PREFIX}.discomy.module.#")


def _world(git, tmp_path, url):
    config = copy.deepcopy(DEFAULTS)
    config["modules"].update(workdir=str(tmp_path / "w"), amqp_url=url, topic_prefix=PREFIX,
                             rpms_repository=f"file://{git}/{{name}}.git")
    return config, Store(f"sqlite:///{tmp_path / 'db.sqlite'}")


def test_each_state_of_a_module_build_is_announced_with_its_schema(rabbitmq, listening, git,
                                                                  tmp_path):
    config, store = _world(git, tmp_path, rabbitmq.url)
    (build,) = submit_module_build(store, config, modulemd=EXAMPLE_MODULE.read_text(),
                                   owner="jdoe")
    row = ModuleDriver(store, config, sleep=lambda s: None).run(build["id"], poll_seconds=0)
    assert row.state == "ready" and row.published_state == "ready"
    messages = [get_message(key, props, body) for key, props, body in listening()]
    assert all(isinstance(m, ModuleStateChange) for m in messages)
    assert {m.topic for m in messages} == {f"{PREFIX}.discomy.module.state.change"}
    for m in messages:
        m.validate()
        assert m._headers["fedora_messaging_schema"] == "discomy.module.state.change.v1"
    bodies = [m.body for m in messages]
    assert [(b["old_state"], b["state"]) for b in bodies] == [
        ("init", "wait"), ("wait", "build"), ("build", "done"), ("done", "ready")]
    last = bodies[-1]
    assert last["nsvc"] == row.nsvc and last["repo"] == row.repo and last["owner"] == "jdoe"
    assert last["components"] == {"total": 4, "done": 4, "failed": 0, "reused": 0}
    assert messages[-1].summary == f"module build {row.id} ({row.nsvc}) is ready: " \
                                   f"module repo {row.repo}"
    assert messages[-1].usernames == ["jdoe"] and messages[-1].app_name == "discomy"


def test_a_broker_that_is_away_gets_the_state_later_once(rabbitmq, listening, git, tmp_path):
    config, store = _world(git, tmp_path, rabbitmq.url)
    (build,) = submit_module_build(store, config, modulemd=EXAMPLE_MODULE.read_text())
    # nothing listens there: every publish fails, the build goes on
    away = Publisher("amqp://guest:guest@127.0.0.1:9/%2F", topic_prefix=PREFIX,
                     timeout_seconds=1)
    row = ModuleDriver(store, config, publisher=away, sleep=lambda s: None).run(
        build["id"], poll_seconds=0)
    assert row.state == "ready" and row.published_state is None
    assert store.modules.live() == [row.id]              # still to be announced
    assert listening() == []
    back = ModuleDriver(store, config)                   # the broker is back
    assert back.step(row.id) == "finished"
    assert back.step(row.id) == "finished"
    (key, props, body), = listening()
    assert json.loads(body)["state"] == "ready" and json.loads(body)["old_state"] is None
    assert store.modules.get(row.id).published_state == "ready"
    assert store.modules.live() == []


def test_a_failed_module_build_is_announced_with_its_reason_and_class(rabbitmq, listening, git,
                                                                     tmp_path):
    config, store = _world(git, tmp_path, rabbitmq.url)
    config["campaign"]["max_infra_retries"] = 0
    text = EXAMPLE_MODULE.read_text().replace(
        "  components:\n    rpms:\n",
        "  components:\n    rpms:\n      renamed:\n        rationale: Its repository holds "
        "corelib's spec.\n        repository: file://" + str(git) + "/corelib.git\n"
        "        ref: main\n")
    (build,) = submit_module_build(store, config, modulemd=text)
    row = ModuleDriver(store, config, sleep=lambda s: None).run(build["id"], poll_seconds=0)
    assert (row.state, row.failure_class) == ("failed", "package")
    body = json.loads(listening()[-1][2])
    assert body["state"] == "failed" and body["failure_class"] == "package"
    assert body["state_reason"].startswith("component renamed failed: ")
    assert "has no renamed.spec" in body["state_reason"]
    assert body["components"]["failed"] == 1


def test_a_body_that_breaks_the_schema_is_not_sent(rabbitmq, listening):
    from jsonschema import ValidationError

    with pytest.raises(ValidationError):
        Publisher(rabbitmq.url, topic_prefix=PREFIX).publish(
            {"id": 1, "name": "m", "stream": "s", "version": "x", "context": "c",
             "nsvc": "m:s:x:c", "state": "bogus", "old_state": None, "state_reason": "",
             "scratch": False, "components": {"total": 0}})
    assert listening() == []
