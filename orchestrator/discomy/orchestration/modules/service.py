"""Module builds as a service (shell): what the REST API and the command line call.

Plain functions over a :class:`~discomy.orchestration.store.Store` and the
orchestrator config; each returns JSON-ready dicts (or lists of them) and raises
one of two errors:

- :class:`ModuleRequestError`: the request cannot be done as asked; ``status``
  is the HTTP status to answer (400: bad input, such as a modulemd libmodulemd
  refuses, a ref that does not exist, a page out of range; 409: it conflicts
  with what is there, such as a module version built already or a cancel of a
  finished build). Its text is one line, for the person who asked;
- :class:`ModuleNotFound`: no module build of that id (404).

Functions:

``submit_module_build(store, config, *, scmurl=None, branch=None, modulemd=None,
filename=None, scratch=False, owner="", reuse=None, contexts=(), backend=None,
rpms_repository=None, workdir=None, timestamp=None) -> list[dict]``
    One module build per context the module expands to, recorded in ``init`` for
    the driver (``discomy serve``, or the command line for local builds). Either
    ``scmurl`` and ``branch`` (the module's git repository: ``<name>.yaml`` at
    that ref), or ``modulemd`` (the document's text, ``filename`` naming it in
    errors; koji builds of an uploaded document must be scratch). Every
    component's ref is resolved to a commit here, so the build is of what was
    there at submission. The version is the module's commit time (an uploaded
    document: ``timestamp``, default now) after the platform's version.
    Submitting a module version that exists resumes it when it failed or was
    canceled (built components are kept, failed ones retried), returns it as it
    is while it runs, and is a 409 when it is ready.
``list_module_builds(store, *, state=None, name=None, stream=None, version=None,
context=None, owner=None, scratch=None, backend=None, page=1, per_page=20)
-> dict``
    ``{"items": [build], "page", "per_page", "total", "pages"}``, newest first;
    ``state`` may be one state or a list of them.
``get_module_build(store, module_id, modulemd=True, weburl="") -> dict``
    A build with its ``batches`` (per batch, its components by state), its
    ``components`` (task links under koji's ``weburl``), and its ``modulemd``
    as submitted and ``modulemd_final`` as built.
``cancel_module_build(store, module_id, owner="") -> dict``
    Cancels a build that has not finished: ``canceled`` at once, its component
    builds still running stopped by the driver at its next step.

A build (``module_build_dict``)::

    {"id": 7, "name": "nodejs", "stream": "20", "version": "9040020261204120000",
     "context": "1a2b3c4d", "nsvc": "nodejs:20:9040020261204120000:1a2b3c4d",
     "state": "build", "state_reason": "...", "failure_class": null, "note": "",
     "backend": "koji", "scratch": false, "owner": "jdoe",
     "scmurl": "...", "branch": "20", "commit": "...",
     "buildrequires": {"platform": "el9"}, "requires": {"platform": ["el9"]},
     "order": "batches", "reuse": "changed-and-after", "reused_from": 3,
     "koji_tag": "module-nodejs-20-...", "build_tag": "...-build", "target": "...",
     "dist": ".module+el9+7+1a2b3c4d", "repo": null, "campaign": 12,
     "created_at": "2026-12-04T10:00:00Z", "updated_at": "...", "completed_at": null,
     "components_total": 3, "component_states": {"done": 1, "building": 2}}

``get_module_build`` adds ``"batches": [{"batch": 1, "states": {"done": 1}}, ...]``,
``"modulemd"``, ``"modulemd_final"`` and ``"components"``, each::

    {"name": "libuv", "batch": 1, "state": "done", "nvr": "libuv-1.48-1.module+...",
     "task": "4242", "task_url": "https://koji.example.org/koji/taskinfo?taskID=4242",
     "reason": "", "failure_class": null, "attempts": 1, "log": "...",
     "repository": "https://...", "ref": "20", "commit": "...", "scmurl": "git+...",
     "buildorder": 1, "buildafter": [], "arches": [], "buildonly": false,
     "rationale": "...", "reused_from": null, "artifacts": ["libuv-0:1.48-1...x86_64"]}
"""

from __future__ import annotations

import datetime
import json
import math
import time
from pathlib import Path
from typing import Iterable, Optional, Sequence

from discomy.orchestration import campaign as cm
from discomy.orchestration.campaign import Node
from discomy.orchestration.modules import core, scm
from discomy.planning import modulemd as mmd
from discomy.planning.modules import (
    PLATFORM,
    ModuleError,
    expand,
    module_version,
    narrow,
    order_components,
)

MAX_PER_PAGE = 100
MAX_MODULEMD = 4 * 1024 * 1024
FILTERS = ("name", "stream", "version", "context", "owner", "scratch", "backend")


class ModuleRequestError(ValueError):
    """A request that cannot be done as asked: ``status`` 400 (bad input) or 409 (it
    conflicts with what is there)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(" ".join(str(message).split())[:1000])
        self.status = status


class ModuleNotFound(LookupError):
    """No module build of that id (404)."""


# ---- submit ----------------------------------------------------------------------------------

def _plain(value, what: str, limit: int = 600) -> str:
    """A text field of a request: printable text a database and git can carry."""
    ok = isinstance(value, str) and len(value) <= limit and value.isprintable()
    if ok:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            ok = False
    if not ok:
        raise ModuleRequestError(f"{what} must be printable text of at most {limit} "
                                 f"characters")
    return value


def submit_module_build(store, config: dict, *, scmurl: Optional[str] = None,
                        branch: Optional[str] = None, modulemd: Optional[str] = None,
                        filename: Optional[str] = None, scratch: bool = False, owner: str = "",
                        reuse: Optional[str] = None, contexts: Sequence[str] = (),
                        backend: Optional[str] = None, rpms_repository: Optional[str] = None,
                        workdir: Optional[str] = None,
                        timestamp: Optional[str] = None) -> list:
    m = config["modules"]
    backend = backend or m["backend"]
    reuse = reuse or m["reuse"]
    if backend not in ("koji", "local"):
        raise ModuleRequestError(f"backend must be koji or local, not {backend!r}")
    if reuse not in core.REUSE_STRATEGIES:
        raise ModuleRequestError(f"reuse must be one of {', '.join(core.REUSE_STRATEGIES)}, "
                                 f"not {reuse!r}")
    if (scmurl is None) == (modulemd is None):
        raise ModuleRequestError("give either an SCM URL and a branch, or a modulemd")
    _plain(owner, "owner", 255)
    for what, value in (("scmurl", scmurl), ("branch", branch), ("filename", filename),
                        ("rpms_repository", rpms_repository)):
        if value is not None:
            _plain(value, what, 4096)
    if isinstance(contexts, str) or not all(isinstance(c, str) for c in contexts):
        raise ModuleRequestError("contexts must be a list of context names")
    try:
        if scmurl is not None:
            if not branch:
                raise ModuleRequestError("an SCM URL needs a branch (the module's stream)")
            repository, ref = scm.parse_scmurl(scmurl)
            scm.check_ref(branch)
            name = scm.repository_name(repository)
            fetched = scm.fetch_file(repository, ref or branch, f"{name}.yaml")
            text, commit, stamp = fetched.text, fetched.commit, fetched.timestamp
            where = f"{name}.yaml at {fetched.commit[:12]}"
            source = mmd.parse(text, name, branch, what=where)
        else:
            if not isinstance(modulemd, str) or len(modulemd) > MAX_MODULEMD:
                raise ModuleRequestError(f"the modulemd must be text of at most "
                                         f"{MAX_MODULEMD // 1048576} MiB")
            if backend == "koji" and not scratch:
                raise ModuleRequestError("an uploaded modulemd builds only as a scratch "
                                         "module build on koji: give an SCM URL and branch")
            text, commit, repository = modulemd, None, None
            stamp = timestamp or time.strftime("%Y%m%d%H%M%S", time.gmtime())
            source = mmd.parse(text, what=filename or "the modulemd")
        if not source.components:
            raise ModuleError(f"{source.name}:{source.stream} has no rpm components")
        order = order_components(source.components)
        available = _available_streams(store, config, backend)
        expansions = narrow(expand(source, available), list(contexts))
        resolved = _components(source, rpms_repository if rpms_repository is not None
                               else m["rpms_repository"])
    except ModuleError as exc:          # libmodulemd's sentence, a cycle, a missing ref
        raise ModuleRequestError(str(exc)) from None
    builds = []
    for expansion in expansions:
        version = source.version or module_version(stamp, expansion.platform)
        builds.append(_submit_one(store, config, source, text, expansion, version, order,
                                  resolved, backend=backend, scratch=scratch, owner=owner,
                                  reuse=reuse, scmurl=scmurl, branch=branch, commit=commit,
                                  workdir=workdir))
    return builds


def _available_streams(store, config: dict, backend: str) -> dict:
    from discomy.orchestration.config import platform_tags

    available = store.modules.ready_streams(backend)
    platforms = sorted(platform_tags(config))
    if platforms:
        available[PLATFORM] = platforms
    return available


RESOLVERS = 8       # git ls-remote calls at once: a module may have hundreds of components


def _components(source, template: str) -> dict:
    """``name -> (repository, ref as written, commit, scmurl)`` of every component."""
    from concurrent.futures import ThreadPoolExecutor

    wanted = {}
    for c in source.components:
        repository = c.repository or (template.replace("{name}", c.name) if template else None)
        if not repository:
            raise ModuleError(f"component {c.name} names no repository, and no default "
                              f"([modules] rpms_repository) is set")
        # MBS's default ref: the branch named as the module's stream
        wanted[c.name] = (scm.check_repository(repository), c.ref or source.stream)
    with ThreadPoolExecutor(max_workers=RESOLVERS) as pool:
        commits = dict(zip(wanted, pool.map(lambda pair: _resolved(*pair), wanted.values())))
    out = {}
    for name, (repository, ref) in wanted.items():      # the first failure, in name order
        commit = commits[name]
        if isinstance(commit, ModuleError):
            raise commit
        out[name] = (repository, ref, commit, scm.scmurl_of(repository, commit))
    return out


def _resolved(repository: str, ref: str):
    try:
        return scm.resolve(repository, ref)
    except ModuleError as exc:
        return exc


def _submit_one(store, config: dict, source, text: str, expansion, version: int, order,
                resolved: dict, *, backend: str, scratch: bool, owner: str, reuse: str,
                scmurl, branch, commit, workdir) -> dict:
    from discomy.orchestration.config import platform_tags
    from discomy.orchestration.store.modules import NewComponent

    modules = store.modules
    name, stream, context = source.name, source.stream, expansion.context
    if not scratch:
        existing = modules.by_nsvc(name, stream, str(version), context)
        if existing is not None:
            return _resubmitted(store, existing)
    parents = []
    if backend == "koji":
        platform = expansion.platform
        tags = platform_tags(config)
        if platform not in tags:
            raise ModuleRequestError(f"{name}:{stream}:{context} buildrequires platform "
                                     f"{platform or '(none)'}, which has no koji tag: add it "
                                     f"to [modules] platforms")
        parents.append(tags[platform])
    for module, wanted in sorted(expansion.buildrequires.items()):
        if module == PLATFORM:
            continue
        found = modules.last_ready(module, wanted, backend)
        if found is None:
            raise ModuleRequestError(f"{name}:{stream}:{context} buildrequires "
                                     f"{module}:{wanted}, which has no ready build on "
                                     f"{backend}")
        if backend == "koji":
            parents.append(found.koji_tag)
    try:
        document = mmd.render(text, source, expansion, version,
                              {n: (r[0], r[2]) for n, r in resolved.items()})
    except ModuleError as exc:
        raise ModuleRequestError(str(exc)) from None
    previous = None if scratch else _previous(store, name, stream, backend, context)
    reused = core.reuse({n: (r[0], r[2]) for n, r in resolved.items()}, order.deps, order.tiers,
                        order.kind, expansion.buildrequires, previous, reuse)
    previous_components = {c.name: c for c in modules.components(previous.module_id)} \
        if reused else {}
    components = []
    for c in source.components:
        repository, ref, sha, url = resolved[c.name]
        components.append(NewComponent(
            name=c.name, repository=repository, ref=ref, commit=sha, scmurl=url,
            batch=order.tier_of(c.name) + 1, buildorder=c.buildorder,
            buildafter=c.buildafter, arches=c.arches, buildonly=c.buildonly,
            rationale=c.rationale,
            reused_from=previous.module_id if c.name in reused else None,
            reused_nvr=reused.get(c.name),
            reused_artifacts=tuple(json.loads(previous_components[c.name].artifacts or "[]"))
            if c.name in reused else ()))
    nodes = [Node(c.name, order.tier_of(c.name), tuple(order.deps[c.name]),
                  float(order.remaining[c.name])) for c in source.components]
    fields = {
        "name": name, "stream": stream, "version": str(version), "context": context,
        "nsvc_key": None if scratch else f"{name}:{stream}:{version}:{context}",
        "state": core.INIT, "state_reason": "submitted", "backend": backend,
        "scratch": bool(scratch), "owner": owner, "scmurl": scmurl, "branch": branch,
        "commit": commit, "modulemd": document,
        "buildrequires": json.dumps(dict(expansion.buildrequires), sort_keys=True),
        "requires": json.dumps({k: list(v) for k, v in expansion.requires.items()},
                               sort_keys=True),
        "order_kind": order.kind, "reuse": reuse,
        "reused_from": previous.module_id if reused else None,
        "parents": json.dumps(parents), "note": "",
    }
    base = Path(workdir or config["modules"]["workdir"])
    prefix = config["modules"]["dist_prefix"]

    def named(module_id: int) -> dict:
        tag = core.koji_tag(name, stream, version, context, scratch, module_id)
        more = {"dist": core.dist_tag(name, stream, version, context, module_id,
                                      expansion.platform, prefix)}
        if backend == "koji":
            more.update(koji_tag=tag, build_tag=f"{tag}-build", target=tag)
        else:
            more["workdir"] = str(base / f"module-{module_id}")
        return more

    from sqlalchemy.exc import IntegrityError

    try:
        module_id = modules.create(fields, components, nodes, order.release, named)
    except IntegrityError:          # submitted twice at once: the other one is it
        existing = modules.by_nsvc(name, stream, str(version), context)
        if existing is None:
            raise
        return module_build_dict(store, existing)
    return module_build_dict(store, modules.get(module_id))


def _previous(store, name: str, stream: str, backend: str, context: str):
    row = store.modules.last_ready(name, stream, backend, context)
    if row is None:
        return None
    nodes = store.nodes(row.campaign_id)
    done = {c.name: (c.repository, c.commit, nodes[c.name].nvr)
            for c in store.modules.components(row.id)
            if c.name in nodes and nodes[c.name].state == cm.DONE and nodes[c.name].nvr}
    return core.Previous(row.id, json.loads(row.buildrequires or "{}"), done)


def _resubmitted(store, row) -> dict:
    """The same module version again: resumed when it failed or was canceled."""
    from discomy.orchestration.engine import requeue_failed

    if row.state == core.READY:
        raise ModuleRequestError(f"{row.nsvc} is built already (module build {row.id}): "
                                 f"commit a change to build a new version", status=409)
    if row.state in core.ACTIVE:
        return module_build_dict(store, row)
    # failed or canceled: what is built stays, the rest is built again
    nodes = store.nodes(row.campaign_id)
    requeue_failed(store, row.campaign_id)
    stuck = {n: node for n, node in store.nodes(row.campaign_id).items()
             if node.state == cm.QUARANTINED}
    if stuck:                   # waited for a component that is requeued now
        from dataclasses import replace

        store.update_nodes(row.campaign_id, {n: replace(node, state=cm.PLANNED, reason="")
                                             for n, node in stuck.items()})
    store.set_campaign_state(row.campaign_id, cm.RUNNING, note="")
    kept = sum(1 for node in nodes.values() if node.state == cm.DONE)
    store.modules.set_state(row.id, core.WAIT, f"resubmitted: {kept} of {len(nodes)} "
                                               f"components kept", repo_task=None, note="",
                            expected=row.state)
    return module_build_dict(store, store.modules.get(row.id))


# ---- read --------------------------------------------------------------------------------------

def _when(stamp: Optional[float]) -> Optional[str]:
    if stamp is None:
        return None
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")


def module_build_dict(store, row, states: Optional[dict] = None) -> dict:
    if states is None:
        states = store.modules.component_states([row.id]).get(row.id, {})
    out = {
        "id": row.id, "name": row.name, "stream": row.stream, "version": row.version,
        "context": row.context, "nsvc": row.nsvc, "state": row.state,
        "state_reason": row.state_reason, "failure_class": row.failure_class,
        "note": row.note, "backend": row.backend, "scratch": row.scratch, "owner": row.owner,
        "scmurl": row.scmurl, "branch": row.branch, "commit": row.commit,
        "buildrequires": row.json("buildrequires"), "requires": row.json("requires"),
        "order": row.order_kind, "reuse": row.reuse, "reused_from": row.reused_from,
        "koji_tag": row.koji_tag, "build_tag": row.build_tag, "target": row.target,
        "dist": row.dist, "repo": row.repo, "campaign": row.campaign_id,
        "created_at": _when(row.created_at), "updated_at": _when(row.updated_at),
        "completed_at": _when(row.completed_at),
        "components_total": sum(states.values()), "component_states": dict(sorted(states.items())),
    }
    return out


def list_module_builds(store, *, state=None, page: int = 1, per_page: int = 20,
                       **filters) -> dict:
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise ModuleRequestError(f"unknown filter {unknown[0]!r} (known: state, "
                                 f"{', '.join(FILTERS)})")
    if not _whole(page) or page < 1:
        raise ModuleRequestError(f"page must be a whole number from 1, not {page!r}")
    if not _whole(per_page) or not 1 <= per_page <= MAX_PER_PAGE:
        raise ModuleRequestError(f"per_page must be a whole number from 1 to {MAX_PER_PAGE}, "
                                 f"not {per_page!r}")
    where = {k: v for k, v in filters.items() if v is not None}
    for key, value in where.items():
        if key == "scratch":
            if not isinstance(value, bool):
                raise ModuleRequestError(f"scratch must be true or false, not {value!r}")
        else:
            _plain(value, key)
    if state is not None:
        if not isinstance(state, (str, list, tuple)):
            raise ModuleRequestError("state must be a state or a list of states")
        states = [state] if isinstance(state, str) else list(state)
        bad = sorted(s for s in states if s not in core.STATES)
        if bad or not states:
            raise ModuleRequestError(f"unknown state {bad[0] if bad else '(none)'!r} (states: "
                                     f"{', '.join(core.STATES)})")
        where["state"] = states
    # beyond the last page is empty, not an error; a page number past any row is refused
    if (page - 1) * per_page > 2 ** 62:
        raise ModuleRequestError(f"page {page} is beyond any list")
    rows, total = store.modules.page(where, page, per_page)
    states = store.modules.component_states([r.id for r in rows])
    return {"items": [module_build_dict(store, r, states.get(r.id, {})) for r in rows],
            "page": page, "per_page": per_page, "total": total,
            "pages": max(1, math.ceil(total / per_page))}


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _row(store, module_id):
    if not _whole(module_id) or not 1 <= module_id < 2 ** 63:
        raise ModuleNotFound(f"no module build {module_id!r}")
    try:
        return store.modules.get(module_id)
    except KeyError:
        raise ModuleNotFound(f"no module build {module_id}") from None


def get_module_build(store, module_id: int, modulemd: bool = True, weburl: str = "") -> dict:
    row = _row(store, module_id)
    out = module_build_dict(store, row)
    nodes = store.nodes(row.campaign_id) if row.campaign_id else {}
    weburl = weburl.rstrip("/")

    def task_url(task: str) -> str:
        return f"{weburl}/taskinfo?taskID={task}" if weburl and task.isdigit() \
            and row.backend == "koji" else ""

    out["batches"] = core.batch_progress(nodes)
    out["components"] = [component_dict(c, nodes.get(c.name), task_url)
                         for c in store.modules.components(row.id)]
    if modulemd:
        out["modulemd"] = row.modulemd
        out["modulemd_final"] = row.modulemd_final
    return out


def component_dict(c, node: Optional[Node], task_url=lambda task: "") -> dict:
    return {
        "name": c.name, "batch": c.batch, "state": node.state if node else None,
        "nvr": node.nvr if node else None, "task": node.task if node else None,
        "task_url": task_url(node.task) if node and node.task else None,
        "reason": node.reason if node else "",
        "failure_class": node.failure_class if node else None,
        "attempts": node.attempts if node else 0, "log": node.log if node else None,
        "repository": c.repository, "ref": c.ref, "commit": c.commit, "scmurl": c.scmurl,
        "buildorder": c.buildorder, "buildafter": json.loads(c.buildafter or "[]"),
        "arches": json.loads(c.arches or "[]"), "buildonly": c.buildonly,
        "rationale": c.rationale, "reused_from": c.reused_from,
        "artifacts": [a for a in json.loads(c.artifacts or "[]") if not a.endswith(".rpm")],
    }


# ---- cancel ---------------------------------------------------------------------------------

def cancel_module_build(store, module_id: int, owner: str = "") -> dict:
    row = _row(store, module_id)
    if row.state not in core.ACTIVE:
        raise ModuleRequestError(f"module build {row.id} is {row.state}: only a build that has "
                                 f"not finished can be canceled", status=409)
    reason = f"canceled by {owner}" if owner else "canceled"
    if not store.modules.set_state(row.id, core.CANCELED, reason, expected=row.state):
        return cancel_module_build(store, module_id, owner)     # it moved on meanwhile
    store.set_campaign_state(row.campaign_id, cm.CANCELLED, note=reason)
    return module_build_dict(store, store.modules.get(row.id))


# ---- the message body ---------------------------------------------------------------------------

def message_body(store, row, old_state: Optional[str] = None) -> dict:
    """The body of the ``discomy.module.state.change`` message of ``row``'s state."""
    states = store.modules.component_states([row.id]).get(row.id, {})
    reused = sum(1 for c in store.modules.components(row.id) if c.reused_from)
    return {
        "id": row.id, "name": row.name, "stream": row.stream, "version": row.version,
        "context": row.context, "nsvc": row.nsvc, "state": row.state,
        "old_state": old_state, "state_reason": row.state_reason or "",
        "failure_class": row.failure_class, "scratch": bool(row.scratch),
        "owner": row.owner or "", "backend": row.backend, "koji_tag": row.koji_tag,
        "repo": row.repo,
        "components": {"total": sum(states.values()), "done": states.get(cm.DONE, 0),
                       "failed": states.get(cm.FAILED, 0), "reused": reused},
    }


def watch_lines(build: dict) -> Iterable[str]:
    """Per-batch progress of a build (from :func:`get_module_build`), as lines for people."""
    yield f"module build {build['id']} {build['nsvc']}: {build['state']}" + \
        (f" ({build['note']})" if build.get("note") else "")
    for batch in build.get("batches", []):
        counts = ", ".join(f"{n} {s}" for s, n in batch["states"].items())
        yield f"  batch {batch['batch']}: {counts}"
