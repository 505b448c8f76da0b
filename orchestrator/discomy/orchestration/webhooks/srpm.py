"""The SRPM of a push (shell): the spec found in the dist-git's tree, its Release set
to the snapshot for a CI build, the upstream tarball made when there is an
upstream, ``rpmbuild -bs``, and the SRPM's own header read back for its EVR.

Argument lists only; rpmbuild runs with ``--nodeps`` (the build machine's rpmdb
says nothing about the target's) under a time limit.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from discomy.orchestration.webhooks import git
from discomy.orchestration.webhooks.decide import snapshot_spec


class SrpmError(RuntimeError):
    """The SRPM could not be made: one line (a packaging problem, the push's fault)."""


@dataclass(frozen=True)
class Srpm:
    path: Path
    name: str
    evr: tuple              # (epoch or None, version, release)

    @property
    def nvr(self) -> str:
        return f"{self.name}-{self.evr[1]}-{self.evr[2]}"


def _run(argv: list, what: str, timeout: float, cwd: Optional[Path] = None) -> str:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env={**os.environ, "LC_ALL": "C"})
    except FileNotFoundError:
        raise SrpmError(f"{argv[0]} is not installed (needed to {what})") from None
    except subprocess.TimeoutExpired:
        raise SrpmError(f"{argv[0]} did not {what} within {timeout:g} s") from None
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        errors = [line[7:] for line in proc.stderr.decode("utf-8", "replace").splitlines()
                  if line.startswith("error: ")]
        raise SrpmError(f"{argv[0]} could not {what}: "
                        f"{'; '.join(errors[:3]) or f'exit status {proc.returncode}'}"[:500])
    return out


def find_spec(tree: Path, path: str = "") -> Path:
    if path:
        spec = tree / path
        if not spec.is_file():
            raise SrpmError(f"the dist-git has no {path}")
        return spec
    specs = sorted(tree.glob("*.spec"))
    if len(specs) != 1:
        raise SrpmError(f"the dist-git has {len(specs)} .spec files at its top; name one "
                        f"with spec = \"...\"")
    return specs[0]


def _defines(macros: dict) -> list:
    argv = []
    for key, value in macros.items():
        argv += ["--define", f"{key} {value}"]
    return argv


def source0(spec: Path, macros: dict, timeout: float) -> Optional[str]:
    """The file name of the spec's ``Source0`` (or ``Source``), as rpm expands it."""
    text = _run(["rpmspec", "-P", *_defines(macros), str(spec)], f"read {spec.name}", timeout)
    for line in text.splitlines():
        m = re.match(r"^Source0?\s*:\s*(\S+)", line, re.I)
        if m:
            return m.group(1).rstrip("/").rsplit("/", 1)[-1].split("#")[0]
    return None


def name_version(spec: Path, macros: dict, timeout: float) -> tuple:
    out = _run(["rpmspec", "-q", "--srpm", "--qf", "%{name}|%{version}\\n",
                *_defines(macros), str(spec)], f"read {spec.name}", timeout)
    name, _, version = out.strip().splitlines()[0].partition("|")
    return name, version


def make_srpm(tree: Path, topdir: Path, spec_path: str = "", snapshot: Optional[str] = None,
              dist: str = ".el9", upstream: Optional[tuple] = None,
              timeout: float = 600.0) -> Srpm:
    """The SRPM of the dist-git ``tree``. ``snapshot``: the CI release (the spec is
    rewritten by :func:`~discomy.orchestration.webhooks.decide.snapshot_spec`);
    ``upstream``: ``(clone, commit)`` whose ``git archive`` becomes Source0, unpacking
    to ``<name>-<version>/``."""
    spec = find_spec(tree, spec_path)
    macros = {"_topdir": str(topdir), "_sourcedir": str(spec.parent), "dist": dist}
    if snapshot is not None:
        try:
            spec.write_text(snapshot_spec(spec.read_text(errors="surrogateescape"), snapshot),
                            errors="surrogateescape")
        except ValueError as exc:
            raise SrpmError(f"{spec.name}: {exc}") from None
    if upstream is not None:
        clone, commit = upstream
        name, version = name_version(spec, macros, timeout)
        source = source0(spec, macros, timeout)
        if not source or "/" in source or source.startswith("."):
            raise SrpmError(f"{spec.name} names no Source0 for the upstream tarball")
        try:
            git.tarball(clone, commit, f"{name}-{version}", spec.parent / source, timeout)
        except git.GitError as exc:
            raise SrpmError(str(exc)) from None
    for sub in ("SRPMS", "BUILD"):
        (topdir / sub).mkdir(parents=True, exist_ok=True)
    out = _run(["rpmbuild", "-bs", "--nodeps", *_defines(macros), str(spec)],
               f"make the SRPM of {spec.name}", timeout)
    written = [line.split(":", 1)[1].strip() for line in out.splitlines()
               if line.startswith("Wrote: ") and line.rstrip().endswith(".src.rpm")]
    if len(written) != 1:
        raise SrpmError(f"rpmbuild -bs of {spec.name} wrote {len(written)} SRPMs")
    path = Path(written[0])
    return Srpm(path, *header_nevr(path))


def header_nevr(path: Path) -> tuple:
    """``(name, (epoch, version, release))`` from the package's own header."""
    import rpm

    ts = rpm.TransactionSet()
    ts.setVSFlags(rpm._RPMVSF_NOSIGNATURES | rpm._RPMVSF_NODIGESTS)
    with open(path, "rb") as f:
        hdr = ts.hdrFromFdno(f.fileno())

    def text(value):
        return value.decode() if isinstance(value, bytes) else value

    epoch = hdr[rpm.RPMTAG_EPOCH]
    return text(hdr[rpm.RPMTAG_NAME]), (None if epoch is None else str(epoch),
                                        text(hdr[rpm.RPMTAG_VERSION]),
                                        text(hdr[rpm.RPMTAG_RELEASE]))
