"""rpm-md repositories over HTTP(S), mirrored into the cache (shell).

A plan can be made straight from koji's repos (for example
``https://kojipkgs.example.org/repos/el9-build/latest/x86_64``): ``repomd.xml``
is fetched, and when it differs from the cached copy, the ``primary``,
``filelists`` and ``modules`` metadata it lists are downloaded, checked against the checksums
``repomd.xml`` gives, and only then is the new ``repomd.xml`` put in place. An
unchanged repository costs one small request; a download cut short leaves the
previous copy intact.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Optional

from discomy.planning.rpmmd import RepodataError, check_digest, default_cache_dir, repomd_entries

REMOTE_SCHEMES = ("http://", "https://")
METADATA = ("primary", "filelists", "modules")


def is_remote(location) -> bool:
    return isinstance(location, str) and location.startswith(REMOTE_SCHEMES)


def mirror(url: str, cache_dir: os.PathLike, timeout: float = 60.0,
           opener: Optional[Callable] = None) -> Path:
    """The local copy of the repository at ``url`` (refreshed if it changed)."""
    # imported here: urllib.request is slow to import and local repos never need it
    import urllib.request


    opener = opener or urllib.request.urlopen

    base = url.rstrip("/")
    Path(cache_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    dest = Path(cache_dir) / "repos" / hashlib.sha256(base.encode()).hexdigest()[:16]
    repomd = _get(f"{base}/repodata/repomd.xml", timeout, opener)
    current = dest / "repodata" / "repomd.xml"
    if current.is_file() and current.read_bytes() == repomd:
        return dest
    wanted = _listed(repomd, url)
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=dest))
    try:
        (staging / "repodata").mkdir()
        for kind, (location, algorithm, checksum) in wanted.items():
            data = _get(f"{base}/{location}", timeout, opener)
            check_digest(f"{url}: {location}", data, algorithm, checksum)
            target = staging / location
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        # the metadata first, repomd.xml last: a reader never sees a half-new copy
        (dest / "repodata").mkdir(exist_ok=True)
        for path in sorted((staging / "repodata").iterdir()):
            if path.name != "repomd.xml":
                os.replace(path, dest / "repodata" / path.name)
        (staging / "repomd.xml").write_bytes(repomd)
        os.replace(staging / "repomd.xml", current)
        keep = {Path(location).name for location, _, _ in wanted.values()} | {"repomd.xml"}
        for old in (dest / "repodata").iterdir():
            if old.name not in keep:
                old.unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _get(url: str, timeout: float, opener: Callable) -> bytes:
    import urllib.error


    try:
        with opener(url, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise RepodataError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RepodataError(f"{url}: cannot be fetched ({reason})") from None


def _listed(repomd: bytes, url: str) -> dict:
    """``kind -> (location, checksum type, checksum)`` of the metadata the graph needs,
    read from ``repomd.xml`` with libsolv."""

    with tempfile.NamedTemporaryFile(suffix=".xml") as tmp:
        tmp.write(repomd)
        tmp.flush()
        found = repomd_entries(Path(tmp.name), label=f"{url}: repodata/repomd.xml")
    if "primary" not in found:
        raise RepodataError(f"{url}: repomd.xml lists no primary metadata")
    return found


def local_repos(locations, cache_dir: Optional[os.PathLike]) -> list:
    """Repository directories for ``locations`` (paths, or URLs mirrored into the cache)."""

    out = []
    for location in locations:
        if is_remote(str(location)):
            out.append(mirror(str(location), cache_dir or default_cache_dir()))
        else:
            out.append(Path(location))
    return out
