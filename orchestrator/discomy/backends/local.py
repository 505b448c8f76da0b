"""The local backend, the embedded default: rpmbuild and createrepo_c on this machine.

Each node's source package (from the source repositories the plan came from)
is rebuilt with ``rpmbuild --rebuild`` in a per-campaign topdir, with a release
suffix (``%dist`` + ``.discomy<campaign>``) so rebuilt NVRs never clash with the
originals. Results go into the campaign repository, indexed with createrepo_c,
which the next tier's builds see. A marker per node records what was built, so
``lookup`` answers after a crash.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Sequence

import koji

from ..rpmtools import DEFAULT_DIST, ToolError, createrepo
from . import BuildOutcome


class LocalBackend:
    name = "local"

    def __init__(self, workdir: Path, source_repos: Sequence[Path], campaign_id: int,
                 dist: str = DEFAULT_DIST):
        self.workdir = Path(workdir)
        self.repo = self.workdir / "repo"
        self.topdir = self.workdir / "rpmbuild"
        self.markers = self.workdir / "built"
        self.dist = f"{dist}.discomy{campaign_id}"
        self.srpms = {}
        for repo in source_repos:
            for srpm in sorted(Path(repo).glob("*.src.rpm")):
                self.srpms[koji.parse_NVRA(srpm.name)["name"]] = srpm
        for d in (self.repo, self.topdir, self.markers):
            d.mkdir(parents=True, exist_ok=True)

    def lookup(self, name: str) -> Optional[str]:
        marker = self.markers / f"{name}.json"
        try:
            return json.loads(marker.read_text())["nvr"]
        except (OSError, ValueError, KeyError):
            return None

    def build(self, name: str) -> BuildOutcome:
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
        nvr = f"{name}-{nvra['version']}-{nvra['release']}"
        tmp = self.markers / f"{name}.json.tmp"
        tmp.write_text(json.dumps({"nvr": nvr, "rpms": [r.name for r in rpms]}))
        tmp.replace(self.markers / f"{name}.json")
        return BuildOutcome(True, nvr)

    def publish(self) -> None:
        try:
            createrepo(self.repo)
        except ToolError as exc:
            raise RuntimeError(str(exc)) from None
