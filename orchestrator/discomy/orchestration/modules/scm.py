"""Git for module builds (shell): SCM URLs, refs resolved to commits, files read at a
commit, and a commit's tree exported for a local build.

Every git call is an argument list, never a shell string; repositories and refs
come from users, so they are checked first: a repository is an ``https``,
``http``, ``git``, ``ssh`` or ``file`` URL (``GIT_ALLOW_PROTOCOL`` says the same
to git, so no other transport runs, ``ext::`` least of all), a ref is a plain
name or commit id, and neither may start with ``-``. Git never prompts
(``GIT_TERMINAL_PROMPT=0``) and every call has a time limit. Each problem is a
:class:`ScmError` of one line.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from discomy.planning.modules import ModuleError

SCHEMES = ("https", "http", "git", "ssh", "file")
TIMEOUT = 600
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]{0,254}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


class ScmError(ModuleError):
    """A repository, ref or file that cannot be had: one line naming it."""


def check_repository(repository: str) -> str:
    """``repository`` as git is given it (``git+`` dropped), once it is a URL of a scheme
    git may use here."""
    text = str(repository or "").strip()
    if text.startswith("git+"):
        text = text[len("git+"):]
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if not parts or parts.scheme not in SCHEMES or text.startswith("-") \
            or any(c in text for c in "\n\r\x00"):
        raise ScmError(f"{str(repository)[:200]!r} is not a git repository URL "
                       f"({', '.join(s + '://' for s in SCHEMES)})")
    if parts.scheme == "file" and not parts.path.startswith("/"):
        raise ScmError(f"{repository!r}: a file:// URL needs an absolute path")
    return text


def check_ref(ref: str) -> str:
    if not isinstance(ref, str) or not _REF.match(ref) or ".." in ref or ref.endswith(".lock"):
        raise ScmError(f"{str(ref)[:100]!r} is not a git branch, tag or commit")
    return ref


def parse_scmurl(scmurl: str) -> tuple:
    """``(repository, ref or None)`` of an SCM URL as koji and MBS write them:
    ``git+https://host/modules/foo.git?#<ref>`` (the ``?`` optional)."""
    text = str(scmurl or "").strip()
    repository, _, ref = text.partition("#")
    repository = repository.rstrip("?")
    return check_repository(repository), (check_ref(ref) if ref else None)


def scmurl_of(repository: str, commit: str) -> str:
    """What a koji build is made from: ``git+<repository>?#<commit>``."""
    url = check_repository(repository)
    return f"{url}?#{commit}" if url.startswith("git://") else f"git+{url}?#{commit}"


def repository_name(repository: str) -> str:
    """The name a repository gives a module or package: its last path part, no ``.git``."""
    path = urlsplit(check_repository(repository)).path.rstrip("/")
    name = path.rsplit("/", 1)[-1]
    return name[:-4] if name.endswith(".git") else name


def _git(argv: list, what: str, cwd: Optional[Path] = None, binary: bool = False):
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": ":".join(SCHEMES),
           "GIT_ASKPASS": "/bin/true", "LC_ALL": "C", "TZ": "UTC"}
    try:
        proc = subprocess.run(["git", *argv], cwd=cwd, env=env, capture_output=True,
                              timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise ScmError(f"git is not installed (needed to {what})") from None
    except subprocess.TimeoutExpired:
        raise ScmError(f"git did not {what} within {TIMEOUT} s") from None
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.decode("utf-8", "replace").splitlines()
                 if line.strip() and not line.startswith("hint:")]
        reason = lines[-1] if lines else f"exit status {proc.returncode}"
        raise ScmError(f"cannot {what}: {reason}"[:500])
    return proc.stdout if binary else proc.stdout.decode("utf-8", "replace")


def ls_remote(repository: str, ref: str) -> Optional[str]:
    """The commit of branch or tag ``ref`` in ``repository`` (a branch first), or None."""
    url = check_repository(repository)
    out = _git(["ls-remote", "--", url, check_ref(ref)], f"list the refs of {url}")
    found = {}
    for line in out.splitlines():
        commit, _, name = line.partition("\t")
        found[name] = commit
    for name in (f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}"):
        if name in found:
            return found[name]
    return None


def resolve(repository: str, ref: str) -> str:
    """The commit ``ref`` names in ``repository``: a branch or tag as it is now, or a full
    commit id as it is."""
    commit = ls_remote(repository, ref)
    if commit:
        return commit
    if _COMMIT.match(ref):
        return ref
    raise ScmError(f"{repository}: no branch or tag {ref}")


@dataclass(frozen=True)
class Fetched:
    commit: str
    timestamp: str          # the commit's time, YYYYMMDDHHMMSS in UTC
    text: str


def fetch_file(repository: str, ref: str, path: str) -> Fetched:
    """The file ``path`` at ``ref`` of ``repository``, with the commit and its time (one
    shallow fetch into a scratch repository)."""
    url = check_repository(repository)
    check_ref(ref)
    with tempfile.TemporaryDirectory(prefix="discomy-scm-") as scratch:
        _git(["init", "--quiet", "--bare", scratch], "make a scratch repository")
        _git(["fetch", "--quiet", "--depth", "1", "--no-tags", "--", url, ref],
             f"fetch {ref} of {url}", cwd=Path(scratch))
        commit = _git(["rev-parse", "FETCH_HEAD^{commit}"], "read the fetched commit",
                      cwd=Path(scratch)).strip()
        stamp = _git(["log", "-1", "--format=%cd", "--date=format-local:%Y%m%d%H%M%S",
                      commit], "read the commit's time", cwd=Path(scratch)).strip()
        try:
            data = _git(["show", f"{commit}:{path}"], f"read {path}", cwd=Path(scratch),
                        binary=True)
        except ScmError:
            raise ScmError(f"{url} has no {path} at {ref} ({commit[:12]})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScmError(f"{url}: {path} at {ref} is not UTF-8 text") from None
    return Fetched(commit, stamp, text)


def export(repository: str, commit: str, dest: Path) -> Path:
    """The tree of ``commit`` of ``repository`` written into ``dest`` (made, empty)."""
    url = check_repository(repository)
    check_ref(commit)
    dest = Path(dest)
    with tempfile.TemporaryDirectory(prefix="discomy-scm-") as scratch:
        _git(["init", "--quiet", "--bare", scratch], "make a scratch repository")
        _git(["fetch", "--quiet", "--depth", "1", "--no-tags", "--", url, commit],
             f"fetch {commit} of {url}", cwd=Path(scratch))
        tar = _git(["archive", "--format=tar", "FETCH_HEAD"], f"export {commit} of {url}",
                   cwd=Path(scratch), binary=True)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        # the "data" filter: no absolute paths, links out or devices from a repository
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(dest, **safe)
    return dest
