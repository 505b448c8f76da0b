"""Forge webhooks through the API: real git repositories (``file://``), real HMAC
signatures, SRPMs and local builds made with rpmbuild, and the commit statuses the
forge status stand-in takes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from hook_world import PUBLIC_URL, SECRETS, commit_day, headers, payload


def _rpms(repo: Path) -> list:
    return sorted(p.name for p in repo.glob("*.rpm"))


def test_a_signed_github_push_builds_its_snapshot_locally_and_the_forge_sees_it(world):
    sha = world.first
    answer = world.push("github", "acme/corelib", sha)
    assert answer.status_code == 202, answer.text
    build_id = answer.json()["build"]
    world.settle()
    build = world.build(build_id)
    day = commit_day(world.dist_git, sha)
    assert build["state"] == "success", build
    assert build["nvr"] == f"corelib-1.2-0.git{day}.{sha[:7]}.el9"
    assert build["previous"] == "none" and build["submitted_at"] >= build["created_at"]
    repo = world.tmp / "webhooks" / "repos" / "github-acme_corelib"
    assert f"corelib-1.2-0.git{day}.{sha[:7]}.el9.src.rpm" in _rpms(repo)
    assert any(name.startswith(f"corelib-devel-1.2-0.git{day}.{sha[:7]}.el9.")
               for name in _rpms(repo))
    assert (repo / "repodata" / "repomd.xml").exists()
    # the built package is the one rpm reads back
    nvr = subprocess.run(["rpm", "-qp", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}",
                          str(repo / f"corelib-1.2-0.git{day}.{sha[:7]}.el9.src.rpm")],
                         capture_output=True, text=True, check=True).stdout
    assert nvr == build["nvr"]
    states = [s for _, s, _, _ in world.statuses("github", sha)]
    assert states[0] == "pending" and states[-1] == "success" and "failure" not in states
    link = world.statuses("github", sha)[-1][2]
    assert link == f"{PUBLIC_URL}/pushes/{build_id}"
    forge, repository, got_sha, body = world.forge.received[-1]
    assert (forge, repository, got_sha) == ("github", "acme/corelib", sha)
    assert body["context"] == "discomy" and build["nvr"] in body["description"]


def test_a_later_commit_of_the_same_day_is_built_again_and_an_older_version_is_not(world):
    first = world.push("github", "acme/corelib", world.first).json()["build"]
    world.settle()
    second_sha = world.commit(message="a later commit, same version")
    second = world.push("github", "acme/corelib", second_sha).json()["build"]
    world.settle()
    b = world.build(second)
    assert world.build(first)["state"] == "success"
    assert b["state"] == "success", b
    assert b["previous"] == world.build(first)["nvr"].removeprefix("corelib-")
    assert b["nvr"].endswith(f".{second_sha[:7]}.el9")
    assert "the same; a later commit is built again" in b["reason"]
    # the spec goes back a version: older than what the repository has, not built
    older = world.commit(world.spec_text.replace("Version:        1.2", "Version:        1.1"),
                         "back to 1.1")
    third = world.push("github", "acme/corelib", older).json()["build"]
    world.settle()
    t = world.build(third)
    assert t["state"] == "skipped", t
    assert "older than what is built" in t["reason"] and t["nvr"].startswith("corelib-1.1-")
    # the forge is told it passed without a build, not left pending
    assert world.statuses("github", older)[-1][1] == "success"
    assert "not built" in world.statuses("github", older)[-1][3]


def test_a_release_is_built_only_when_its_version_is_strictly_greater(world):
    one = world.push("github", "acme/corelib-release", world.first).json()["build"]
    world.settle()
    assert world.build(one)["state"] == "success"
    assert world.build(one)["nvr"] == "corelib-1.2-1.el9"
    same = world.commit(message="docs only")
    again = world.push("github", "acme/corelib-release", same).json()["build"]
    world.settle()
    a = world.build(again)
    assert a["state"] == "skipped" and "must be newer" in a["reason"]
    assert a["previous"] == "1.2-1.el9"
    bumped = world.commit(world.spec_text.replace("Release:        1%{?dist}",
                                                  "Release:        2%{?dist}"), "release 2")
    new = world.push("github", "acme/corelib-release", bumped).json()["build"]
    world.settle()
    n = world.build(new)
    assert n["state"] == "success" and n["nvr"] == "corelib-1.2-2.el9"
    assert n["previous"] == "1.2-1.el9"


@pytest.mark.parametrize("forge", ["gitlab", "forgejo"])
def test_gitlab_and_forgejo_pushes_build_and_get_statuses_in_their_own_shape(world, forge):
    answer = world.push(forge, "acme/corelib", world.first)
    assert answer.status_code == 202, answer.text
    world.settle()
    assert world.build(answer.json()["build"])["state"] == "success"
    received = [(r, body) for f, r, s, body in world.forge.received if f == forge]
    assert received and all(r == "acme/corelib" for r, _ in received)
    last = received[-1][1]
    assert last["state"] == "success"
    if forge == "gitlab":
        assert last["name"] == "discomy" and last["ref"] == "refs/heads/main"
    else:
        assert last["context"] == "discomy"


def test_a_failed_build_is_a_failure_on_the_forge(world):
    broken = world.spec_text.replace("%install\n", "%install\nexit 3\n")
    sha = world.commit(broken, "break the build")
    build_id = world.push("github", "acme/corelib", sha).json()["build"]
    world.settle()
    b = world.build(build_id)
    assert b["state"] == "failure" and "%install" in b["reason"]
    assert world.statuses("github", sha)[-1][1] == "failure"


def test_the_dashboard_shows_each_push_build_its_comparison_and_its_log(world):
    good = world.push("github", "acme/corelib", world.first).json()["build"]
    world.settle()
    hostile = world.spec_text.replace(
        "%install\n", "%install\necho '<script>alert(1)</script>'\nexit 3\n")
    sha = world.commit(hostile, "break the build")
    bad = world.push("github", "acme/corelib", sha).json()["build"]
    world.settle()
    listing = world.client.get("/pushes")
    assert listing.status_code == 200 and 'href="/pushes"' in listing.text
    assert listing.text.index(f'data-push="{bad}"') < listing.text.index(f'data-push="{good}"')
    assert world.build(good)["nvr"] in listing.text and sha[:12] in listing.text
    failed = world.client.get("/pushes?state=failure").text
    assert f'data-push="{bad}"' in failed and f'data-push="{good}"' not in failed
    page = world.client.get(f"/pushes/{bad}")
    assert page.status_code == 200 and "failure" in page.text and sha in page.text
    assert "built when newer or equal" in page.text
    # the end of the log is shown as text, never as markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text
    log = world.client.get(f"/pushes/{bad}/log")
    assert log.status_code == 200 and log.headers["content-type"].startswith("text/plain")
    assert "<script>alert(1)</script>" in log.text
    assert world.client.get("/pushes/999999").status_code == 404
    assert world.client.get("/pushes/1x").status_code == 404
    assert world.client.get("/pushes?state=nosuch").status_code == 400


def test_a_push_to_another_branch_or_a_tag_or_a_ping_builds_nothing(world):
    for body, event in ((payload("github", "acme/corelib", world.first, "feature"), "push"),
                        ({**payload("github", "acme/corelib", world.first),
                          "ref": "refs/tags/v1.2"}, "push"),
                        ({"zen": "Keep it logically awesome.", "hook_id": 1,
                          "repository": {"full_name": "acme/corelib"}}, "ping")):
        raw = json.dumps(body).encode()
        answer = world.client.post("/api/v1/webhooks/github", content=raw,
                                   headers=headers("github", raw, SECRETS["github"],
                                                   event=event))
        assert answer.status_code == 200, answer.text
        assert answer.json()["outcome"] == "ignored"
    assert world.client.get("/api/v1/webhooks/builds").json()["items"] == []
    assert world.forge.received == []


def test_statuses_are_retried_when_the_forge_answers_500(world):
    world.forge.fail_next = 2
    build_id = world.push("github", "acme/corelib", world.first).json()["build"]
    world.settle()
    assert world.build(build_id)["state"] == "success"
    codes = [code for f, _, code in world.forge.calls if f == "github"]
    assert codes[:2] == [500, 500] and codes.count(201) >= 2
    assert world.statuses("github")[-1][1] == "success"
    # the pending refused twice was sent again, not dropped: the forge saw it
    assert world.statuses("github")[0][1] == "pending"


def test_a_build_left_queued_by_a_stopped_service_is_taken_up_at_start(tmp_path):
    from hook_world import World

    from discomy.orchestration.webhooks.service import WebhookService

    w = World(tmp_path)
    try:
        w.service.stop()
        store = w.api.store
        delivery = store.webhooks.record_delivery("github", "left-over", "acme/corelib",
                                                  "push")
        build_id = store.webhooks.add_build(delivery, "github", "acme/corelib", "main",
                                            w.first, "ci", "local", "")
        w.service = WebhookService(store, w.config).start()
        w.settle()
        assert store.webhooks.build(build_id).state == "success"
    finally:
        w.close()


def test_a_dist_git_outside_the_allowed_urls_stops_start_up_with_the_key():
    from discomy.orchestration.config import ConfigError, merge_config

    repo = {"forge": "github", "repository": "acme/x", "secret": "s" * 20,
            "dist_git": "https://evil.example.org/x.git"}
    with pytest.raises(ConfigError, match=r"\[\[webhooks.repos\]\] #1: dist_git .* not under"):
        merge_config({"webhooks": {"allowed_urls": ["https://git.example.org/rpms/"],
                                   "repos": [repo]}})
    with pytest.raises(ConfigError, match="at least 16 characters"):
        merge_config({"webhooks": {"allowed_urls": ["https://evil.example.org/"],
                                   "repos": [{**repo, "secret": "short"}]}})
    with pytest.raises(ConfigError, match="backend koji needs a target"):
        merge_config({"webhooks": {"allowed_urls": ["https://evil.example.org/"],
                                   "repos": [{**repo, "backend": "koji"}]}})
    with pytest.raises(ConfigError, match="sercet is not an option"):
        merge_config({"webhooks": {"allowed_urls": ["https://evil.example.org/"],
                                   "repos": [{**repo, "sercet": "x"}]}})
    # a prefix lets in what is under it, not a name that only starts the same
    with pytest.raises(ConfigError, match="not under"):
        merge_config({"webhooks": {"allowed_urls": ["https://evil.example.org/x"],
                                   "repos": [{**repo, "dist_git": "https://evil.example.org/xy.git"}]}})


def test_secret_files_are_read_relative_to_the_config(tmp_path):
    from discomy.orchestration.config import load_config, webhook_repos

    (tmp_path / "hook.secret").write_text("a-secret-from-a-file-0123\n")
    (tmp_path / "orchestrator.toml").write_text(f"""
[store]
url = "sqlite:///{tmp_path}/s.sqlite"
[webhooks]
allowed_urls = ["https://git.example.org/rpms/"]
[[webhooks.repos]]
forge = "forgejo"
repository = "rpms/corelib"
secret_file = "hook.secret"
api_url = "https://git.example.org/api/v1"
dist_git = "https://git.example.org/rpms/corelib.git"
""")
    repos = webhook_repos(load_config(tmp_path / "orchestrator.toml"))
    assert [(r.forge, r.repository, r.secret) for r in repos] == \
        [("forgejo", "rpms/corelib", "a-secret-from-a-file-0123")]
    assert "a-secret" not in repr(repos[0])


def test_the_snapshot_date_comes_from_the_commit(world):
    sha = world.first
    build_id = world.push("github", "acme/corelib", sha).json()["build"]
    world.settle()
    assert re.search(rf"\.git{commit_day(world.dist_git, sha)}\.{sha[:7]}\.",
                     world.build(build_id)["nvr"])


def test_checking_the_config_finds_secret_files_and_only_the_service_reads_them(tmp_path):
    from discomy.orchestration.config import ConfigError, load_config, webhook_repos

    secret = tmp_path / "hook.secret"
    secret.write_text("short\n")
    (tmp_path / "orchestrator.toml").write_text(f"""
[store]
url = "sqlite:///{tmp_path}/s.sqlite"
[webhooks]
allowed_urls = ["https://git.example.org/rpms/"]
[[webhooks.repos]]
forge = "github"
repository = "rpms/corelib"
secret_file = "hook.secret"
dist_git = "https://git.example.org/rpms/corelib.git"
""")
    # other commands (discomy status as another user) need not read it: it is not read
    config = load_config(tmp_path / "orchestrator.toml")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        webhook_repos(config)              # what the service does when it starts
    secret.unlink()
    with pytest.raises(ConfigError, match="secret_file: .* is not a file"):
        load_config(tmp_path / "orchestrator.toml")


def test_a_full_queue_is_503_and_the_redelivery_is_taken_later(tmp_path):
    from hook_world import World

    w = World(tmp_path, queue_size=1)
    try:
        w.service.stop()                 # nobody takes from the queue for now
        first = w.push("github", "acme/corelib", w.first)
        assert first.status_code == 202
        busy = w.push("github", "acme/corelib", w.first, delivery="redelivered-1")
        assert busy.status_code == 503 and "sent again" in busy.json()["error"]
        w.service.queue.get_nowait()
        w.service.queue.task_done()
        again = w.push("github", "acme/corelib", w.first, delivery="redelivered-1")
        assert again.status_code == 202, again.text
    finally:
        w.forge.stop()
