"""The version a package has in its package database (shell): what a push's SRPM is
compared with.

- koji: the latest build of the package in the target's destination tag
  (``getBuildTarget``, then ``getLatestBuilds``), as ``koji latest-build`` says;
- local: the highest EVR of the package's source package in the local
  repository, read with the planner's repodata code (libsolv over rpm-md); a
  repository not indexed yet has no previous version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from discomy.planning.repodata import SOURCE_ARCHES, open_pool
from discomy.planning.rpmmd import RepodataError


class PreviousError(RuntimeError):
    """The package database could not be asked: one line."""


def _evr(text: str) -> tuple:
    epoch, _, rest = text.rpartition(":")
    version, _, release = rest.rpartition("-")
    return (epoch or None, version, release)


def from_local_repo(repo: Path, name: str) -> Optional[tuple]:
    """``(epoch, version, release)`` of the newest source package ``name`` in ``repo``
    (an rpm-md directory), or None when it holds none (or is not indexed)."""
    if not (Path(repo) / "repodata" / "repomd.xml").exists():
        return None
    try:
        pool = open_pool([Path(repo)])
    except RepodataError as exc:
        raise PreviousError(f"the local repository {repo} cannot be read: {exc}") from None
    best = None
    for s in pool.solvables_iter():
        if s.name == name and s.arch in SOURCE_ARCHES and (best is None or s.evrcmp(best) > 0):
            best = s
    return None if best is None else _evr(best.evr)


def from_koji(session, target: str, name: str) -> Optional[tuple]:
    """``(epoch, version, release)`` of the latest build of ``name`` in the destination
    tag of koji build target ``target``, or None when it has none."""
    import koji

    try:
        info = session.getBuildTarget(target)
        if not info:
            raise PreviousError(f"koji has no build target {target}")
        builds = session.getLatestBuilds(info["dest_tag_name"], package=name)
    except (koji.GenericError, OSError) as exc:
        raise PreviousError(f"koji did not say the latest build of {name}: {exc}") from None
    if not builds:
        return None
    b = builds[0]
    return (None if b.get("epoch") is None else str(b["epoch"]), b["version"], b["release"])
