"""The pure core of the forge webhooks: what a delivery means and what is built."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from discomy.orchestration.webhooks import decide as d
from hook_world import payload

SHA = "0123456789abcdef0123456789abcdef01234567"


def _repo(forge="github", **more) -> d.RepoSettings:
    return d.repo_settings({"forge": forge, "repository": "acme/corelib",
                            "secret": "s" * 20, "dist_git": "https://git.example.org/rpms/c.git",
                            "api_url": "https://forge.example.org/api/v1", **more},
                           "[[webhooks.repos]] #1", ["https://git.example.org/rpms/"])


@pytest.mark.parametrize("forge", d.FORGES)
def test_each_forges_push_reads_as_the_same_event(forge):
    event = {"github": "push", "gitlab": "Push Hook", "forgejo": "push"}[forge]
    push = d.read_push(forge, event, payload(forge, "acme/corelib", SHA), _repo(forge))
    assert push == d.PushEvent(forge, "acme/corelib", "refs/heads/main", "main", SHA,
                               "2026-11-30T10:00:00+00:00", "jdoe")


def test_deleted_branches_tags_pings_and_other_branches_are_ignored_with_the_reason():
    repo = _repo()
    deleted = {**payload("github", "acme/corelib", "0" * 40), "deleted": True}
    assert "deleted" in d.read_push("github", "push", deleted, repo).reason
    tag = {**payload("github", "acme/corelib", SHA), "ref": "refs/tags/v1"}
    assert "not a branch" in d.read_push("github", "push", tag, repo).reason
    other = payload("github", "acme/corelib", SHA, branch="wip")
    assert "not one this repository builds" in d.read_push("github", "push", other, repo).reason
    assert isinstance(d.read_push("github", "ping", {}, repo), d.Ignored)
    assert isinstance(d.read_push("github", "pull_request", {}, repo), d.Ignored)


def test_a_github_signature_is_hmac_sha256_of_the_raw_body():
    body = json.dumps({"a": 1}).encode()
    good = "sha256=" + hmac.new(b"s" * 20, body, hashlib.sha256).hexdigest()
    d.verify("github", {"x-hub-signature-256": good}, body, "s" * 20)
    with pytest.raises(d.Refused) as refused:
        d.verify("github", {"x-hub-signature-256": good}, body + b"\n", "s" * 20)
    assert refused.value.status == 401
    # not ASCII: refused, not an exception from the comparison
    with pytest.raises(d.Refused):
        d.verify("github", {"x-hub-signature-256": "sha256=\udcff\ud800é"}, body, "s" * 20)


def test_the_snapshot_release_is_the_commit_day_and_short_sha():
    # 2026-11-30 23:59:59 UTC
    assert d.snapshot_release(1796083199, SHA) == "0.git20261130.0123456"
    assert d.snapshot_release(1796083200, SHA) == "0.git20261201.0123456"


@pytest.mark.parametrize("mode,srpm,previous,build", [
    ("ci", "1.2-0.git20261130.aaaaaaa.el9", None, True),
    ("ci", "1.2-0.git20261130.aaaaaaa.el9", "1.2-0.git20261129.fffffff.el9", True),
    # the same day: equal, whatever the hashes say; the SRPM wins
    ("ci", "1.2-0.git20261130.0000000.el9", "1.2-0.git20261130.fffffff.el9", True),
    ("ci", "1.2-0.git20261130.aaaaaaa.el9", "1.2-1.el9", False),
    ("ci", "1.3-0.git20261130.aaaaaaa.el9", "1.2-5.el9", True),
    ("ci", "1.2-0.git20261129.aaaaaaa.el9", "1.2-0.git20261130.aaaaaaa.el9", False),
    ("release", "1.2-1.el9", "1.2-1.el9", False),
    ("release", "1.2-2.el9", "1.2-1.el9", True),
    ("release", "1.10-1.el9", "1.9-1.el9", True),      # rpm's order, not the text's
    ("release", "1.2-1.el9", "1:1.0-1.el9", False),     # the epoch first
    ("release", "1.2~rc1-1.el9", "1.2-1.el9", False),   # a tilde sorts before
])
def test_builds_are_decided_by_rpms_evr_order(mode, srpm, previous, build):
    def evr(text):
        if text is None:
            return None
        epoch, _, rest = text.rpartition(":")
        version, _, release = rest.rpartition("-")
        return (epoch or None, version, release)

    assert d.decide(mode, evr(srpm), evr(previous)).build is build


def test_a_spec_gets_the_snapshot_in_its_own_text():
    spec = "Name: x\nVersion: 1\nRelease:        3%{?dist}\nSummary: s\n"
    out = d.snapshot_spec(spec, "0.git20261130.0123456")
    assert out.splitlines()[0] == "%global discomy_snapshot 0.git20261130.0123456"
    assert "Release:        %{discomy_snapshot}%{?dist}" in out and "3%{?dist}" not in out
    own = "Name: x\nRelease: %{?discomy_snapshot}%{!?discomy_snapshot:1}%{?dist}\n"
    assert d.snapshot_spec(own, "0.git20261130.0123456").endswith(own)
    with pytest.raises(ValueError):
        d.snapshot_spec(spec, "1; rm -rf /")


def test_allowed_urls_are_prefixes_of_whole_path_parts():
    allowed = ["https://git.example.org/rpms/", "file:///srv/git"]
    assert d.url_allowed("https://git.example.org/rpms/corelib.git", allowed)
    assert d.url_allowed("file:///srv/git/corelib.git", allowed)
    assert not d.url_allowed("file:///srv/gitevil/corelib.git", allowed)
    assert not d.url_allowed("https://git.example.org/other/corelib.git", allowed)
    assert not d.url_allowed("-uhttps://git.example.org/rpms/x", allowed)


@pytest.mark.parametrize("forge,url,state,token", [
    ("github", "https://api.github.com/repos/acme/corelib/statuses/" + SHA, "failure",
     ("Authorization", "Bearer {token}")),
    ("gitlab", "https://gitlab.com/api/v4/projects/acme%2Fcorelib/statuses/" + SHA, "failed",
     ("PRIVATE-TOKEN", "{token}")),
    ("forgejo", "https://forge.example.org/api/v1/repos/acme/corelib/statuses/" + SHA,
     "failure", ("Authorization", "token {token}")),
])
def test_each_forge_gets_its_own_status_call(forge, url, state, token):
    repo = _repo(forge, api_url="" if forge != "forgejo" else
                 "https://forge.example.org/api/v1")
    r = d.status_request(repo, SHA, "failure", "https://d.example.org/x", "why " * 100)
    assert r.url == url and r.token_header == token
    assert r.body["state"] == state and len(r.body["description"]) < 140
    assert r.body["target_url"] == "https://d.example.org/x"
