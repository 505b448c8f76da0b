"""Git for webhook builds (shell): warm clones, a commit's tree in a build's workdir,
a tarball of an upstream commit.

Each repository has one bare clone under ``<workdir>/clones`` (named by the
hash of its URL), kept between pushes: a push fetches only the branch it moved,
so a build starts from a warm clone in tens of milliseconds. A build never
works in the clone; it takes the commit's tree with ``git archive`` into its own
directory.

Every call is an argument list with ``--`` before URLs and refs, under a time
limit, with git's prompts off and only the transports of
:data:`discomy.orchestration.modules.scm.SCHEMES` allowed. URLs come from the
config, never from a payload, and are checked against ``[webhooks]
allowed_urls`` again here.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Optional, Sequence

from discomy.orchestration.modules.scm import ScmError, check_ref, check_repository, run_git
from discomy.orchestration.webhooks.decide import SHA, url_allowed


class GitError(RuntimeError):
    """A git call that failed or took too long: one line."""


def _git(argv: list, what: str, timeout: float, cwd: Optional[Path] = None,
         binary: bool = False):
    try:
        return run_git(argv, what, cwd=cwd, binary=binary, timeout=timeout)
    except ScmError as exc:
        raise GitError(str(exc)) from None


def checked_url(url: str, allowed: Sequence[str]) -> str:
    if not url_allowed(url, allowed):
        raise GitError(f"{url[:200]!r} is not under [webhooks] allowed_urls")
    try:
        return check_repository(url)
    except ScmError as exc:
        raise GitError(str(exc)) from None


def clone_dir(clones: Path, url: str) -> Path:
    return Path(clones) / (hashlib.sha256(url.encode()).hexdigest()[:24] + ".git")


def update(url: str, branch: str, clones: Path, allowed: Sequence[str],
           timeout: float) -> tuple:
    """Fetch ``branch`` of ``url`` into its warm clone: ``(clone, the branch's commit)``."""
    url = checked_url(url, allowed)
    try:
        check_ref(branch)
    except ScmError as exc:
        raise GitError(str(exc)) from None
    clone = clone_dir(clones, url)
    if not (clone / "HEAD").exists():
        clone.parent.mkdir(parents=True, exist_ok=True)
        _git(["init", "--quiet", "--bare", str(clone)], f"make a clone of {url}", timeout)
    _git(["fetch", "--quiet", "--no-tags", "--", url,
          f"+refs/heads/{branch}:refs/heads/{branch}"],
         f"fetch {branch} of {url}", timeout, cwd=clone)
    head = _git(["rev-parse", "--verify", "--end-of-options", f"refs/heads/{branch}^{{commit}}"],
                f"read {branch} of {url}", timeout, cwd=clone).strip()
    return clone, head


def has_commit(clone: Path, commit: str, timeout: float) -> bool:
    if not SHA.match(commit):
        return False
    try:
        _git(["cat-file", "-e", f"{commit}^{{commit}}"], "look for a commit", timeout,
             cwd=clone)
        return True
    except GitError:
        return False


def commit_time(clone: Path, commit: str, timeout: float) -> int:
    """The commit's committer time, seconds since the epoch."""
    return int(_git(["log", "-1", "--format=%ct", commit, "--"], f"read {commit[:12]}'s time",
                    timeout, cwd=clone).strip())


def export(clone: Path, commit: str, dest: Path, timeout: float) -> Path:
    """The tree of ``commit`` written into ``dest``."""
    tar = _git(["archive", "--format=tar", commit], f"export {commit[:12]}", timeout,
               cwd=clone, binary=True)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        # the "data" filter: no absolute paths, links out or devices from a repository
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(dest, **safe)
    return dest


def tarball(clone: Path, commit: str, prefix: str, out: Path, timeout: float) -> Path:
    """``git archive`` of ``commit`` as a gzipped tarball ``out`` whose paths start with
    ``prefix/`` (what ``%setup`` and ``%autosetup`` unpack by default)."""
    fmt = "tar.gz" if out.name.endswith((".tar.gz", ".tgz")) else "tar"
    _git(["archive", f"--format={fmt}", f"--prefix={prefix}/", "-o", str(out), commit],
         f"make {out.name} of {commit[:12]}", timeout, cwd=clone)
    return out
