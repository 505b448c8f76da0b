"""The local backend, the embedded default: rpmbuild and createrepo_c on this machine.

Each node's source package (from the source repositories the plan came from)
is rebuilt with ``rpmbuild --rebuild`` in a per-campaign topdir, with a release
suffix (``%dist`` + ``.discomy<campaign>``) so rebuilt NVRs never clash with the
originals. Results go into the campaign repository, indexed with createrepo_c,
which the next tier's builds see. Every outcome is written to a file named by
its task, and a marker per node records a successful build, so ``find`` and
``poll`` answer after a crash.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Optional, Sequence

import koji

from ..rpmtools import DEFAULT_DIST, ToolError, createrepo
from . import READY, BackendError, BuildOutcome


class LocalBackend:
    name = "local"

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
        self.dist = f"{dist}.discomy{campaign_id}"
        self.srpms = {}
        for repo in source_repos:
            for srpm in sorted(Path(repo).glob("*.src.rpm")):
                self.srpms[koji.parse_NVRA(srpm.name)["name"]] = srpm
        for d in (self.repo, self.topdir, self.markers, self.results):
            d.mkdir(parents=True, exist_ok=True)

    def prepare(self) -> dict:
        return {}

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
        outcome = self._rpmbuild(name)
        record = {"task": task, "ok": outcome.ok, "nvr": outcome.nvr, "error": outcome.error}
        _write_json(self.results / f"{task}.json", record)
        if outcome.ok:
            _write_json(self.markers / f"{name}.json", record)
        return task

    def poll(self, task: str) -> Optional[BuildOutcome]:
        try:
            record = json.loads((self.results / f"{task}.json").read_text())
        except (OSError, ValueError):
            # submitted, never finished: the process building it died with it
            return BuildOutcome(False, error="build host died: the local build was interrupted")
        return BuildOutcome(record["ok"], record["nvr"], record["error"])

    def _rpmbuild(self, name: str) -> BuildOutcome:
        srpm = self.srpms.get(name)
        if srpm is None:
            return BuildOutcome(False, error=f"no source package for {name} in the source repos")
        argv = ["rpmbuild", "--rebuild", "--nodeps", "--define", f"_topdir {self.topdir}",
                "--define", f"dist {self.dist}", str(srpm)]
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            tail = "\n".join(proc.stdout.strip().splitlines()[-5:])
            return BuildOutcome(False, error=f"rpmbuild failed for {name}: {tail}")
        rpms = [Path(line.split(":", 1)[1].strip()) for line in proc.stdout.splitlines()
                if line.startswith("Wrote: ") and line.rstrip().endswith(".rpm")]
        for rpm in rpms:
            shutil.copy2(rpm, self.repo / rpm.name)
        nvra = koji.parse_NVRA(next(r.name for r in rpms))
        return BuildOutcome(True, f"{name}-{nvra['version']}-{nvra['release']}")

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
