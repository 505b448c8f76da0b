"""The koji backend through koji's own ClientSession, against a stand-in hub on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standins"))

from kojihub_xmlrpc import StandinKojiHub  # noqa: E402

from discomy.backends import HubUnavailable  # noqa: E402
from discomy.backends.koji import KojiBackend  # noqa: E402
from discomy.campaign import Node  # noqa: E402
from discomy.engine import Engine  # noqa: E402
from discomy.store import Store  # noqa: E402


@pytest.fixture
def hub():
    hub = StandinKojiHub()
    yield hub
    hub.stop()


def scm(name):
    return f"git+https://src.example.org/rpms/{name}.git#main"


def backend(hub, **kw):
    kw.setdefault("retries", 3)
    return KojiBackend(hub.url, "el9-candidate", scm, sleep=lambda s: None, **kw)


def campaign(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    nodes = [Node("parsekit", 0, (), 300.0), Node("alpha", 1, ("parsekit",), 200.0),
             Node("beta", 2, ("alpha",), 100.0), Node("other", 0, (), 50.0)]
    return store, store.create_campaign(["corelib"], "per-edge", "koji", nodes)


def test_a_scratch_build_is_submitted_with_its_priority_and_waited_for(hub):
    b = backend(hub, priorities={"parsekit": 12})
    hub.polls_to_finish = 3
    assert b.build("parsekit").ok
    (task,) = hub.tasks.values()
    assert task["request"] == [scm("parsekit"), "el9-candidate", {"scratch": True}]
    assert task["priority"] == 12
    assert hub.calls.count("getTaskInfo") == 3


def test_a_restarted_engine_waits_for_the_task_it_had_submitted(hub):
    b = backend(hub)
    hub.hub_build(scm("alpha"), "el9-candidate", {"scratch": True})
    assert b.build("alpha").ok
    assert hub.calls.count("build") == 0 and len(hub.tasks) == 1


def test_koji_failures_reach_the_campaign_classified(hub, tmp_path):
    store, cid = campaign(tmp_path)
    hub.outcomes[scm("parsekit")] = ["BuildError: mock exited with status 30; see root.log"]
    hub.outcomes[scm("alpha")] = ["BuildError: error building package (arch x86_64), "
                                  "mock exited with status 1; see build.log"]
    assert Engine(store, backend(hub), cid, release="per-edge").run() == "failed"
    nodes = store.nodes(cid)
    assert nodes["parsekit"].state == "done" and nodes["parsekit"].attempts == 2
    assert nodes["alpha"].state == "failed" and nodes["alpha"].failure_class == "package"
    assert nodes["beta"].state == "quarantined"
    assert nodes["other"].state == "done"


def test_hub_calls_are_retried_through_a_short_outage(hub):
    hub.offline = 3
    assert backend(hub, retries=3).build("other").ok


def test_a_hub_that_stays_down_pauses_the_campaign_instead_of_failing_it(hub, tmp_path):
    store, cid = campaign(tmp_path)
    with pytest.raises(HubUnavailable, match="koji hub unavailable"):
        hub.offline = 10
        backend(hub, retries=2).build("other")
    hub.offline = 1000
    assert Engine(store, backend(hub, retries=2), cid).run() == "paused"
    assert store.campaign(cid).state == "paused"
    assert {n.state for n in store.nodes(cid).values()} <= {"planned", "waiting-deps", "building"}
    # the hub is back: the campaign goes on from where it was
    hub.offline = 0
    store.set_campaign_state(cid, "running")
    assert Engine(store, backend(hub), cid, release="per-edge").run() == "done"
    assert hub.calls.count("build") == 4
