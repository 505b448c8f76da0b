"""Webhook builds on koji, at the backend's boundary: the koji library's own
``ClientSession`` against the stand-in koji hub (tests/standins/kojihub_xmlrpc.py),
which takes the SRPM's upload (``uploadFile``), the ``build`` call and is asked for
the previous version (``getBuildTarget``, ``getLatestBuilds``) and the task's state
(``getTaskInfo``)."""

from __future__ import annotations

import subprocess

import pytest

from hook_world import World, commit_day

TARGET = "el9-candidate"


@pytest.fixture
def koji_world(tmp_path):
    import koji
    from kojihub_xmlrpc import StandinKojiHub

    hub = StandinKojiHub()
    # fast upload (rawUpload) needs a logged-in session; the chunked uploadFile does not
    w = World(tmp_path, koji_target=TARGET,
              session_factory=lambda: koji.ClientSession(
                  hub.url, {"use_fast_upload": False, "max_retries": 0, "anon_retry": False}))
    w.hub = hub
    yield w
    w.close()
    hub.stop()


def _uploaded_nvr(hub, tmp_path, src: str) -> str:
    srpm = tmp_path / src.rsplit("/", 1)[-1]
    srpm.write_bytes(hub.uploads[src])
    return subprocess.run(["rpm", "-qp", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}", str(srpm)],
                          capture_output=True, text=True, check=True).stdout


def test_a_ci_push_uploads_its_snapshot_srpm_and_starts_a_scratch_build(koji_world, tmp_path):
    w = koji_world
    sha = w.first
    build_id = w.push("github", "acme/corelib-koji", sha).json()["build"]
    w.settle()
    b = w.build(build_id)
    assert b["state"] in ("submitted", "success") and b["task"], b
    assert b["previous"] == "1.0-1.el9"          # the hub's latest build in el9
    task = w.hub.tasks[int(b["task"])]
    src, target, opts = task["request"]
    assert target == TARGET and opts == {"scratch": True}
    assert src.startswith(f"discomy-webhooks/{build_id}-") and src.endswith(".src.rpm")
    day = commit_day(w.dist_git, sha)
    assert _uploaded_nvr(w.hub, tmp_path, src) == f"corelib-1.2-0.git{day}.{sha[:7]}.el9"
    assert w.statuses("github", sha)[0][1] == "pending"
    # the worker follows the task: it closes, the build is a success on the forge
    for _ in range(50):
        if w.build(build_id)["state"] != "submitted":
            break
        import time
        time.sleep(0.1)
    w.settle()
    assert w.build(build_id)["state"] == "success"
    assert w.statuses("github", sha)[-1][1] == "success"


def test_a_release_push_is_a_real_build_only_when_newer_than_the_targets_latest(koji_world):
    w = koji_world
    w.hub.add_build("corelib", "1.2", "1.el9", "el9")
    same = w.push("github", "acme/corelib-koji-release", w.first).json()["build"]
    w.settle()
    assert w.build(same)["state"] == "skipped"
    assert w.build(same)["previous"] == "1.2-1.el9"
    assert [t for t in w.hub.tasks.values() if t["method"] == "build"] == []
    bumped = w.commit(w.spec_text.replace("Release:        1%{?dist}",
                                          "Release:        2%{?dist}"), "release 2")
    new = w.push("github", "acme/corelib-koji-release", bumped).json()["build"]
    w.settle()
    b = w.build(new)
    assert b["state"] in ("submitted", "success") and b["nvr"] == "corelib-1.2-2.el9"
    src, target, opts = w.hub.tasks[int(b["task"])]["request"]
    assert opts == {} and target == TARGET and src.endswith("corelib-1.2-2.el9.src.rpm")


def test_a_koji_build_that_fails_is_a_failure_with_kojis_reason(koji_world):
    w = koji_world
    w.hub.polls_to_finish = 1000
    build_id = w.push("github", "acme/corelib-koji", w.first).json()["build"]
    w.settle()
    task = w.hub.tasks[int(w.build(build_id)["task"])]
    task["error"] = "error building package (arch x86_64), mock exited with status 1"
    w.hub.polls_to_finish = 1
    import time
    for _ in range(50):
        if w.build(build_id)["state"] != "submitted":
            break
        time.sleep(0.1)
    w.settle()
    b = w.build(build_id)
    assert b["state"] == "failure" and "mock exited with status 1" in b["reason"]
    assert w.statuses("github", w.first)[-1][1] == "failure"


def test_a_hub_that_does_not_answer_fails_the_build_with_one_line(tmp_path):
    import koji

    w = World(tmp_path, koji_target=TARGET,
              session_factory=lambda: koji.ClientSession(
                  "http://127.0.0.1:9/kojihub", {"max_retries": 0, "anon_retry": False,
                                                  "timeout": 2}))
    try:
        build_id = w.push("github", "acme/corelib-koji", w.first).json()["build"]
        w.settle()
        b = w.build(build_id)
        assert b["state"] == "failure" and b["reason"].startswith("koji did not say")
        assert "\n" not in b["reason"]
    finally:
        w.close()


def test_a_koji_release_with_dependents_starts_a_side_tag_campaign_for_them(tmp_path,
                                                                           example_repos):
    import koji
    from kojihub_xmlrpc import StandinKojiHub

    hub = StandinKojiHub()
    w = World(tmp_path, koji_target=TARGET,
              session_factory=lambda: koji.ClientSession(
                  hub.url, {"use_fast_upload": False, "max_retries": 0, "anon_retry": False}),
              sections={"plan": {"repos": [str(example_repos.source_repo),
                                           str(example_repos.binary_repo)],
                                 "cache_dir": str(tmp_path / "cache")}},
              extra_repos=[{"forge": "github", "name": "acme/corelib-lib", "mode": "release",
                            "backend": "koji", "target": TARGET, "dependents": True}])
    try:
        build_id = w.push("github", "acme/corelib-lib", w.first).json()["build"]
        import time
        for _ in range(100):
            if w.build(build_id)["state"] not in ("queued", "preparing", "submitted"):
                break
            time.sleep(0.1)
        w.settle()
        b = w.build(build_id)
        assert b["state"] == "success" and b["campaign"], b
        campaign = w.api.store.campaign(b["campaign"])
        assert (campaign.backend, campaign.mode, campaign.target) == ("koji", "sidetag", TARGET)
        assert campaign.changed == "corelib"
        nodes = w.api.store.nodes(campaign.id)
        assert {"parsekit", "alpha"} <= set(nodes) and "corelib" not in nodes
        assert f"campaign {campaign.id} rebuilds its dependents" in b["reason"]
        # the forge's link goes to the campaign's page
        assert w.statuses("github", w.first)[-1][2].endswith(f"/campaigns/{campaign.id}")
    finally:
        w.close()
        hub.stop()
