"""Every delivery that must not build, in a table: forged, unsigned, tampered, for a
repository nobody configured, malformed, too large, replayed. Each gets its 4xx in the
API's error shape, and no build starts and the forge hears nothing."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from hook_world import SECRETS, headers, payload

REPO = "acme/corelib"


def _github(world, body: bytes = b"", **change):
    """A GitHub delivery of a push to main, signed for real, then changed by ``change``:
    a header name with a value (None drops it)."""
    body = body or json.dumps(payload("github", REPO, world.first)).encode()
    sent = headers("github", body, SECRETS["github"])
    for name, value in change.items():
        name = name.replace("_", "-")
        if value is None:
            sent.pop(name, None)
        else:
            sent[name] = value
    return body, sent


def _sig(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def unsigned(world):
    return "github", *_github(world, **{"X-Hub-Signature-256": None})


def signed_with_another_secret(world):
    body, _ = _github(world)
    return "github", *_github(world, body, **{
        "X-Hub-Signature-256": "sha256=" + _sig("not-the-secret-0000000", body)})


def body_changed_after_signing(world):
    body, sent = _github(world)
    other = json.dumps(payload("github", REPO, "f" * 40)).encode()
    return "github", other, sent


def signature_without_its_prefix(world):
    body, _ = _github(world)
    return "github", *_github(world, body, **{
        "X-Hub-Signature-256": _sig(SECRETS["github"], body)})


def sha1_signature_only(world):
    body, _ = _github(world)
    digest = hmac.new(SECRETS["github"].encode(), body, hashlib.sha1).hexdigest()
    return "github", *_github(world, body, **{"X-Hub-Signature-256": None,
                                             "X-Hub-Signature": f"sha1={digest}"})


def repository_not_configured(world):
    body = json.dumps(payload("github", "mallory/corelib", world.first)).encode()
    return "github", body, headers("github", body, SECRETS["github"])


def no_delivery_id(world):
    return "github", *_github(world, **{"X-GitHub-Delivery": None})


def delivery_id_not_an_id(world):
    return "github", *_github(world, **{"X-GitHub-Delivery": "x" * 200})


def no_event(world):
    return "github", *_github(world, **{"X-GitHub-Event": None})


def not_json(world):
    body = b"payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D"
    return "github", body, headers("github", body, SECRETS["github"])


def form_encoded(world):
    body, sent = _github(world)
    sent["Content-Type"] = "application/x-www-form-urlencoded"
    return "github", body, sent


def a_json_list(world):
    body = b"[1, 2, 3]"
    return "github", body, headers("github", body, SECRETS["github"])


def a_push_without_a_commit(world):
    data = payload("github", REPO, world.first)
    data["after"] = "not-a-sha"
    data["head_commit"]["id"] = "not-a-sha"
    body = json.dumps(data).encode()
    return "github", body, headers("github", body, SECRETS["github"])


def too_large(world):
    data = payload("github", REPO, world.first)
    data["padding"] = "x" * 70000          # the world's limit is 65536 bytes
    body = json.dumps(data).encode()
    return "github", body, headers("github", body, SECRETS["github"])


def gitlab_wrong_token(world):
    body = json.dumps(payload("gitlab", REPO, world.first)).encode()
    sent = headers("gitlab", body, SECRETS["gitlab"])
    sent["X-Gitlab-Token"] = "gitlab-secret-0123456780"
    return "gitlab", body, sent


def gitlab_no_token(world):
    body = json.dumps(payload("gitlab", REPO, world.first)).encode()
    sent = headers("gitlab", body, SECRETS["gitlab"])
    del sent["X-Gitlab-Token"]
    return "gitlab", body, sent


def gitlab_token_of_another_forge(world):
    body = json.dumps(payload("gitlab", REPO, world.first)).encode()
    return "gitlab", body, headers("gitlab", body, SECRETS["github"])


def forgejo_forged(world):
    body = json.dumps(payload("forgejo", REPO, world.first)).encode()
    sent = headers("forgejo", body, SECRETS["forgejo"])
    sent["X-Gitea-Signature"] = _sig(SECRETS["forgejo"], body + b" ")
    return "forgejo", body, sent


def forgejo_unsigned(world):
    body = json.dumps(payload("forgejo", REPO, world.first)).encode()
    sent = headers("forgejo", body, SECRETS["forgejo"])
    del sent["X-Gitea-Signature"]
    return "forgejo", body, sent


def github_signature_sent_to_forgejo(world):
    body = json.dumps(payload("forgejo", REPO, world.first)).encode()
    sent = headers("forgejo", body, SECRETS["forgejo"])
    del sent["X-Gitea-Signature"]
    sent["X-Hub-Signature-256"] = "sha256=" + _sig(SECRETS["forgejo"], body)
    return "forgejo", body, sent


BAD = [(unsigned, 401), (signed_with_another_secret, 401), (body_changed_after_signing, 401),
       (signature_without_its_prefix, 401), (sha1_signature_only, 401),
       (repository_not_configured, 401), (no_delivery_id, 400), (delivery_id_not_an_id, 400),
       (no_event, 400), (not_json, 400), (form_encoded, 400), (a_json_list, 400),
       (a_push_without_a_commit, 400), (too_large, 413), (gitlab_wrong_token, 401),
       (gitlab_no_token, 401), (gitlab_token_of_another_forge, 401), (forgejo_forged, 401),
       (forgejo_unsigned, 401), (github_signature_sent_to_forgejo, 401)]


@pytest.mark.parametrize("make,status", BAD, ids=[f.__name__ for f, _ in BAD])
def test_a_bad_delivery_gets_its_4xx_and_never_a_build(world, make, status):
    forge, body, sent = make(world)
    answer = world.client.post(f"/api/v1/webhooks/{forge}", content=body, headers=sent)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["status"] == status and error["error"] and "\n" not in error["error"]
    world.settle()
    assert world.client.get("/api/v1/webhooks/builds").json()["items"] == []
    assert world.forge.calls == []


def test_a_replayed_delivery_is_refused_and_builds_once(world):
    body, sent = _github(world)
    first = world.client.post("/api/v1/webhooks/github", content=body, headers=sent)
    again = world.client.post("/api/v1/webhooks/github", content=body, headers=sent)
    assert first.status_code == 202 and again.status_code == 400
    assert "replay" in again.json()["error"]
    world.settle()
    assert len(world.client.get("/api/v1/webhooks/builds").json()["items"]) == 1
    # the same delivery id under another forge is another delivery
    gitlab_body = json.dumps(payload("gitlab", REPO, world.first)).encode()
    other = headers("gitlab", gitlab_body, SECRETS["gitlab"],
                    delivery=sent["X-GitHub-Delivery"])
    assert world.client.post("/api/v1/webhooks/gitlab", content=gitlab_body,
                             headers=other).status_code == 202
    world.settle()


def test_a_forged_delivery_does_not_use_up_its_delivery_id(world):
    body, sent = _github(world)
    forged = dict(sent, **{"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert world.client.post("/api/v1/webhooks/github", content=body,
                             headers=forged).status_code == 401
    assert world.client.post("/api/v1/webhooks/github", content=body,
                             headers=sent).status_code == 202
    world.settle()


def test_an_unknown_forge_is_a_4xx(world):
    body, sent = _github(world)
    answer = world.client.post("/api/v1/webhooks/bitbucket", content=body, headers=sent)
    assert answer.status_code == 422 and answer.json()["error"]


def test_without_configured_repositories_webhooks_are_not_found(tmp_path, example_repos):
    from api_world import make_api, make_config

    api = make_api(f"sqlite:///{tmp_path / 's.sqlite'}", make_config(tmp_path, example_repos))
    body = json.dumps(payload("github", REPO, "a" * 40)).encode()
    answer = api.client.post("/api/v1/webhooks/github", content=body,
                             headers=headers("github", body, SECRETS["github"]))
    assert answer.status_code == 404 and "no forge webhooks" in answer.json()["error"]
