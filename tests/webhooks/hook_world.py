"""The world a webhook test runs in: a dist-git made with git (``file://``) holding an
example package's spec, the forge status stand-in, and the API over a store with
``[[webhooks.repos]]`` for each forge and mode; pushes are sent as each forge sends
them, signed for real.

The payloads copy each forge's documented push event (GitHub ``push``, GitLab
``Push Hook``, Forgejo/Gitea ``push``): only the fields a receiver reads, and a few
around them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import uuid
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
for extra in (TESTS / "standins", TESTS / "web"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from forge_status import ForgeStatusStandIn  # noqa: E402

EXAMPLES = TESTS.parent / "examples"
SECRETS = {"github": "github-secret-0123456789", "gitlab": "gitlab-secret-0123456789",
           "forgejo": "forgejo-secret-0123456789"}
TOKENS = {"github": "gh-token", "gitlab": "gl-token", "forgejo": "fj-token"}
PUBLIC_URL = "https://discomy.example.org"


def payload(forge: str, repository: str, sha: str, branch: str = "main",
            timestamp: str = "2026-11-30T10:00:00+00:00") -> dict:
    ref = f"refs/heads/{branch}"
    commit = {"id": sha, "message": "update", "timestamp": timestamp,
              "author": {"name": "Jane Doe", "email": "jane@example.org"}}
    if forge == "gitlab":
        return {"object_kind": "push", "event_name": "push", "before": "0" * 40, "after": sha,
                "ref": ref, "checkout_sha": sha, "user_username": "jdoe",
                "project": {"id": 15, "path_with_namespace": repository,
                            "git_http_url": f"https://gitlab.example.org/{repository}.git"},
                "commits": [commit], "total_commits_count": 1}
    return {"ref": ref, "before": "0" * 40, "after": sha, "created": False, "deleted": False,
            "repository": {"id": 7, "full_name": repository,
                           "clone_url": f"https://{forge}.example.org/{repository}.git"},
            "pusher": {"name": "jdoe", "email": "jdoe@example.org"},
            "head_commit": commit, "commits": [commit]}


def headers(forge: str, body: bytes, secret: str, delivery: str = "",
            event: str = "") -> dict:
    """What the forge sends with ``body``, its signature made here with hmac."""
    delivery = delivery or str(uuid.uuid4())
    out = {"Content-Type": "application/json"}
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if forge == "github":
        out.update({"X-GitHub-Event": event or "push", "X-GitHub-Delivery": delivery,
                    "X-Hub-Signature-256": f"sha256={digest}"})
    elif forge == "forgejo":
        out.update({"X-Gitea-Event": event or "push", "X-Gitea-Delivery": delivery,
                    "X-Gitea-Signature": digest})
    else:
        out.update({"X-Gitlab-Event": event or "Push Hook", "X-Gitlab-Event-UUID": delivery,
                    "X-Gitlab-Token": secret})
    return out


def git(repo: Path, *argv: str) -> str:
    return subprocess.run(["git", *argv], cwd=repo, capture_output=True, text=True,
                          check=True, env={"TZ": "UTC", "PATH": "/usr/bin:/bin",
                                           "HOME": str(repo)}).stdout.strip()


def commit_day(repo: Path, sha: str) -> str:
    return git(repo, "log", "-1", "--format=%cd", "--date=format-local:%Y%m%d", sha)


class World:
    def __init__(self, tmp_path: Path, session_factory=None, koji_target: str = "",
                 sections: dict = None, extra_repos=(), **webhooks):
        from api_world import make_api

        from discomy.cli.examples import commit_spec
        from discomy.orchestration.config import merge_config

        self.tmp = tmp_path
        self.git_dir = tmp_path / "git"
        self.spec_text = (EXAMPLES / "corelib.spec").read_text()
        self.dist_git = self.git_dir / "corelib.git"
        self.first = commit_spec(self.dist_git, self.spec_text, "corelib", "corelib: import")
        self.forge = ForgeStatusStandIn(TOKENS)
        url = f"file://{self.dist_git}"

        def repo(forge, name, mode="ci", **more):
            return {"forge": forge, "repository": name, "secret": SECRETS[forge],
                    "token": TOKENS[forge], "api_url": self.forge.api_url(forge),
                    "mode": mode, "dist_git": url, "branches": ["main"], **more}

        repos = [repo("github", "acme/corelib"),
                 repo("gitlab", "acme/corelib"),
                 repo("forgejo", "acme/corelib"),
                 repo("github", "acme/corelib-release", "release")]
        if koji_target:
            repos += [repo("github", "acme/corelib-koji", backend="koji", target=koji_target),
                      repo("github", "acme/corelib-koji-release", "release", backend="koji",
                           target=koji_target)]
        repos += [repo(**more) for more in extra_repos]
        settings = {"public_url": PUBLIC_URL, "workdir": str(tmp_path / "webhooks"),
                    "allowed_urls": [f"file://{self.git_dir}/"], "max_body_bytes": 65536,
                    "status_backoff_seconds": 0.05, "poll_seconds": 0.2, "repos": repos}
        settings.update(webhooks)
        self.config = merge_config({"webhooks": settings,
                                    "campaign": {"workdir": str(tmp_path / "work")},
                                    "plan": {"cache_dir": str(tmp_path / "cache")},
                                    **(sections or {})})
        self.api = make_api(f"sqlite:///{tmp_path / 'state.sqlite'}", self.config,
                            session_factory=session_factory)
        self.client = self.api.client
        self.service = self.api.app.state.context.webhooks

    def commit(self, spec_text: str = "", message: str = "update") -> str:
        from discomy.cli.examples import commit_spec

        return commit_spec(self.dist_git, spec_text or self.spec_text, "corelib", message)

    def push(self, forge: str, repository: str, sha: str, branch: str = "main",
             delivery: str = "", secret: str = ""):
        body = json.dumps(payload(forge, repository, sha, branch)).encode()
        return self.client.post(f"/api/v1/webhooks/{forge}", content=body,
                                headers=headers(forge, body, secret or SECRETS[forge],
                                                delivery))

    def settle(self) -> None:
        assert self.service.idle(60)
        assert self.service.reporter.idle(30)

    def build(self, build_id: int) -> dict:
        answer = self.client.get(f"/api/v1/webhooks/builds/{build_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def statuses(self, forge: str = "", sha: str = "") -> list:
        return [(f, body["state"], body.get("target_url", ""), body["description"])
                for f, _, s, body in self.forge.received
                if (not forge or f == forge) and (not sha or s == sha)]

    def close(self) -> None:
        self.service.stop()
        self.forge.stop()
