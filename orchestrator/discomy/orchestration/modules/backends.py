"""Where a module build's components build, and where its module repo is made (shells).

Each is the campaign backend of :mod:`discomy.orchestration.backends` (so the
engine submits, polls and waits for repos exactly as for a campaign), plus what
a module build needs around it:

- ``prepare_buildroot(reused) -> None | note``: make the buildroot, every call
  safe to repeat; a note says what it still waits for;
- ``artifacts(nvrs) -> {component: [NEVRA]}``: the rpms each built component made;
- ``module_repo(document, artifacts, buildonly, task) -> RepoStep``: the module
  repo with ``document`` (the final modulemd) as its ``modules.yaml``.

:class:`ModuleKojiBackend`: the build tag (``<tag>-build``) inherits the
module's own tag first, so each finished component is in the next buildroot
without a tagging task per build, then the platform's tag and the tags of the
buildrequired modules, in that order; it carries ``rpm.macro.dist`` and
``rpm.macro.modularitylabel``, ``mock.package_manager = dnf`` and
``repo_include_all`` as MBS sets them. The components are in the module tag's
package list; the target builds from the build tag into the module tag.
Reused builds are tagged into the module tag with ``tagBuild``. The module repo
is a koji dist-repo of the module tag (``distRepo``); its ``modules.yaml`` is
added with ``modifyrepo_c`` where this host sees koji's ``topdir``. Every step
looks at what koji has before it acts, so a restart repeats nothing: tags,
inheritance, package list and target are compared first, a tagged build is not
tagged again, a dist-repo task already running is found (``listTasks``).

:class:`ModuleLocalBackend`: each component's commit is exported from git, its
SRPM made with ``rpmbuild -bs`` and rebuilt with the module's ``%dist`` and
``%modularitylabel`` (rpm writes the label into every header). The module repo
is a directory of the shipped rpms, indexed with createrepo_c, with
``modules.yaml`` added by ``modifyrepo_c``.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

import koji

from discomy.orchestration import campaign as cm
from discomy.orchestration.backends import READY, BackendError, BuildOutcome
from discomy.orchestration.backends.koji import KojiBackend, KojiBackendError
from discomy.orchestration.backends.local import LocalBackend
from discomy.orchestration.modules import core
from discomy.orchestration.modules.scm import ScmError, export
from discomy.orchestration.rpmtools import ToolError, createrepo, rpmbuild_failure

log = logging.getLogger(__name__)

MODULE_KEY = "discomy_module"


@dataclass(frozen=True)
class RepoStep:
    """Where making the module repo stands: the task making it (koji), and its location
    once it is there."""
    task: Optional[int] = None
    location: Optional[str] = None
    note: str = ""


def add_modules_yaml(repo: Path, document: str) -> None:
    """Put ``document`` into ``repo``'s repodata as its ``modules`` metadata."""
    with tempfile.TemporaryDirectory(prefix="discomy-modules-") as scratch:
        path = Path(scratch) / "modules.yaml"
        path.write_text(document)
        argv = ["modifyrepo_c", "--mdtype=modules", "--compress-type=gz", str(path),
                str(repo / "repodata")]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        except FileNotFoundError:
            raise ToolError("modifyrepo_c is not installed (needed to add modules.yaml)") \
                from None
        if proc.returncode:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
            raise ToolError(f"modifyrepo_c failed on {repo}: {tail[0]}")


def nevra(header) -> str:
    epoch = header["epoch"] if header["epoch"] is not None else 0
    arch = "src" if header.isSource() else header["arch"]
    return f"{header['name']}-{epoch}:{header['version']}-{header['release']}.{arch}"


def _headers(directory: Path) -> list:
    """``(file, header)`` of every rpm in ``directory``."""
    import rpm

    ts = rpm.TransactionSet()
    ts.setVSFlags(rpm._RPMVSF_NOSIGNATURES | rpm._RPMVSF_NODIGESTS)
    found = []
    for path in sorted(directory.glob("*.rpm")):
        with open(path, "rb") as f:
            found.append((path, ts.hdrFromFdno(f.fileno())))
    return found


# ---- local -----------------------------------------------------------------------------------

class ModuleLocalBackend(LocalBackend):
    """A module's components built here, from their git commits, into ``workdir/repo``."""

    def __init__(self, workdir: Path, module, components: Sequence, previous_repos=None):
        super().__init__(Path(workdir), [], module.campaign_id)
        self.module = module
        self.dist = module.dist
        self.label = core.modularity_label(module.name, module.stream, module.version,
                                           module.context)
        self.components = {c.name: c for c in components}
        self.sources = self.workdir / "sources"
        self.srpm_top = self.workdir / "srpm"
        # module id -> that build's repository of rpms (where reused rpms are copied from)
        self.previous_repos = dict(previous_repos or {})

    def macros(self) -> dict:
        m = self.module
        return {"dist": self.dist, "modularitylabel": self.label, "_module_build": "1",
                "_module_name": m.name, "_module_stream": m.stream,
                "_module_version": m.version, "_module_context": m.context}

    def source_id(self, name: str) -> Optional[str]:
        c = self.components.get(name)
        return f"{c.repository}#{c.commit}" if c else None

    def _rpmbuild(self, name: str, log_path: Path) -> BuildOutcome:
        srpm_log = log_path.with_name(log_path.stem + ".srpm.log")
        found = self._srpm(name, srpm_log)
        if isinstance(found, BuildOutcome):
            return found
        self.srpms[name] = found
        return super()._rpmbuild(name, log_path)

    def _srpm(self, name: str, log_path: Path):
        """The SRPM of ``name`` made from its commit, or the failed outcome."""
        c = self.components.get(name)
        if c is None:
            return BuildOutcome(False, error=f"{name} is not a component of this module")
        tree = self.sources / f"{name}-{c.commit[:12]}"
        try:
            if not (tree / ".exported").exists():
                shutil.rmtree(tree, ignore_errors=True)
                export(c.repository, c.commit, tree)
                (tree / ".exported").touch()
        except ScmError as exc:           # the git server, not the package: retried
            return BuildOutcome(False, error=str(exc), failure=cm.INFRASTRUCTURE)
        spec = tree / f"{name}.spec"
        if not spec.is_file():
            return BuildOutcome(False, error=f"{c.repository} has no {name}.spec at "
                                             f"{c.commit[:12]}", failure=cm.PACKAGE)
        top = self.srpm_top / name
        shutil.rmtree(top, ignore_errors=True)
        argv = ["rpmbuild", "-bs", "--nodeps", "--define", f"_topdir {top}",
                "--define", f"_sourcedir {tree}"]
        for key, value in self.macros().items():
            argv += ["--define", f"{key} {value}"]
        argv.append(str(spec))
        status, started = self._run_logged(argv, log_path)
        srpms = sorted((top / "SRPMS").glob("*.src.rpm"))
        if status == 0 and len(srpms) == 1:
            return srpms[0]
        output = log_path.read_text(errors="replace") if log_path.exists() else ""
        errors = "; ".join(rpmbuild_failure(output).errors[:3])
        if status is None:
            return BuildOutcome(False, error=f"rpmbuild could not run for {name}: {started}",
                                failure=cm.INFRASTRUCTURE, log=str(log_path))
        return BuildOutcome(False, error=f"the source package of {name} could not be made: "
                                         f"{errors or f'exit status {status}'}",
                            failure=cm.rpmbuild_failure_class(status), log=str(log_path))

    # -- around the build ---------------------------------------------------------------
    def prepare_buildroot(self, reused: Mapping[str, str]) -> Optional[str]:
        """Reused components' rpms copied from the build they come from; the repo indexed."""
        for name, nvr in sorted(reused.items()):
            c = self.components[name]
            source = self.previous_repos.get(c.reused_from)
            files = [a for a in json.loads(c.artifacts or "[]") if a.endswith(".rpm")]
            if source is None or not files:
                raise BackendError(f"component {name} ({nvr}) is to be reused from module "
                                   f"build {c.reused_from}, whose rpms are not known here")
            for file in files:
                if not (Path(source) / file).is_file():
                    raise BackendError(f"component {name} is to be reused from module build "
                                       f"{c.reused_from}, but {file} is gone from {source}")
                shutil.copy2(Path(source) / file, self.repo / file)
        try:
            createrepo(self.repo)
        except ToolError as exc:
            raise BackendError(f"createrepo_c failed on {self.repo}: {exc}") from None
        return None

    def artifacts(self, nvrs: Mapping[str, str]) -> dict:
        """``component -> [NEVRA, ..., file names]``: its binary rpms in the repo, its
        source rpm's NEVRA, and the rpm files (what a later build reuses)."""
        by_source = {f"{nvr}.src.rpm": name for name, nvr in nvrs.items()}
        found: dict = {name: set() for name in nvrs}
        for path, header in _headers(self.repo):
            name = by_source.get(header["sourcerpm"] or "")
            if name is None:
                continue
            found[name].update({nevra(header), path.name})
            epoch = header["epoch"] if header["epoch"] is not None else 0
            srpm = koji.parse_NVRA(header["sourcerpm"])
            found[name].add(f"{srpm['name']}-{epoch}:{srpm['version']}-{srpm['release']}.src")
        return {name: sorted(values) for name, values in found.items()}

    def module_repo(self, document: str, artifacts: Mapping[str, Sequence[str]],
                    buildonly: Sequence[str], task: Optional[int] = None) -> RepoStep:
        m = self.module
        dest = self.workdir / f"{m.name}-{m.stream}-{m.version}-{m.context}"
        shutil.rmtree(dest, ignore_errors=True)      # made whole again after a crash
        dest.mkdir(parents=True)
        for name, values in artifacts.items():
            if name in buildonly:
                continue
            for file in values:
                if file.endswith(".rpm") and not file.endswith(".src.rpm"):
                    shutil.copy2(self.repo / file, dest / file)
        try:
            createrepo(dest, update=False)
            add_modules_yaml(dest, document)
        except ToolError as exc:
            raise BackendError(str(exc)) from None
        return RepoStep(location=str(dest))


# ---- koji ------------------------------------------------------------------------------------

# what koji's own `koji dist-repo` sends: kojid reads each of these
DIST_REPO_OPTS = {"comps": None, "delta": [], "event": None, "inherit": False, "latest": True,
                  "multilib": False, "split_debuginfo": False,
                  "skip_missing_signatures": False, "allow_missing_signatures": True,
                  "volume": None, "write_signed_rpms": False, "zck": False,
                  "zck_dict_dir": None}


class ModuleKojiBackend(KojiBackend):
    """A module's components built in koji, in the module's own tags and target."""

    def __init__(self, session, module, components: Sequence, arches: Sequence[str] = (),
                 topdir: str = "", **kw):
        kw.setdefault("created_at", module.created_at)
        super().__init__(session, module.campaign_id, module.target, mode="sidetag", **kw)
        self.module = module
        self.tag, self.build_tag_name = module.koji_tag, module.build_tag
        self.sources = {c.name: c.scmurl for c in components}
        self.parents = json.loads(module.parents or "[]")
        self.arches = list(arches)
        self.topdir = topdir
        self.label = core.modularity_label(module.name, module.stream, module.version,
                                           module.context)
        self._tag_tasks: dict = {}          # nvr -> tagging task of a reused build
        self._first_repo: Optional[str] = None

    @property
    def build_target(self) -> str:
        return self.target

    @property
    def repo_tag(self) -> Optional[str]:
        return self.build_tag_name

    def source(self, name: str) -> str:
        try:
            return self.sources[name]
        except KeyError:
            raise KojiBackendError(f"{name} is not a component of module "
                                   f"{self.module.nsvc}") from None

    def _opts(self) -> dict:
        opts = super()._opts()
        opts["custom_user_metadata"][MODULE_KEY] = self.module.nsvc
        return opts

    def prepare(self) -> dict:
        fields = {"dest_tag": self.tag}
        if self.start_event is None:
            self.start_event = fields["start_event"] = int(self.call("getLastEvent")["id"])
        return fields

    def merge(self, nvrs) -> bool:
        return True             # builds are in the module tag already

    # -- the buildroot ------------------------------------------------------------------
    def prepare_buildroot(self, reused: Mapping[str, str]) -> Optional[str]:
        parents = [self._tag_info(p, "a parent tag") for p in self.parents]
        arches = self.arches
        if not arches and parents:      # the platform's
            arches = (parents[0].get("arches") or "").split()
        if not arches:
            raise KojiBackendError(f"no arches for {self.tag}: set [modules] arches, or give "
                                   f"the platform's tag {self.parents[:1]} arches")
        common = {"mock.package_manager": "dnf", "repo_include_all": True}
        macros = {"rpm.macro.dist": self.module.dist,
                  "rpm.macro.modularitylabel": self.label}
        module_tag = self._ensure_tag(self.tag, arches, common)
        self._ensure_tag(self.build_tag_name, arches, {**common, **macros})
        self._ensure_inheritance(self.build_tag_name, [module_tag] + parents)
        self._ensure_packages(self.tag, sorted(self.sources))
        self._ensure_target()
        pending = self._tag_reused(sorted(reused.values()))
        if pending:
            return f"tagging {pending} reused build(s) into {self.tag}"
        if self._first_repo is None:
            self._first_repo = self.request_repo([]) or "repo:now"
        state = self.repo_state(self._first_repo)
        if state != READY:
            if state == "lost":
                self._first_repo = None
            return f"waiting for the first repo of {self.build_tag_name}"
        return None

    def _tag_info(self, name: str, what: str) -> dict:
        info = self.call("getTag", name)
        if not info:
            raise KojiBackendError(f"koji has no tag {name} ({what} of {self.build_tag_name})")
        return info

    def _ensure_tag(self, name: str, arches: Sequence[str], extra: Mapping) -> dict:
        info = self.call("getTag", name)
        if not info:
            try:
                self.call("createTag", name, arches=" ".join(arches), extra=dict(extra))
            except koji.GenericError as exc:
                if not self.call("getTag", name):      # not made by a lost earlier call
                    raise KojiBackendError(f"koji refused to create tag {name}: {exc}") \
                        from None
            log.info("module %s: tag %s", self.module.nsvc, name)
            return self._tag_info(name, "the module's tag")
        changes = {}
        if sorted((info.get("arches") or "").split()) != sorted(arches):
            changes["arches"] = " ".join(arches)
        have = info.get("extra") or {}
        if any(have.get(k) != v for k, v in extra.items()):
            changes["extra"] = dict(extra)
        if changes:
            try:
                self.call("editTag2", name, **changes)
            except koji.GenericError as exc:
                raise KojiBackendError(f"koji refused to set up tag {name}: {exc}") from None
        return info

    def _ensure_inheritance(self, tag: str, parents: Sequence[dict]) -> None:
        want = [{"parent_id": p["id"], "priority": 10 * i, "maxdepth": None,
                 "intransitive": False, "noconfig": False, "pkg_filter": ""}
                for i, p in enumerate(parents)]
        have = self.call("getInheritanceData", tag) or []
        if [(h["parent_id"], h["priority"]) for h in sorted(have, key=lambda h: h["priority"])] \
                == [(w["parent_id"], w["priority"]) for w in want]:
            return
        try:
            self.call("setInheritanceData", tag, want, clear=True)
        except koji.GenericError as exc:
            raise KojiBackendError(f"koji refused the inheritance of {tag}: {exc}") from None

    def _ensure_packages(self, tag: str, names: Sequence[str]) -> None:
        listed = {p["package_name"] for p in self.call("listPackages", tagID=tag) or []}
        missing = [n for n in names if n not in listed]
        if not missing:
            return
        user = self._user()
        owner = user["name"] if user else None
        try:
            self.call_many("packageListAdd", [(tag, n, owner) for n in missing])
        except koji.GenericError as exc:
            raise KojiBackendError(f"koji refused to list the components in {tag}: {exc}") \
                from None

    def _ensure_target(self) -> None:
        info = self.call("getBuildTarget", self.target)
        if not info:
            try:
                self.call("createBuildTarget", self.target, self.build_tag_name, self.tag)
            except koji.GenericError as exc:
                if not self.call("getBuildTarget", self.target):
                    raise KojiBackendError(f"koji refused to create target {self.target}: "
                                           f"{exc}") from None
            self._target_info = None
            return
        if (info["build_tag_name"], info["dest_tag_name"]) != (self.build_tag_name, self.tag):
            raise KojiBackendError(f"target {self.target} exists but builds from "
                                   f"{info['build_tag_name']} into {info['dest_tag_name']}, "
                                   f"not from {self.build_tag_name} into {self.tag}")

    def _tag_reused(self, nvrs: Sequence[str]) -> int:
        """Tag reused builds into the module tag; how many are not there yet."""
        if not nvrs:
            return 0
        tagged = {b["nvr"] for b in self.call("listTagged", self.tag) or []}
        pending = 0
        for nvr in (n for n in nvrs if n not in tagged):
            task = self._tag_tasks.get(nvr)
            if task is not None:
                info = self.call("getTaskInfo", task)
                if info and info["state"] in (koji.TASK_STATES["FAILED"],
                                              koji.TASK_STATES["CANCELED"]) \
                        and not self._tagged(self.tag, nvr):
                    raise KojiBackendError(f"tagging reused {nvr} into {self.tag} failed "
                                           f"(task {task})")
                pending += 1
                continue
            try:
                self._tag_tasks[nvr] = int(self.call("tagBuild", self.tag, nvr))
            except koji.GenericError as exc:
                if not self._tagged(self.tag, nvr):
                    raise KojiBackendError(f"koji refused to tag reused {nvr} into "
                                           f"{self.tag}: {exc}") from None
                continue
            pending += 1
        return pending

    # -- the module repo ----------------------------------------------------------------
    def artifacts(self, nvrs: Mapping[str, str]) -> dict:
        names = sorted(nvrs)
        listed = self.call_many("listBuildRPMs", [(nvrs[n],) for n in names])
        return {name: sorted(f"{r['name']}-{r.get('epoch') or 0}:{r['version']}-"
                             f"{r['release']}.{r['arch']}" for r in rpms or [])
                for name, rpms in zip(names, listed)}

    def module_repo(self, document: str, artifacts: Mapping[str, Sequence[str]],
                    buildonly: Sequence[str], task: Optional[int] = None) -> RepoStep:
        if task is None:
            task = self._find_dist_repo() or self._start_dist_repo()
            return RepoStep(task=task, note=f"dist-repo task {task} of {self.tag}")
        info = self.call("getTaskInfo", task, request=True)
        if not info or info["state"] in (koji.TASK_STATES["FAILED"],
                                         koji.TASK_STATES["CANCELED"]):
            raise KojiBackendError(f"the dist-repo task {task} of {self.tag} did not finish "
                                   f"(state {koji.TASK_STATES.get(info['state']) if info else 'gone'})")
        if info["state"] != koji.TASK_STATES["CLOSED"]:
            return RepoStep(task=task, note=f"waiting for dist-repo task {task}")
        repo_id = int(info["request"][1])
        relative = Path("repos-dist") / self.tag / str(repo_id)
        where = Path(self.topdir) / relative
        arch_dirs = sorted(d for d in where.iterdir() if (d / "repodata").is_dir()) \
            if where.is_dir() else []
        if not arch_dirs:
            raise KojiBackendError(f"dist repo {repo_id} of {self.tag} is not under "
                                   f"{where}: set [modules] koji_topdir to where this host "
                                   f"sees koji's files, to add modules.yaml")
        for arch_dir in arch_dirs:
            try:
                add_modules_yaml(arch_dir, document)
            except ToolError as exc:
                raise KojiBackendError(str(exc)) from None
        location = f"{self.topurl}/{relative}" if self.topurl else str(where)
        return RepoStep(task=task, location=location)

    def _find_dist_repo(self) -> Optional[int]:
        """A dist-repo task of the module tag made for this build before a restart."""
        query = {"method": "distRepo", "decode": True,
                 "state": [koji.TASK_STATES[s] for s in ("FREE", "OPEN", "ASSIGNED", "CLOSED")]}
        if self.created_at:
            query["createdAfter"] = self.created_at - 60
        for task in sorted(self.call("listTasks", query) or [], key=lambda t: -int(t["id"])):
            if (task.get("request") or [None])[0] == self.tag:
                return int(task["id"])
        return None

    def _start_dist_repo(self) -> int:
        arches = self.arches or (self.call("getTag", self.tag) or {}).get("arches", "").split()
        opts = {**DIST_REPO_OPTS, "arch": list(arches)}
        try:
            return int(self.call("distRepo", self.tag, [], **opts))
        except koji.GenericError as exc:
            raise KojiBackendError(f"koji refused a dist-repo of {self.tag}: {exc}") from None

