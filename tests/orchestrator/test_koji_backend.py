"""The koji backend through koji's own ClientSession, against a stand-in hub on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import koji
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standins"))

from kojihub_xmlrpc import StandinKojiHub  # noqa: E402

from discomy.orchestration.backends import BuildOutcome, HubUnavailable  # noqa: E402
from discomy.orchestration.backends.koji import KojiBackend, KojiBackendError, session_for  # noqa: E402
from discomy.orchestration.campaign import Node  # noqa: E402
from discomy.orchestration.engine import Engine, EngineSettings  # noqa: E402
from discomy.orchestration.store import Store  # noqa: E402

TEMPLATE = "git+https://src.example.org/rpms/{name}.git#main"


@pytest.fixture
def hub():
    hub = StandinKojiHub()
    yield hub
    hub.stop()


def scm(name):
    return TEMPLATE.format(name=name)


def backend(hub, campaign_id=1, **kw):
    kw.setdefault("retries", 3)
    kw.setdefault("scm_url", TEMPLATE)
    kw.setdefault("load_cache_seconds", 0)
    return KojiBackend(session_for(server=hub.url), campaign_id, "el9-candidate",
                       sleep=lambda s: None, **kw)


NODES = [Node("parsekit", 0, (), 300.0), Node("alpha", 1, ("parsekit",), 200.0),
         Node("beta", 2, ("alpha",), 100.0), Node("other", 0, (), 50.0)]


def campaign(tmp_path, mode="scratch", release="per-edge"):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    return store, store.create_campaign(["corelib"], release, "koji", NODES,
                                        target="el9-candidate", mode=mode)


def engine(store, cid, b, **kw):
    settings = EngineSettings(poll_seconds=0, **kw)
    return Engine(store, b, cid, settings=settings, sleep=lambda s: None)


def test_a_scratch_build_carries_the_campaign_and_a_relative_priority(hub):
    b = backend(hub)
    task = b.submit("parsekit", priority=25)
    (info,) = hub.tasks.values()
    assert info["request"] == [scm("parsekit"), "el9-candidate",
                               {"scratch": True, "custom_user_metadata": {"discomy_campaign": 1}}]
    assert info["priority"] == 25         # koji's hub adds the relative 5 to its default 20
    hub.polls_to_finish = 3
    assert [b.poll(task) for _ in range(3)][-1].ok
    # another campaign's task for the same package is not this campaign's
    assert backend(hub, campaign_id=2).find("parsekit") is None
    assert b.find("parsekit") == task


def test_every_running_build_is_polled_in_one_round_trip(hub):
    b = backend(hub)
    hub.polls_to_finish = 2
    tasks = [b.submit(name) for name in ("parsekit", "alpha", "beta")]
    before = len(hub.calls)
    assert b.poll_all(tasks + ["error:refused"]) == {
        **{t: None for t in tasks},
        "error:refused": BuildOutcome(False, error="refused")}
    assert hub.calls[before:] == ["multiCall"] + ["getTaskInfo"] * 3
    assert all(o.ok for o in b.poll_all(tasks).values())


def test_without_a_template_the_source_is_the_latest_builds(hub):
    b = backend(hub, scm_url="")
    b.submit("alpha")
    (info,) = hub.tasks.values()
    assert info["request"][0] == scm("alpha")


def test_a_restarted_engine_finds_the_task_it_had_submitted(hub, tmp_path):
    store, cid = campaign(tmp_path)
    b = backend(hub, campaign_id=cid)
    task = b.submit("parsekit")
    # the engine had claimed parsekit and died before it recorded the task
    assert store.claim(cid, ["parsekit"]) == ["parsekit"]
    assert engine(store, cid, b).run() == "done"
    assert hub.calls.count("build") == 4
    assert store.nodes(cid)["parsekit"].task == task


BUILDROOT_ERROR, RETRY_ERROR = koji.BuildrootError.faultCode, koji.RetryError.faultCode


def test_koji_failures_reach_the_campaign_classified_by_their_fault_class(hub, tmp_path):
    store, cid = campaign(tmp_path)
    hub.outcomes[scm("parsekit")] = [(BUILDROOT_ERROR, "could not init mock buildroot, mock "
                                      "exited with status 30; see root.log for more information")]
    hub.outcomes[scm("alpha")] = ["error building package (arch x86_64), mock exited with "
                                  "status 1; see build.log for more information"]
    assert engine(store, cid, backend(hub, campaign_id=cid)).run() == "failed"
    nodes = store.nodes(cid)
    assert nodes["parsekit"].state == "done" and nodes["parsekit"].attempts == 2
    assert nodes["alpha"].state == "failed" and nodes["alpha"].failure_class == "package"
    assert nodes["alpha"].attempts == 1
    assert nodes["alpha"].reason == ("BuildError: error building package (arch x86_64), mock "
                                     "exited with status 1; see build.log for more information")
    assert nodes["beta"].state == "quarantined"
    assert nodes["other"].state == "done"
    kinds = [n.kind for n in store.notifications(cid)]
    assert kinds == ["failed", "failed"]           # alpha, then the campaign


def test_a_build_error_mentioning_the_buildroot_is_still_the_packages(hub, tmp_path):
    store, cid = campaign(tmp_path)
    hub.outcomes[scm("parsekit")] = ["error building package (arch x86_64), mock exited with "
                                     "status 1: File not found: /builddir/build/BUILDROOT/"
                                     "parsekit-1.0-1.el9.x86_64/usr/bin/x (timed out?)"]
    assert engine(store, cid, backend(hub, campaign_id=cid)).run() == "failed"
    parsekit = store.nodes(cid)["parsekit"]
    assert (parsekit.failure_class, parsekit.attempts) == ("package", 1)


def test_host_side_faults_and_canceled_tasks_are_retried_not_paused(hub, tmp_path):
    store, cid = campaign(tmp_path)
    # the builder's session ended mid-build; kojid sends an OSError as code 1 with its
    # traceback; someone canceled the task
    hub.outcomes[scm("parsekit")] = [(RETRY_ERROR, "retry the call")]
    hub.outcomes[scm("alpha")] = [(1, "Traceback (most recent call last):\n  File \"kojid\"\n"
                                      "OSError: [Errno 28] No space left on device")]
    b = backend(hub, campaign_id=cid)
    e = engine(store, cid, b)
    e.step()
    hub.hub_cancelTask(int(store.nodes(cid)["other"].task))
    assert e.run() == "done"
    nodes = store.nodes(cid)
    assert nodes["parsekit"].attempts == 2 and nodes["alpha"].attempts == 2
    assert nodes["other"].attempts == 2


def test_a_failed_builds_log_is_its_failed_subtasks_log_on_the_file_server(hub, tmp_path):
    store, cid = campaign(tmp_path)
    hub.outcomes[scm("parsekit")] = ["error building package (arch x86_64), mock exited with "
                                     "status 1; see build.log for more information"]
    b = backend(hub, campaign_id=cid, topurl="https://kojipkgs.example.org/kojifiles/",
                weburl="https://koji.example.org/koji")
    assert engine(store, cid, b).run() == "failed"
    parsekit = store.nodes(cid)["parsekit"]
    child = 100000 + int(parsekit.task)
    assert parsekit.log == (f"https://kojipkgs.example.org/kojifiles/work/tasks/"
                            f"{child % 10000}/{child}/build.log")
    # without a file server: the failed subtask's page in kojiweb
    web = backend(hub, campaign_id=cid, weburl="https://koji.example.org/koji")
    assert web.poll(parsekit.task).log == \
        f"https://koji.example.org/koji/taskinfo?taskID={child}"


def test_a_package_failure_tells_its_koji_owner_with_a_link_to_the_task(hub, tmp_path):
    class Recorder:
        def __init__(self):
            self.sent = []

        def notify(self, notification):
            self.sent.append(notification)

    store, cid = campaign(tmp_path)
    hub.owners["alpha"] = "jdoe"
    hub.outcomes[scm("alpha")] = ["BuildError: error building package, see build.log"]
    recorder = Recorder()
    settings = EngineSettings(poll_seconds=0, maintainer_email="$owner@example.org")
    b = backend(hub, campaign_id=cid, weburl="https://koji.example.org/koji/")
    assert Engine(store, b, cid, settings=settings, notifier=recorder,
                  sleep=lambda s: None).run() == "failed"
    (failure, campaign_end) = recorder.sent
    task = store.nodes(cid)["alpha"].task
    assert failure.package == "alpha" and failure.recipients == ("jdoe@example.org",)
    # the subtask that failed the build, whose page lists its logs
    assert failure.url == f"https://koji.example.org/koji/taskinfo?taskID={100000 + int(task)}"
    assert "build.log" in failure.reason
    assert campaign_end.recipients == () and campaign_end.kind == "failed"


def test_a_sidetag_campaign_builds_real_nvrs_waits_for_repos_and_merges(hub, tmp_path):
    store, cid = campaign(tmp_path, mode="sidetag")
    hub.repo_checks = 2
    assert engine(store, cid, backend(hub, campaign_id=cid, mode="sidetag")).run() == "done"
    row = store.campaign(cid)
    assert row.merged and row.dest_tag == "el9"
    nvrs = sorted(n.nvr for n in store.nodes(cid).values())
    assert nvrs == [f"{n}-1.0-1.el9.discomy{cid}" for n in ("alpha", "beta", "other", "parsekit")]
    assert sorted(nvr for nvr, _ in hub.tagged["el9"]) == nvrs
    assert row.sidetag not in hub.tags              # removed after the merge
    # each dependent was released only after a repo holding its dependency was ready
    builds = [i for i, c in enumerate(hub.calls) if c == "build"]
    checks = [i for i, c in enumerate(hub.calls) if c == "repo.checkRequest"]
    assert len(builds) == 4 and len(checks) >= 3 * 2
    assert all(any(c < b for c in checks) for b in builds[2:])


def test_side_tag_needs_a_dist(hub, tmp_path):
    del hub.tags["el9-build"]["extra"]["rpm.macro.dist"]
    store, cid = campaign(tmp_path, mode="sidetag")
    assert engine(store, cid, backend(hub, campaign_id=cid, mode="sidetag")).run() == "failed"
    assert "sets no rpm.macro.dist" in store.campaign(cid).note
    assert hub.calls.count("createSideTag") == 0
    # named in the config instead, it works
    store.set_campaign_state(cid, "running")
    assert engine(store, cid, backend(hub, campaign_id=cid, mode="sidetag",
                                      dist=".el9")).run() == "done"
    assert store.nodes(cid)["beta"].nvr == f"beta-1.0-1.el9.discomy{cid}"


def test_a_restarted_sidetag_campaign_reuses_its_side_tag(hub):
    first = backend(hub, campaign_id=4, mode="sidetag")
    made = first.prepare()["sidetag"]
    again = backend(hub, campaign_id=4, mode="sidetag").prepare()["sidetag"]
    assert again == made and hub.calls.count("createSideTag") == 1


def test_a_side_tag_made_but_not_marked_before_a_crash_is_taken_over(hub):
    orphan = session_for(server=hub.url).createSideTag("el9-build")["name"]
    other = backend(hub, campaign_id=5, mode="sidetag").prepare()["sidetag"]
    assert other == orphan and hub.calls.count("createSideTag") == 1
    assert hub.tags[orphan]["extra"]["rpm.macro.dist"] == ".el9.discomy5"
    # a campaign never takes another campaign's marked side tag
    assert backend(hub, campaign_id=6, mode="sidetag").prepare()["sidetag"] != orphan


def test_an_older_hub_gets_newrepo(hub):
    b = backend(hub, mode="sidetag")
    b.prepare()
    hub.legacy_repos = True
    ref = b.request_repo(["x-1-1"])
    assert ref.startswith("task:") and b.repo_state(ref) == "ready"
    assert "newRepo" in hub.calls


def test_a_missing_target_fails_the_campaign_with_a_clear_note(hub, tmp_path):
    store, cid = campaign(tmp_path)
    b = KojiBackend(session_for(server=hub.url), cid, "el10-candidate", scm_url=TEMPLATE,
                    sleep=lambda s: None)
    assert engine(store, cid, b).run() == "failed"
    assert store.campaign(cid).note == "koji has no build target 'el10-candidate'"
    assert hub.calls.count("build") == 0


def test_new_builds_are_held_back_while_an_arch_is_busy(hub, tmp_path):
    store, cid = campaign(tmp_path)
    hub.hosts[1]["task_load"] = 9.5                  # aarch64 at 95 %
    b = backend(hub, campaign_id=cid, load_threshold=0.8)
    e = engine(store, cid, b)
    assert e.step() == "waiting" and hub.calls.count("build") == 0
    assert "aarch64 at 95% of capacity" in store.campaign(cid).note
    hub.hosts[1]["task_load"] = 2.0
    assert e.step() == "progress" and store.campaign(cid).note == ""
    assert e.run() == "done"


def test_hub_calls_are_retried_through_a_short_outage(hub):
    hub.offline = 3
    assert backend(hub, retries=3).submit("other").isdigit()


def test_a_lost_answer_to_build_is_looked_up_not_repeated(hub):
    b = backend(hub)
    hub.lose_build_answers = 1
    task = b.submit("alpha")
    assert hub.calls.count("build") == 1 and len(hub.tasks) == 1
    assert task == str(next(iter(hub.tasks)))


def test_a_hub_that_stays_down_pauses_the_campaign_instead_of_failing_it(hub, tmp_path):
    store, cid = campaign(tmp_path)
    with pytest.raises(HubUnavailable, match="koji hub unavailable"):
        hub.offline = 10
        backend(hub, retries=2).submit("other")
    hub.offline = 1000
    assert engine(store, cid, backend(hub, campaign_id=cid, retries=2)).run() == "paused"
    assert store.campaign(cid).note.startswith("hub: koji hub unavailable")
    assert {n.state for n in store.nodes(cid).values()} <= {"planned", "waiting-deps", "building"}
    # the hub is back: the campaign goes on from where it was
    hub.offline = 0
    store.set_campaign_state(cid, "running")
    assert engine(store, cid, backend(hub, campaign_id=cid)).run() == "done"
    assert len(hub.tasks) == 4


def test_ten_percent_of_hub_calls_failing_still_completes_every_node_once(hub, tmp_path):
    store, cid = campaign(tmp_path, mode="sidetag")
    hub.fault_rate = 0.10
    assert engine(store, cid, backend(hub, campaign_id=cid, mode="sidetag",
                                      retries=8)).run() == "done"
    sources = [t["request"][0] for t in hub.tasks.values() if t["method"] == "build"]
    assert sorted(sources) == sorted(scm(n.name) for n in NODES)
    assert sum(1 for c in hub.calls if c == "build") >= 4


def test_koji_profiles_that_do_not_exist_are_a_clear_error():
    with pytest.raises(KojiBackendError, match="koji profile 'no-such-profile'"):
        session_for("no-such-profile")


def test_koji_task_states_used_match_koji():
    assert koji.TASK_STATES["CLOSED"] == 2 and koji.TASK_STATES["FAILED"] == 5
