"""The on-disk cache of repodata work (shell): who may be trusted, and data-only files.

Two kinds of files live in the cache directory (``~/.cache/discomy``, or the
daemon's ``/var/cache/discomy``):

- ``graph-<key>.npz``: a derived :class:`~discomy.planning.graph.BuildGraph` as plain
  numpy arrays, read with ``allow_pickle=False``, so a file planted there is at
  worst a wrong graph, never code;
- ``repo-<key>.solv``: a repository as libsolv parsed it (its own format, as dnf
  caches), so a repository already seen loads without its XML.

Whoever can write into the directory decides what a plan says, so the directory
is created 0700 and is used only when it belongs to the current user and no one
else may write to it; a file in it is read only when it is a regular file of
the current user that no one else may write. Anything else is skipped with a
warning, and the work is done from the repositories instead.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Callable, Optional

log = logging.getLogger(__name__)

# Graphs and parsed repos kept per directory, newest first; older ones are removed
# when a new one is written (each repository change makes new ones).
KEEP = 8


def _untrusted(st: os.stat_result) -> Optional[str]:
    """Why a file or directory with this status cannot be trusted (None: it can)."""
    if st.st_uid != os.geteuid():
        return f"owned by uid {st.st_uid}, not by the current user (uid {os.geteuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"writable by others (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def usable_dir(path: os.PathLike) -> Optional[Path]:
    """The cache directory, created 0700 when missing; None (with a warning) when it
    cannot be created or trusted."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError as exc:
        log.warning("not caching in %s: %s", path, exc.strerror or exc)
        return None
    why = "not a directory" if not stat.S_ISDIR(st.st_mode) else _untrusted(st)
    if why:
        log.warning("not using cache directory %s: %s", path, why)
        return None
    return path


def open_trusted(path: Path) -> Optional[int]:
    """A read-only descriptor of the cache file ``path``, or None when it is missing or
    not to be trusted (a warning says why). Checked on the open file, not the name,
    so the file cannot be swapped between the check and the read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("ignoring cache file %s: %s", path, exc.strerror or exc)
        return None
    st = os.fstat(fd)
    why = "not a regular file" if not stat.S_ISREG(st.st_mode) else _untrusted(st)
    if why:
        os.close(fd)
        log.warning("ignoring cache file %s: %s", path, why)
        return None
    return fd


def write_atomic(path: Path, write: Callable[[int], None]) -> bool:
    """Write ``path`` through ``write(fd)`` into a private temporary file renamed into
    place, so readers see the old file or the whole new one. False (with a warning)
    when it cannot be written."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            write(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return True
    except OSError as exc:
        log.warning("cannot write cache file %s: %s", path, exc.strerror or exc)
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return False


def prune(directory: Path, pattern: str, keep: int = KEEP) -> None:
    """Remove all but the ``keep`` newest files of ours matching ``pattern``."""
    mine = []
    for path in directory.glob(pattern):
        try:
            st = path.lstat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
            mine.append((st.st_mtime, path))
    for _, path in sorted(mine, reverse=True)[keep:]:
        try:
            path.unlink()
        except OSError:
            pass


def touch(path: Path) -> None:
    """Mark a cache file as just used, so pruning keeps it."""
    try:
        os.utime(path)
    except OSError:
        pass


# -- the derived graph ----------------------------------------------------------

def read_graph(path: Path, key: str):
    """The graph cached at ``path`` for ``key``, or None (missing, untrusted, damaged or
    stale)."""
    import numpy as np

    from discomy.planning.graph import BuildGraph

    fd = open_trusted(path)
    if fd is None:
        return None
    try:
        with os.fdopen(fd, "rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        if str(arrays.get("key", "")) != key:
            raise ValueError("made for other repositories")
        graph = BuildGraph.from_arrays(arrays)
    except Exception as exc:  # any damage means: derive the graph again, never fail
        log.warning("ignoring graph cache %s: %s", path, exc)
        return None
    touch(path)
    return graph


def write_graph(path: Path, key: str, graph) -> None:
    import numpy as np

    def write(fd):
        with os.fdopen(os.dup(fd), "wb") as f:
            np.savez(f, key=np.str_(key), **graph.to_arrays())

    if write_atomic(path, write):
        prune(path.parent, "graph-*")
