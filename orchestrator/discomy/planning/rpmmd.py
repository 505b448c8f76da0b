"""rpm-md repository metadata: ``repomd.xml`` entries and their checksums (shell).

What both the local reader (:mod:`discomy.planning.repodata`) and the mirror of
remote repositories (:mod:`discomy.planning.remote_repos`) need: where a
repository's ``repomd.xml`` is, what ``primary``, ``filelists`` and ``modules`` it lists
(parsed with libsolv, never by hand), and whether a file matches its checksum.
Every problem is a :class:`RepodataError` of one line.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional


class RepodataError(Exception):
    """A repository that cannot be read: missing, not rpm-md, or corrupt."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "discomy"


def repomd_path(repo_dir: Path) -> Path:
    repomd = repo_dir / "repodata" / "repomd.xml"
    try:
        if not repo_dir.exists():
            raise RepodataError(f"repository {repo_dir} does not exist")
        if not repomd.is_file():
            raise RepodataError(f"{repo_dir} is not an rpm-md repository: no repodata/repomd.xml")
    except OSError as exc:      # a name too long, a directory we may not enter
        raise RepodataError(f"repository {repo_dir} cannot be read: {exc.strerror}") from None
    return repomd


def repomd_entries(repomd: Path, label: Optional[str] = None) -> dict:
    """``{kind: (location, checksum type, checksum)}`` of the primary, filelists and
    modules metadata a ``repomd.xml`` lists, read with libsolv; errors name ``label``
    (default: the path)."""
    import solv

    label = label or str(repomd)

    pool = solv.Pool()
    repo = pool.add_repo("repomd")
    f = solv.xfopen(str(repomd))
    ok = f is not None and repo.add_repomdxml(f, 0)
    if f is not None:
        f.close()
    if not ok:
        raise RepodataError(f"{label}: cannot parse repomd.xml: {pool.errstr or 'not rpm-md'}")
    found = {}
    for kind in ("primary", "filelists", "modules"):
        location, checksum = repomd_entry(repo, kind)
        if location:
            if location.startswith("/") or ".." in Path(location).parts:
                raise RepodataError(f"{label}: {kind} points outside the repository: "
                                    f"{location}")
            found[kind] = (location, checksum.typestr() if checksum else None,
                           checksum.hex() if checksum else None)
    return found


def repomd_entry(repo, what: str) -> tuple:
    """``(location, checksum)`` of the ``what`` metadata (primary, filelists) a libsolv
    repo's ``repomd.xml`` lists; ``(None, None)`` when it lists none."""
    import solv

    di = repo.Dataiterator_meta(solv.REPOSITORY_REPOMD_TYPE, what, solv.Dataiterator.SEARCH_STRING)
    di.prepend_keyname(solv.REPOSITORY_REPOMD)
    for d in di:
        pos = d.parentpos()
        return (pos.lookup_str(solv.REPOSITORY_REPOMD_LOCATION),
                pos.lookup_checksum(solv.REPOSITORY_REPOMD_CHECKSUM))
    return None, None


def check_digest(what: str, data: bytes, algorithm: Optional[str],
                 expected: Optional[str]) -> None:
    """Raise when ``data`` does not match the checksum ``repomd.xml`` gives for it."""
    if not (algorithm and expected):
        return
    name = {"sha": "sha1"}.get(algorithm, algorithm)
    try:
        digest = hashlib.new(name, data).hexdigest()
    except ValueError:
        raise RepodataError(f"{what}: unknown checksum type {algorithm!r} in repomd.xml") from None
    if digest != expected.lower():
        raise RepodataError(f"{what} does not match the {algorithm} checksum in repomd.xml "
                            "(damaged, or a repository caught mid-update?)")


def verified(repo_dir: Path, entry: tuple) -> None:
    """Raise unless the metadata ``entry`` of ``repomd.xml`` names is there and matches
    its checksum."""
    location, algorithm, checksum = entry
    path = repo_dir / location
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RepodataError(f"{repo_dir}: {location} is listed in repomd.xml but missing") from None
    except OSError as exc:
        raise RepodataError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    check_digest(str(path), data, algorithm, checksum)
