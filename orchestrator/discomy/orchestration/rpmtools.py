"""Thin wrappers over rpmbuild and createrepo_c (shell).

Argument lists only, never a shell string: package names and paths are passed
as separate arguments. On Debian the rpmdb is empty, so builds use ``--nodeps``,
and ``%dist`` must be defined for ``%{?dist}`` releases.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

DEFAULT_DIST = ".el9"


class ToolError(RuntimeError):
    """An external tool failed; the message names the tool, the input and the last output lines."""


@dataclass(frozen=True)
class BuildResult:
    spec: Path
    srpm: Path
    rpms: tuple[Path, ...]
    log: str


def _run(argv: Sequence[str], what: str, cwd: Optional[Path] = None) -> str:
    if shutil.which(argv[0]) is None:
        raise ToolError(f"{argv[0]} is not installed (needed to {what})")
    proc = subprocess.run(list(argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise ToolError(f"{argv[0]} failed to {what} (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def rpmbuild(spec: Path, topdir: Path, defines: Optional[Mapping[str, str]] = None,
             dist: str = DEFAULT_DIST) -> BuildResult:
    """Build the SRPM and binary RPMs of ``spec`` in ``topdir`` (``rpmbuild -ba --nodeps``)."""
    spec = Path(spec).resolve()
    topdir = Path(topdir).resolve()
    for sub in ("BUILD", "RPMS", "SOURCES", "SPECS", "SRPMS", "BUILDROOT"):
        (topdir / sub).mkdir(parents=True, exist_ok=True)
    macros = {"_topdir": str(topdir), "dist": dist, "_sourcedir": str(spec.parent)}
    macros.update(defines or {})
    argv = ["rpmbuild", "-ba", "--nodeps"]
    for key, value in macros.items():
        argv += ["--define", f"{key} {value}"]
    argv.append(str(spec))
    log = _run(argv, f"build {spec.name}")
    new = [Path(line.split(":", 1)[1].strip()) for line in log.splitlines()
           if line.startswith("Wrote: ") and line.rstrip().endswith(".rpm")]
    srpms = [p for p in new if p.name.endswith(".src.rpm")]
    if len(srpms) != 1:
        raise ToolError(f"rpmbuild of {spec.name} produced {len(srpms)} source packages, expected 1")
    return BuildResult(spec, srpms[0], tuple(p for p in new if p not in srpms), log)


def createrepo(directory: Path, update: bool = True) -> Path:
    """Index ``directory`` as an rpm-md repository (gzip metadata, readable everywhere)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    argv = ["createrepo_c", "--quiet", "--general-compress-type=gz", "--no-database"]
    if update and (directory / "repodata" / "repomd.xml").exists():
        argv.append("--update")
    argv.append(str(directory))
    _run(argv, f"index {directory}")
    return directory


def copy_into(files: Iterable[Path], directory: Path) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        target = directory / Path(f).name
        shutil.copy2(f, target)
        out.append(target)
    return out


# rpmbuild's own markers of where a build is: each scriptlet starts with
# "Executing(%build): ...", packaging with "Processing files: ...", and a script
# that fails ends with "error: Bad exit status from /var/tmp/rpm-tmp.X (%build)"
_BAD_EXIT = re.compile(r"^error: Bad exit status from \S+ \((%\w+)\)", re.M)
_EXECUTING = re.compile(r"^Executing\((%\w+)\):", re.M)
_PROCESSING_FILES = re.compile(r"^Processing files: ", re.M)


@dataclass(frozen=True)
class RpmbuildFailure:
    stage: Optional[str]        # "%prep" .. "%check", "%files"; None: before any stage ran
    errors: tuple               # rpmbuild's "error: ..." lines, without the prefix


def rpmbuild_failure(output: str) -> RpmbuildFailure:
    """Where a failed rpmbuild stopped, from its own stage markers in ``output``."""
    bad_exit = _BAD_EXIT.findall(output)
    if bad_exit:
        stage = bad_exit[-1]
    elif _PROCESSING_FILES.search(output):
        stage = "%files"        # packaging: files listed but missing, unpackaged files
    else:
        started = _EXECUTING.findall(output)
        stage = started[-1] if started else None
    errors = []
    for line in output.splitlines():
        if line.startswith("error: ") and line[7:].strip() not in errors:
            errors.append(line[7:].strip())
    return RpmbuildFailure(stage, tuple(errors))
