"""Module builds as their clients see them: the states, and what a person is shown of a
build the REST API returns (``/api/v1/module-builds``), for the koji CLI plugin
(``koji module-build``, ``koji module-builds``, ...) and the orchestrator alike.

Also where such a client finds the orchestrator: the koji profile's ``discomy_url``
and ``discomy_token_file`` (:func:`client_settings`).

Pure functions over plain dicts; standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Optional
from urllib.parse import urlencode, urlsplit

INIT, WAIT, BUILD, DONE, READY, FAILED, CANCELED = (
    "init", "wait", "build", "done", "ready", "failed", "canceled")
STATES = (INIT, WAIT, BUILD, DONE, READY, FAILED, CANCELED)
TERMINAL = (READY, FAILED, CANCELED)
ACTIVE = (INIT, WAIT, BUILD, DONE)
# which components of a new build are taken from the stream's last ready one
CHANGED_AND_AFTER, ONLY_CHANGED, ALL = "changed-and-after", "only-changed", "all"
REUSE_STRATEGIES = (CHANGED_AND_AFTER, ONLY_CHANGED, ALL)

API_PATH = "/api/v1/module-builds"
URL_KEY, TOKEN_KEY = "discomy_url", "discomy_token_file"


class SettingsError(ValueError):
    """The koji profile does not say (well) where the orchestrator is; one line."""


@dataclass(frozen=True)
class ClientSettings:
    url: str                         # the orchestrator's base URL, no trailing slash
    token_file: Optional[str]        # where the API token is, if the profile names one


def client_settings(options: Mapping, profile: str) -> ClientSettings:
    """The orchestrator's address and token file from a koji profile's options."""
    url = (options.get(URL_KEY) or "").strip()
    if not url:
        raise SettingsError(f"the koji profile {profile!r} has no {URL_KEY}: set it to the "
                            f"orchestrator's address (e.g. {URL_KEY} = "
                            f"https://discomy.example.org)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
            or parts.fragment:
        raise SettingsError(f"{URL_KEY} of the koji profile {profile!r} must be an http or "
                            f"https URL, not {url!r}")
    token_file = (options.get(TOKEN_KEY) or "").strip() or None
    return ClientSettings(url.rstrip("/"), token_file)


def endpoint(settings: ClientSettings, path: str = "", query=None) -> str:
    """The URL of ``/api/v1/module-builds[/path][?query]`` (``query``: pairs, repeats kept)."""
    url = f"{settings.url}{API_PATH}{path}"
    return f"{url}?{urlencode(query)}" if query else url


# -- what a person is shown ---------------------------------------------------------------------
def finished(build: Mapping) -> bool:
    return build["state"] in TERMINAL


def summary_line(build: Mapping) -> str:
    """``module build 7 nodejs:20:9040...:1a2b3c4d: build (building 3 of 3 ...)``."""
    reason = build.get("state_reason") or ""
    if build["state"] == READY and build.get("repo"):
        reason = f"module repo {build['repo']}"
    return f"module build {build['id']} {build['nsvc']}: {build['state']}" + \
        (f" ({reason})" if reason else "")


def watch_lines(build: Mapping) -> list:
    """Per-batch progress of a build (``GET /api/v1/module-builds/ID``), for people."""
    lines = [summary_line(build) + (f"; {build['note']}" if build.get("note") else "")]
    for batch in build.get("batches") or []:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(batch["states"].items()))
        lines.append(f"  batch {batch['batch']}: {counts}")
    return lines


def failure_lines(build: Mapping) -> list:
    """Each failed component, with its reason and log."""
    out = []
    for c in build.get("components") or []:
        if c.get("state") == "failed":
            out.append(f"  {c['name']}: {c.get('failure_class') or 'failed'}: "
                       f"{c.get('reason') or 'no reason given'}")
            if c.get("log"):
                out.append(f"      log: {c['log']}")
    return out


LIST_COLUMNS = ("ID", "NSVC", "State", "Owner", "Done", "Created")


def list_rows(builds: Iterable[Mapping]) -> list:
    return [(str(b["id"]), b["nsvc"], b["state"], b.get("owner") or "-",
             f"{(b.get('component_states') or {}).get('done', 0)}/{b['components_total']}",
             b.get("created_at") or "-") for b in builds]


COMPONENT_COLUMNS = ("Component", "Batch", "State", "NVR", "Task / reason")


def component_rows(build: Mapping) -> list:
    rows = []
    for c in sorted(build.get("components") or [], key=lambda c: (c["batch"], c["name"])):
        where = c.get("task_url") or c.get("task") or ""
        if c.get("state") == "failed" and c.get("reason"):
            where = c["reason"]
        elif c.get("reused_from"):
            where = f"reused from module build {c['reused_from']}"
        rows.append((c["name"], str(c["batch"]), c.get("state") or "-", c.get("nvr") or "-",
                     where or "-"))
    return rows


INFO_FIELDS = (("State", "state"), ("Reason", "state_reason"), ("Note", "note"),
               ("Owner", "owner"), ("Backend", "backend"), ("Scratch", "scratch"),
               ("SCM URL", "scmurl"), ("Commit", "commit"), ("Order", "order"),
               ("Reuse", "reuse"), ("Koji tag", "koji_tag"), ("Target", "target"),
               ("Dist", "dist"), ("Module repo", "repo"), ("Created", "created_at"),
               ("Completed", "completed_at"))


def info_lines(build: Mapping) -> list:
    lines = [f"Module build {build['id']}: {build['nsvc']}"]
    for label, key in INFO_FIELDS:
        value = build.get(key)
        if value not in (None, "", False) or key == "state":
            lines.append(f"  {label}: {'yes' if value is True else value}")
    return lines
