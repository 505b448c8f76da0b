"""The local backend, the embedded default: rpmbuild and createrepo_c on this machine.

Each node's source package (from the source repositories the plan came from)
is rebuilt with ``rpmbuild --rebuild`` in a per-campaign topdir, with a release
suffix (``%dist`` + ``.discomy<campaign>``) so rebuilt NVRs never clash with the
originals. Results go into the campaign repository, indexed with createrepo_c,
which the next tier's builds see. Every outcome is written to a file named by
its task, and a marker per node records a successful build, so ``find`` and
``poll`` answer after a crash. The whole output of every attempt is kept in
``logs/<name>/<task time>.log``.

Who is at fault for a failed build comes from facts about rpmbuild, not from
its text (:func:`discomy.orchestration.campaign.rpmbuild_failure_class`): it could not be
started, a signal killed it, or the disk is full (the machine's, retried); or
it ran to its end and failed in a stage of the package, which its own markers
name (``error: Bad exit status from ... (%build)``, packaging for ``%files``).
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional, Sequence

import koji
import rpm

from discomy.orchestration import campaign as cm
from discomy.orchestration.backends import READY, BackendError, BuildOutcome
from discomy.orchestration.rpmtools import DEFAULT_DIST, ToolError, createrepo, rpmbuild_failure

# below this much free space after a failed build, the disk is taken as the cause
LOW_DISK_BYTES = 64 * 1024 * 1024


class LocalBackend:
    name = "local"
    # its builds see only the campaign repository: a package fixed elsewhere is
    # taken by building it again from the source repositories
    sees_outside_builds = False

    def __init__(self, workdir: Path, source_repos: Sequence[Path], campaign_id: int,
                 dist: str = DEFAULT_DIST):
        # rpmbuild reads a relative _topdir against the directories it changes into
        for path in (workdir, *source_repos):
            if not Path(path).is_absolute():
                raise ValueError(f"the local backend needs absolute directories, not {path!s}")
        self.workdir = Path(workdir)
        self.repo = self.workdir / "repo"
        self.topdir = self.workdir / "rpmbuild"
        self.markers = self.workdir / "built"
        self.results = self.workdir / "results"
        self.logs = self.workdir / "logs"
        self.dist = f"{dist}.discomy{campaign_id}"
        self.source_repos = [Path(r) for r in source_repos]
        self.srpms = _newest_sources(self.source_repos)
        for d in (self.repo, self.topdir, self.markers, self.results, self.logs):
            d.mkdir(parents=True, exist_ok=True)

    def prepare(self) -> dict:
        return {}

    def macros(self) -> dict:
        """The rpm macros every build of the campaign is made with."""
        return {"dist": self.dist}

    def find(self, name: str) -> Optional[str]:
        """The task of a finished, successful build of ``name`` in this campaign."""
        try:
            return json.loads((self.markers / f"{name}.json").read_text())["task"]
        except (OSError, ValueError, KeyError):
            return None

    def owner(self, name: str) -> Optional[str]:
        return None             # no package ownership here

    def task_url(self, task: str) -> str:
        return ""

    def poll_all(self, tasks) -> dict:
        return {task: self.poll(task) for task in tasks}

    def find_all(self, names) -> dict:
        return {name: task for name in names if (task := self.find(name))}

    def submit(self, name: str, priority: int = 0) -> str:
        """Build now (this machine is the only builder); the outcome waits for :meth:`poll`."""
        task = f"{name}@{time.time_ns()}"
        started = time.monotonic()
        outcome = self._rpmbuild(name, self.log_path(task))
        record = {"task": task, "ok": outcome.ok, "nvr": outcome.nvr, "error": outcome.error,
                  "failure": outcome.failure, "log": outcome.log,
                  "source": self.source_id(name), "host": socket.gethostname(),
                  "seconds": round(time.monotonic() - started, 3)}
        _write_json(self.results / f"{task}.json", record)
        if outcome.ok:
            _write_json(self.markers / f"{name}.json", record)
        return task

    def source_id(self, name: str) -> Optional[str]:
        """What tells the source package ``name`` is built from apart from another: its
        file name and content (a packager may rebuild a fixed SRPM with the same NVR)."""
        srpm = self.srpms.get(name)
        if srpm is None:
            return None
        digest = hashlib.sha256()
        with open(srpm, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return f"{srpm.name} sha256:{digest.hexdigest()}"

    def fix_refusal(self, node) -> Optional[str]:
        """Why ``node`` (failed) cannot be built again from the source repositories now,
        or None: it is, from its newest source package there."""
        self.srpms = _newest_sources(self.source_repos)     # the fix may have just come
        failed_source = None
        if node.task:
            try:
                record = json.loads((self.results / f"{node.task}.json").read_text())
                failed_source = record.get("source")
            except (OSError, ValueError):
                pass
        refusal = cm.fix_refusal(node, self.source_id(node.name), failed_source)
        if refusal is None:
            return None
        where = ", ".join(str(r) for r in self.source_repos)
        if node.name in self.srpms:
            refusal += f" ({self.srpms[node.name].name})"
        return f"{refusal}: put the fixed source package into {where}"

    def cancel(self, task: str) -> None:
        """Nothing to stop: a local build has ended by the time :meth:`submit` returns (a
        canceled campaign or module build only leaves its outcome unread)."""

    def log_path(self, task: str) -> Path:
        name, _, stamp = task.rpartition("@")
        return self.logs / name / f"{stamp}.log"

    def poll(self, task: str) -> Optional[BuildOutcome]:
        try:
            record = json.loads((self.results / f"{task}.json").read_text())
        except (OSError, ValueError):
            # submitted, never finished: the process building it died with it
            return BuildOutcome(False, error="build host died: the local build was interrupted",
                                failure=cm.INFRASTRUCTURE, log=str(self.log_path(task)))
        seconds = record.get("seconds")
        return BuildOutcome(record["ok"], record["nvr"], record["error"],
                            record.get("failure", cm.PACKAGE), record.get("log", ""),
                            host=str(record.get("host") or ""),
                            seconds=float(seconds) if isinstance(seconds, (int, float)) else None)

    def _rpmbuild(self, name: str, log_path: Path) -> BuildOutcome:
        srpm = self.srpms.get(name)
        if srpm is None:
            return BuildOutcome(False, error=f"no source package for {name} in the source repos")
        argv = ["rpmbuild", "--rebuild", "--nodeps", "--define", f"_topdir {self.topdir}"]
        for key, value in self.macros().items():
            argv += ["--define", f"{key} {value}"]
        argv.append(str(srpm))
        status, started = self._run_logged(argv, log_path)
        output = log_path.read_text(errors="replace") if log_path.exists() else ""
        log = str(log_path) if log_path.exists() else ""
        if status == 0:
            rpms = [Path(line.split(":", 1)[1].strip()) for line in output.splitlines()
                    if line.startswith("Wrote: ") and line.rstrip().endswith(".rpm")]
            for built in rpms:
                shutil.copy2(built, self.repo / built.name)
            nvra = koji.parse_NVRA(next(r.name for r in rpms))
            return BuildOutcome(True, f"{name}-{nvra['version']}-{nvra['release']}", log=log)
        free = _free_bytes(self.workdir)
        disk_full = free is not None and free < LOW_DISK_BYTES
        failure = cm.rpmbuild_failure_class(status, disk_full)
        found = rpmbuild_failure(output)
        where = f" in {found.stage}" if found.stage else ""
        detail = "; ".join(found.errors[:3])
        if status is None:
            error = f"rpmbuild could not run for {name}: {started}"
        elif status < 0:
            error = f"rpmbuild was killed by {_signal_name(-status)} building {name}{where}"
        elif disk_full:
            error = (f"rpmbuild failed for {name}{where} with {free // 1048576} MiB left on "
                     f"{self.workdir}: {detail}")
        else:
            error = f"rpmbuild failed for {name}{where}: {detail or f'exit status {status}'}"
        return BuildOutcome(False, error=error, failure=failure, log=log)

    @staticmethod
    def _run_logged(argv: list, log_path: Path) -> tuple:
        """Run ``argv`` with its whole output in ``log_path``: (exit status, or None when it
        could not be started; why not)."""
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "w") as log:
                log.write(f"$ {shlex.join(argv)}\n")
                log.flush()
                proc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
            return proc.returncode, ""
        except OSError as exc:          # not installed, not executable, no room for the log
            return None, f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")

    def request_repo(self, nvrs) -> Optional[str]:
        """createrepo_c now: the builds are visible when this returns."""
        try:
            createrepo(self.repo)
        except ToolError as exc:       # the campaign fails with the tool's sentence
            raise BackendError(f"createrepo_c failed on {self.repo}: {exc}") from None
        return None

    def repo_state(self, ref: str) -> str:
        return READY

    def hold_back(self) -> Optional[str]:
        return None

    def merge(self, nvrs) -> bool:
        """The campaign repo is the result; nothing to merge."""
        return True


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def _newest_sources(repos: Sequence[Path]) -> dict:
    """``name -> SRPM`` of the highest version-release of each package in ``repos``
    (a packager's fix put beside the package that failed wins)."""
    newest: dict = {}
    for repo in repos:
        for srpm in sorted(Path(repo).glob("*.src.rpm")):
            nvra = koji.parse_NVRA(srpm.name)
            evr = ("0", nvra["version"], nvra["release"])
            if nvra["name"] not in newest or rpm.labelCompare(evr, newest[nvra["name"]][0]) >= 0:
                newest[nvra["name"]] = (evr, srpm)
    return {name: srpm for name, (_, srpm) in newest.items()}


def _free_bytes(path: Path) -> Optional[int]:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
