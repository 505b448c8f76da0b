"""``discomy serve`` end to end: a koji message through a real RabbitMQ starts a
campaign, the daemon rebuilds the dependents locally, duplicates coalesce, and a
fixed build of a failed package resumes its campaign."""

from __future__ import annotations

import copy
import json
import threading
import time

from discomy.orchestration.config import DEFAULTS
from discomy.orchestration.metrics import Metrics
from discomy.orchestration.daemon import Service

from samples import fedora_build, wait_until
from test_amqp091_listener import publish


def value(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels) or 0


def config_for(tmp_path, rabbitmq, example_repos, watch):
    config = copy.deepcopy(DEFAULTS)
    config["store"]["url"] = f"sqlite:///{tmp_path / 'serve.sqlite'}"
    config["watch"]["packages"] = watch
    config["local"]["source_repos"] = [str(example_repos.source_repo),
                                       str(example_repos.binary_repo)]
    config["campaign"]["workdir"] = str(tmp_path / "work")
    config["messaging"]["amqp_url"] = rabbitmq.url
    config["messaging"]["topic_prefix"] = "org.example.prod"
    return config


def test_a_complete_build_of_a_watched_package_rebuilds_its_dependents(tmp_path, rabbitmq,
                                                                       example_repos):
    metrics = Metrics.create()
    service = Service(config_for(tmp_path, rabbitmq, example_repos, ["corelib"]), metrics)
    stop = threading.Event()
    thread = threading.Thread(target=service.serve, args=(stop, 0.2), daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        publish(rabbitmq.url, [
            ("org.example.prod.buildsys.build.state.change",
             fedora_build(build_id=900, name="corelib", version="1.3", release="1.el9")),
            # the same transition again, and a newer change while the campaign is live
            ("org.example.prod.buildsys.build.state.change",
             fedora_build(build_id=900, name="corelib", version="1.3", release="1.el9")),
            ("org.example.prod.buildsys.build.state.change",
             fedora_build(build_id=901, name="corelib", version="1.3", release="2.el9")),
            # not watched: stored, starts nothing
            ("org.example.prod.buildsys.build.state.change",
             fedora_build(build_id=902, name="standalone", version="1", release="1.el9")),
            # not a koji message at all: rejected and counted
            ("org.example.prod.buildsys.build.state.change", {"hello": "world"}),
        ])
        assert wait_until(lambda: [c.state for c in service.store.campaigns()] == ["done"], 120)
        assert wait_until(lambda: value(metrics, "discomy_messages_rejected_total",
                                        stage="malformed") == 1, 10)
    finally:
        stop.set()
        thread.join(60)
    assert value(metrics, "discomy_events_total", kind="BuildStateChanged", source="broker") == 3
    assert value(metrics, "discomy_events_duplicate_total", kind="BuildStateChanged") == 1
    assert value(metrics, "discomy_submissions_total", backend="local") == 4
    assert value(metrics, "discomy_builds_in_flight") == 0
    (rejected,) = service.store.rejected()
    assert rejected.stage == "malformed" and "'name' is a required property" in rejected.reason
    assert json.loads(rejected.body) == {"hello": "world"}
    (campaign,) = service.store.campaigns()
    nodes = service.store.nodes(campaign.id)
    assert {n: x.state for n, x in nodes.items()} == {
        "parsekit": "done", "alpha": "done", "beta": "done", "appsuite": "done"}


def test_a_fixed_build_resumes_the_local_campaign_it_failed_in_by_building_it_again(
        tmp_path, rabbitmq, example_repos):
    from dataclasses import replace

    config = config_for(tmp_path, rabbitmq, example_repos, [])
    service = Service(config)
    campaign_id = service.start_campaign("corelib", "corelib-1.3-1.el9")
    nodes = service.store.nodes(campaign_id)
    service.store.update_nodes(campaign_id, {
        "alpha": replace(nodes["alpha"], state="failed", reason="%check failed"),
        "beta": replace(nodes["beta"], state="quarantined"),
        "appsuite": replace(nodes["appsuite"], state="quarantined")})
    service.handle(__import__("discomy.orchestration.events", fromlist=["x"]).BuildStateChanged(
        "m-fix", 77, "alpha", "0.9", "2.el9", 0, 1))
    # a local campaign sees only its own repo: alpha is built again from the source repos
    # (the fixed source is there) before its dependents go
    nodes = service.store.nodes(campaign_id)
    assert nodes["alpha"].state == "planned" and nodes["alpha"].attempts == 0
    assert nodes["beta"].state == "planned" and nodes["appsuite"].state == "planned"
    assert service.store.campaign(campaign_id).state == "running"


def test_a_batch_is_stored_in_one_go_and_a_failing_handler_gives_the_rest_back(
        tmp_path, example_repos, monkeypatch):
    from types import SimpleNamespace

    import pytest
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from discomy.orchestration.events import BuildStateChanged
    from discomy.orchestration.store import EventRow

    config = config_for(tmp_path, SimpleNamespace(url=""), example_repos, ["corelib"])
    service = Service(config)
    other = BuildStateChanged("m1", 10, "standalone", "1", "1.el9", 0, 1)
    change = BuildStateChanged("m2", 11, "corelib", "1.3", "1.el9", 0, 1)
    later = BuildStateChanged("m3", 12, "parsekit", "1", "2.el9", 0, 1)
    batch = [other, other, change, later]
    real_start = service.start_campaign
    monkeypatch.setattr(service, "start_campaign",
                        lambda *a: (_ for _ in ()).throw(RuntimeError("planner went away")))
    with pytest.raises(RuntimeError):
        service.handle_batch(batch)

    def stored():
        with Session(service.store.engine) as s:
            return s.scalar(select(func.count()).select_from(EventRow))

    # what was handled stays stored; the failed event and those after it come again as new
    assert stored() == 1 and service.store.campaigns() == []
    monkeypatch.setattr(service, "start_campaign", real_start)
    service.handle_batch(batch)
    assert stored() == 3 and len(service.store.campaigns()) == 1
    service.handle_batch(batch)                 # a redelivery of the whole batch: nothing new
    assert stored() == 3 and len(service.store.campaigns()) == 1


def test_repos_that_are_missing_lose_nothing_and_our_own_rebuilds_start_nothing(
        tmp_path, example_repos):
    from types import SimpleNamespace

    from discomy.orchestration.events import Tagged

    config = config_for(tmp_path, SimpleNamespace(url=""), example_repos, ["corelib"])
    config["watch"]["tags"] = ["el9"]
    good = config["local"]["source_repos"]
    config["local"]["source_repos"] = [str(tmp_path / "not-mounted-yet")]
    service = Service(config)
    change = Tagged("m1", "el9", "corelib", "1.3", "1.el9", "tag", 900)
    service.handle(change)
    assert service.store.campaigns() == []
    # the repos are back: the same transition, delivered again, is not a duplicate
    config["local"]["source_repos"] = good
    service.handle(change)
    assert len(service.store.campaigns()) == 1
    service.store.set_campaign_state(1, "done")
    # a campaign's own rebuild of corelib, merged into the watched tag, starts nothing
    service.handle(Tagged("m2", "el9", "corelib", "1.3", "1.el9.discomy1", "tag", 901))
    assert len(service.store.campaigns()) == 1
    service.handle(Tagged("m3", "el9", "corelib", "1.4", "1.el9", "tag", 902))
    assert len(service.store.campaigns()) == 2


def test_the_messaging_section_configures_both_listeners(tmp_path, example_repos):
    from types import SimpleNamespace

    from discomy.orchestration.listeners.amqp091 import Amqp091Listener
    from discomy.orchestration.listeners.amqp10 import Amqp10Listener

    config = config_for(tmp_path, SimpleNamespace(url="amqps://broker.example.org/%2Fkoji"),
                        example_repos, [])
    config["messaging"].update(queue="6c1b5a4e", queue_durable=False, prefetch=50, batch=20,
                               amqp10_url="amqps://artemis.example.org:5671",
                               amqp10_source="topic://koji.>", reconnect_max_seconds=5.0)
    fedora, proton = Service(config).listeners()
    assert isinstance(fedora, Amqp091Listener) and isinstance(proton, Amqp10Listener)
    assert fedora.config.queue == "6c1b5a4e" and fedora.config.queue_durable is False
    assert (fedora.config.prefetch, fedora.config.batch) == (50, 20)
    assert "org.example.prod.buildsys.tag" in fedora.config.topics
    assert fedora.config.reconnect_max_seconds == proton.config.reconnect_max_seconds == 5.0
    assert proton.config.source == "topic://koji.>" and proton.config.topic_prefix == "koji"
