"""What a forge's webhook delivery means, and what to do about it (pure).

Each function takes plain data (headers as a mapping with lower-case names, the
raw body, the parsed payload, settings) and returns a value or raises
:class:`Refused` with the HTTP status the request gets (400 malformed, 401 not
verified) and one sentence. Nothing here reads a file, the network or a clock.

- :func:`verify`: GitHub's ``X-Hub-Signature-256`` (``sha256=`` and the hex
  HMAC-SHA256 of the raw body), Forgejo's and Gitea's ``X-Forgejo-Signature`` /
  ``X-Gitea-Signature`` (the hex HMAC-SHA256), GitLab's ``X-Gitlab-Token`` (the
  secret itself); each compared in constant time;
- :func:`delivery_id`: what makes a delivery unique, for replay protection;
- :func:`read_push`: a push event as a :class:`PushEvent`, or :class:`Ignored`
  (a ping, a tag, a deleted branch, a branch not configured);
- :func:`snapshot_release` and :func:`decide`: the CI release and the build
  decision, EVRs ordered by rpm's own ``labelCompare``;
- :func:`status_request`: each forge's commit status call.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Optional, Sequence

FORGES = ("github", "gitlab", "forgejo")
MODES = ("ci", "release")
BACKENDS = ("koji", "local")
ZERO_SHA = re.compile(r"^0+$")
SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
# a repository's full name as forges write it: "owner/name", GitLab's groups nested
FULL_NAME = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+$")
BRANCH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]{0,254}$")
DELIVERY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
DEFAULT_API = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}


class Refused(Exception):
    """A delivery that gets no build: ``status`` (400 or 401) and one sentence."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


# -- settings -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RepoSettings:
    """One ``[[webhooks.repos]]`` table, its secret and token read."""
    forge: str
    repository: str                 # the forge's full name: "owner/name"
    secret: str = field(repr=False)
    dist_git: str = ""
    mode: str = "ci"
    upstream: str = ""
    branches: tuple = ("main",)
    dist_git_branch: str = "main"   # the spec's branch when the push is to the upstream
    spec: str = ""                  # the spec's path in the dist-git; "": the only *.spec
    backend: str = "local"
    target: str = ""                # koji build target
    dependents: bool = False        # a release starts a side-tag campaign for dependents
    token: str = field(default="", repr=False)
    api_url: str = ""
    context: str = "discomy"        # the commit status's name on the forge
    local_repo: str = ""            # local backend: where builds go and versions are read

    @property
    def key(self) -> tuple:
        return (self.forge, self.repository.lower())

    @property
    def slug(self) -> str:
        return f"{self.forge}-" + re.sub(r"[^A-Za-z0-9_.-]", "_", self.repository)


REPO_KEYS = {"forge", "repository", "secret", "secret_file", "token", "token_file", "api_url",
             "mode", "dist_git", "upstream", "branches", "dist_git_branch", "spec", "backend",
             "target", "dependents", "context", "local_repo"}
_TEXT = REPO_KEYS - {"branches", "dependents"}


def repo_settings(entry: Mapping, where: str, allowed_urls: Sequence[str]) -> RepoSettings:
    """A ``[[webhooks.repos]]`` table (``secret_file`` and ``token_file`` already read
    into ``secret`` and ``token``) as settings; ValueError naming the key otherwise."""
    unknown = sorted(set(entry) - REPO_KEYS)
    if unknown:
        raise ValueError(f"{where}: {unknown[0]} is not an option (known: "
                         f"{', '.join(sorted(REPO_KEYS))})")
    for key in _TEXT & set(entry):
        if not isinstance(entry[key], str):
            raise ValueError(f"{where}: {key} must be a string")
    values = {k: v for k, v in entry.items() if k not in ("secret_file", "token_file")}
    forge = values.get("forge", "")
    if forge not in FORGES:
        raise ValueError(f"{where}: forge must be one of {', '.join(FORGES)}, not {forge!r}")
    if not FULL_NAME.match(values.get("repository", "")):
        raise ValueError(f"{where}: repository must be the forge's full name, e.g. "
                         f"\"owner/name\", not {values.get('repository', '')!r}")
    if forge != "gitlab" and values["repository"].count("/") != 1:
        raise ValueError(f"{where}: a {forge} repository is \"owner/name\"")
    if len(values.get("secret", "")) < 16:
        raise ValueError(f"{where}: secret (or secret_file) must hold at least 16 characters")
    if values.get("mode", "ci") not in MODES:
        raise ValueError(f"{where}: mode must be ci or release, not {values['mode']!r}")
    if values.get("backend", "local") not in BACKENDS:
        raise ValueError(f"{where}: backend must be koji or local, not {values['backend']!r}")
    if values.get("backend") == "koji" and not values.get("target"):
        raise ValueError(f"{where}: backend koji needs a target")
    branches = values.get("branches", ["main"])
    if not isinstance(branches, list) or not branches or not all(
            isinstance(b, str) and BRANCH.match(b) and ".." not in b for b in branches):
        raise ValueError(f"{where}: branches must be a list of branch names")
    values["branches"] = tuple(branches)
    if "dependents" in values and not isinstance(values["dependents"], bool):
        raise ValueError(f"{where}: dependents must be a boolean")
    if values.get("dependents") and (values.get("mode", "ci") != "release"
                                     or values.get("backend") != "koji"):
        raise ValueError(f"{where}: dependents (a side-tag campaign) follows koji release "
                         f"builds only")
    if not BRANCH.match(values.get("dist_git_branch", "main")):
        raise ValueError(f"{where}: dist_git_branch is not a branch name")
    spec = values.get("spec", "")
    if spec and (spec.startswith("/") or ".." in spec.split("/") or not spec.endswith(".spec")):
        raise ValueError(f"{where}: spec must be a relative path to a .spec file")
    for key in ("dist_git", "upstream"):
        url = values.get(key, "")
        if key == "dist_git" and not url:
            raise ValueError(f"{where}: dist_git (the package's git repository) is missing")
        if url and not url_allowed(url, allowed_urls):
            raise ValueError(f"{where}: {key} {url!r} is not under [webhooks] allowed_urls")
    api = values.get("api_url", "") or DEFAULT_API.get(forge, "")
    if values.get("token") and not api:
        raise ValueError(f"{where}: a forgejo repository with a token needs api_url "
                         f"(e.g. https://codeberg.org/api/v1)")
    if api and not api.startswith(("http://", "https://")):
        raise ValueError(f"{where}: api_url must be an http(s) URL")
    values["api_url"] = api.rstrip("/")
    return RepoSettings(**values)


def url_allowed(url: str, prefixes: Sequence[str]) -> bool:
    """Whether git may fetch ``url``: it starts with one of ``prefixes`` (each taken as
    a whole path part: ``https://git.example.org/rpms/`` does not let in ``.../rpms-evil``
    unless it is written so), and holds nothing git would read as an option."""
    if not url or url.startswith("-") or any(c in url for c in "\n\r\x00 "):
        return False
    for prefix in prefixes:
        if url == prefix or (url.startswith(prefix) and (
                prefix.endswith("/") or url[len(prefix)] in "/?#")):
            return True
    return False


# -- verification ---------------------------------------------------------------------------
def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def sign(forge: str, secret: str, body: bytes) -> dict:
    """The headers a forge would sign ``body`` with (what the tests and the benchmark send)."""
    if forge == "github":
        return {"x-hub-signature-256": "sha256=" + _hmac_hex(secret, body)}
    if forge == "forgejo":
        return {"x-gitea-signature": _hmac_hex(secret, body)}
    return {"x-gitlab-token": secret}


def verify(forge: str, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Refused (401) unless ``body`` comes with the signature (GitHub, Forgejo) or the
    token (GitLab) that ``secret`` makes."""
    if forge == "github":
        given = headers.get("x-hub-signature-256", "")
        if not given:
            raise Refused(401, "the delivery is not signed (no X-Hub-Signature-256)")
        expected = "sha256=" + _hmac_hex(secret, body)
    elif forge == "forgejo":
        given = headers.get("x-forgejo-signature") or headers.get("x-gitea-signature", "")
        if not given:
            raise Refused(401, "the delivery is not signed (no X-Gitea-Signature)")
        expected = _hmac_hex(secret, body)
    else:
        given = headers.get("x-gitlab-token", "")
        if not given:
            raise Refused(401, "the delivery has no X-Gitlab-Token")
        expected = secret
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
        raise Refused(401, "the delivery's signature does not match the repository's secret")


def delivery_id(forge: str, headers: Mapping[str, str]) -> str:
    """The delivery's unique id: ``X-GitHub-Delivery``, ``X-Gitea-Delivery`` (or
    ``X-Forgejo-Delivery``), GitLab's ``Idempotency-Key`` (the same on its retries) or
    else ``X-Gitlab-Event-UUID``. Refused (400) when missing or malformed."""
    names = {"github": ("x-github-delivery",),
             "forgejo": ("x-forgejo-delivery", "x-gitea-delivery"),
             "gitlab": ("idempotency-key", "x-gitlab-event-uuid")}[forge]
    for name in names:
        value = headers.get(name, "")
        if value:
            if not DELIVERY.match(value):
                raise Refused(400, f"the delivery id ({name}) is not an id")
            return value
    raise Refused(400, f"the delivery has no id ({' or '.join(names)})")


def event_name(forge: str, headers: Mapping[str, str]) -> str:
    """The event's kind as the forge names it (``push``, ``Push Hook``, ``ping``)."""
    names = {"github": ("x-github-event",), "forgejo": ("x-forgejo-event", "x-gitea-event"),
             "gitlab": ("x-gitlab-event",)}[forge]
    for name in names:
        if headers.get(name):
            return headers[name][:100]
    raise Refused(400, f"the delivery does not say its event ({names[0]})")


# -- the push -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PushEvent:
    forge: str
    repository: str            # full name, as configured
    ref: str                   # refs/heads/<branch>
    branch: str
    commit: str                # the pushed head, full sha
    timestamp: Optional[str]   # the head commit's time as the forge says it (ISO 8601)
    pusher: str = ""


@dataclass(frozen=True)
class Ignored:
    """A delivery taken (200) that starts nothing: why."""
    reason: str


def _get(data: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def payload_repository(forge: str, payload: Any) -> str:
    """The repository a payload is about (its full name); Refused (400) when it names none."""
    name = _get(payload, "project", "path_with_namespace") if forge == "gitlab" \
        else _get(payload, "repository", "full_name")
    if not isinstance(name, str) or not FULL_NAME.match(name):
        raise Refused(400, "the payload names no repository")
    return name


def read_push(forge: str, event: str, payload: Any, repo: RepoSettings):
    """The push ``payload`` (a parsed JSON object) as a :class:`PushEvent` when it is
    one to build for ``repo``; :class:`Ignored` for a ping, another event, a tag or a
    deleted branch, or a branch ``repo`` does not build; Refused (400) when malformed."""
    if event.lower() in ("ping", "system hook"):
        return Ignored("a ping: the webhook is set up")
    if event.lower() not in ("push", "push hook"):
        return Ignored(f"{event[:60]!r} events start nothing; only pushes do")
    if not isinstance(payload, Mapping):
        raise Refused(400, "the payload is not a JSON object")
    ref = payload.get("ref")
    if not isinstance(ref, str) or not ref.startswith("refs/"):
        raise Refused(400, "the push names no ref")
    after = payload.get("checkout_sha") if forge == "gitlab" else payload.get("after")
    if forge == "gitlab" and after is None:
        after = payload.get("after")
    if payload.get("deleted") or (isinstance(payload.get("after"), str)
                                  and ZERO_SHA.match(payload["after"])):
        return Ignored(f"{ref} was deleted")
    if not ref.startswith("refs/heads/"):
        return Ignored(f"{ref} is not a branch")
    branch = ref[len("refs/heads/"):]
    if not isinstance(after, str) or not SHA.match(after):
        raise Refused(400, "the push names no commit")
    if branch not in repo.branches:
        return Ignored(f"branch {branch} is not one this repository builds "
                       f"({', '.join(repo.branches)})")
    timestamp = None
    head = payload.get("head_commit")
    if isinstance(head, Mapping) and head.get("id") == after:
        timestamp = head.get("timestamp")
    else:
        for commit in payload.get("commits") or ():
            if isinstance(commit, Mapping) and commit.get("id") == after:
                timestamp = commit.get("timestamp")
    pusher = _get(payload, "pusher", "name") or _get(payload, "pusher", "login") \
        or payload.get("user_username") or ""
    return PushEvent(forge, repo.repository, ref, branch, after,
                     timestamp if isinstance(timestamp, str) else None,
                     pusher if isinstance(pusher, str) else "")


# -- what to build ---------------------------------------------------------------------------
def snapshot_release(commit_time: int, commit: str) -> str:
    """A CI build's release: ``0.git<YYYYMMDD>.<short sha>`` from the commit's time
    (seconds since the epoch, UTC), below any release ``1`` of the same version, and
    rising with the date."""
    day = datetime.fromtimestamp(int(commit_time), tz=timezone.utc).strftime("%Y%m%d")
    return f"0.git{day}.{commit[:7]}"


SNAPSHOT_MACRO = "discomy_snapshot"
_RELEASE_LINE = re.compile(r"^Release\s*:.*$", re.I | re.M)


def snapshot_spec(text: str, snapshot: str) -> str:
    """The spec a CI build is made from: ``%global discomy_snapshot <snapshot>`` put
    first, so the SRPM's spec carries it wherever it is rebuilt (koji, mock, here). A
    spec that names ``discomy_snapshot`` takes it where it likes; any other has its
    first ``Release:`` line replaced by ``Release: %{discomy_snapshot}%{?dist}``.
    ValueError when it has no Release: line, or the snapshot is not one."""
    if not re.match(r"^0\.git\d{8}\.[0-9a-f]{7,40}$", snapshot):
        raise ValueError(f"{snapshot!r} is not a snapshot release")
    if SNAPSHOT_MACRO not in text:
        if not _RELEASE_LINE.search(text):
            raise ValueError("the spec has no Release: line")
        text = _RELEASE_LINE.sub(f"Release:        %{{{SNAPSHOT_MACRO}}}%{{?dist}}", text,
                                 count=1)
    return f"%global {SNAPSHOT_MACRO} {snapshot}\n{text}"


def evr_text(evr: Optional[tuple]) -> str:
    if evr is None:
        return "none"
    epoch, version, release = evr
    return f"{epoch}:{version}-{release}" if epoch not in (None, "", "0", 0) \
        else f"{version}-{release}"


@dataclass(frozen=True)
class Decision:
    build: bool
    reason: str


_SNAPSHOT_SHA = re.compile(r"^(.*\.git\d{8})\.[0-9a-f]{7,40}(.*)$")


def same_day(evr: tuple) -> tuple:
    """``evr`` as a CI build compares it: a snapshot release without its short sha
    (``0.git20261130.abc1234.el9`` -> ``0.git20261130.el9``), so two commits of the
    same day compare equal, not in the order of their hashes."""
    epoch, version, release = evr
    m = _SNAPSHOT_SHA.match(release or "")
    return (epoch, version, m.group(1) + m.group(2)) if m else evr


def decide(mode: str, srpm: tuple, previous: Optional[tuple]) -> Decision:
    """Whether the SRPM of EVR ``srpm`` (``(epoch, version, release)``, text) is built,
    given the ``previous`` EVR in the package database (None: no build yet). CI builds
    anything not older, snapshots compared by their day (:func:`same_day`): an equal
    EVR is a later commit of the same day, and the SRPM wins. A release is built only
    when its EVR is strictly greater."""
    import rpm  # rpm's own EVR order (rpmvercmp), the one dnf and koji use

    if previous is None:
        return Decision(True, f"{evr_text(srpm)}: no previous build")
    ours, theirs = srpm, previous
    if mode == "ci":
        ours, theirs = same_day(srpm), same_day(previous)
    order = rpm.labelCompare(tuple(str(p or "0") for p in ours),
                             tuple(str(p or "0") for p in theirs))
    shown = f"{evr_text(srpm)} against {evr_text(previous)}"
    if order > 0:
        return Decision(True, f"{shown}: newer")
    if order == 0 and mode == "ci":
        return Decision(True, f"{shown}: the same; a later commit is built again")
    if order == 0:
        return Decision(False, f"{shown}: a release must be newer than what is built")
    return Decision(False, f"{shown}: older than what is built")


# -- the status back to the forge --------------------------------------------------------------
# our states: pending, success, failure (error: it could not be tried)
_FORGE_STATES = {"github": {"pending": "pending", "success": "success", "failure": "failure",
                            "error": "error"},
                 "forgejo": {"pending": "pending", "success": "success", "failure": "failure",
                             "error": "error"},
                 "gitlab": {"pending": "pending", "success": "success", "failure": "failed",
                            "error": "failed"}}


@dataclass(frozen=True)
class StatusRequest:
    url: str
    headers: dict          # without the token
    token_header: tuple    # (name, value format with {token})
    body: dict


def status_request(repo: RepoSettings, commit: str, state: str, target_url: str,
                   description: str, ref: str = "") -> StatusRequest:
    """The call that sets ``commit``'s status on the forge: GitHub's
    ``POST /repos/{owner}/{repo}/statuses/{sha}``, GitLab's
    ``POST /projects/:id/statuses/:sha``, Forgejo's (Gitea's)
    ``POST /repos/{owner}/{repo}/statuses/{sha}``."""
    forged_state = _FORGE_STATES[repo.forge][state]
    description = description[:139]        # GitHub's limit is 140 characters
    if repo.forge == "gitlab":
        # the project's id may be its path, URL-encoded (FULL_NAME allows no other
        # character that needs it)
        url = f"{repo.api_url}/projects/{repo.repository.replace('/', '%2F')}/statuses/{commit}"
        body = {"state": forged_state, "name": repo.context, "description": description}
        if ref:
            body["ref"] = ref
        token = ("PRIVATE-TOKEN", "{token}")
        headers = {"Content-Type": "application/json"}
    else:
        url = f"{repo.api_url}/repos/{repo.repository}/statuses/{commit}"
        body = {"state": forged_state, "context": repo.context, "description": description}
        if repo.forge == "github":
            token = ("Authorization", "Bearer {token}")
            headers = {"Accept": "application/vnd.github+json",
                       "X-GitHub-Api-Version": "2022-11-28",
                       "Content-Type": "application/json"}
        else:
            token = ("Authorization", "token {token}")
            headers = {"Content-Type": "application/json"}
    if target_url:
        body["target_url"] = target_url
    return StatusRequest(url, headers, token, body)


def backoff(attempt: int, base: float, cap: float = 300.0) -> float:
    """Seconds before attempt ``attempt`` + 1 (doubling from ``base``, at most ``cap``)."""
    return min(cap, base * (2 ** max(0, attempt - 1)))
