"""Build the project's example packages into rpm-md repositories (shell).

The ``examples/`` specs form a small chain with a cycle (see examples/README.md).
They are built with rpmbuild and indexed with createrepo_c into two repositories,
``<workdir>/repos/binary`` and ``<workdir>/repos/source``, which the planner,
the estimator and the local backend read like any other repos.

:func:`make_git_repos` puts each spec into a git repository of its own
(``<dir>/<name>.git``, branch ``main``), as a distribution's dist-git has them:
the components of the example module (``examples/module/discomy-demo.yaml``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from discomy.orchestration.rpmtools import copy_into, createrepo, rpmbuild

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples"
EXAMPLE_MODULE = EXAMPLES_DIR / "module" / "discomy-demo.yaml"
BOTTOM_PACKAGE = "corelib"
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Discomy", "GIT_AUTHOR_EMAIL": "discomy@example.org",
                "GIT_COMMITTER_NAME": "Discomy", "GIT_COMMITTER_EMAIL": "discomy@example.org"}


@dataclass(frozen=True)
class ExampleRepos:
    specs_dir: Path
    binary_repo: Path
    source_repo: Path

    @property
    def repos(self) -> list[Path]:
        return [self.source_repo, self.binary_repo]


def build_examples(workdir: Path, specs_dir: Optional[Path] = None) -> ExampleRepos:
    """Build every ``*.spec`` of ``specs_dir`` and index the results; returns the repos."""
    specs_dir = Path(specs_dir or EXAMPLES_DIR)
    specs = sorted(specs_dir.glob("*.spec"))
    if not specs:
        raise FileNotFoundError(f"no .spec files in {specs_dir}")
    workdir = Path(workdir).resolve()
    topdir = workdir / "rpmbuild"
    binary_repo = workdir / "repos" / "binary"
    source_repo = workdir / "repos" / "source"
    for stale in (binary_repo, source_repo):
        if stale.exists():
            shutil.rmtree(stale)
    for spec in specs:
        result = rpmbuild(spec, topdir)
        copy_into(result.rpms, binary_repo)
        copy_into([result.srpm], source_repo)
    createrepo(binary_repo)
    createrepo(source_repo)
    return ExampleRepos(specs_dir, binary_repo, source_repo)


def _git(argv: list, cwd: Path) -> str:
    env = {**os.environ, **GIT_IDENTITY, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd)}
    proc = subprocess.run(["git", *argv], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"git {argv[0]} failed in {cwd}: {proc.stderr.strip()[-300:]}")
    return proc.stdout


def commit_file(repo: Path, filename: str, text: str, message: str,
                branch: str = "main") -> str:
    """Commit ``text`` as ``filename`` on ``branch`` of the bare repository ``repo`` (made
    when missing); the new commit's id."""
    repo = Path(repo)
    if not repo.exists():
        repo.parent.mkdir(parents=True, exist_ok=True)
        _git(["init", "--quiet", "--bare", "--initial-branch=main", str(repo)], repo.parent)
    with tempfile.TemporaryDirectory(prefix="discomy-git-") as work:
        work = Path(work)
        _git(["init", "--quiet", f"--initial-branch={branch}"], work)
        if _git(["ls-remote", str(repo), f"refs/heads/{branch}"], work).strip():
            _git(["fetch", "--quiet", str(repo), branch], work)
            _git(["checkout", "--quiet", "-B", branch, "FETCH_HEAD"], work)
        (work / filename).write_text(text)
        _git(["add", filename], work)
        _git(["commit", "--quiet", "--allow-empty", "-m", message], work)
        _git(["push", "--quiet", str(repo), branch], work)
        return _git(["rev-parse", "HEAD"], work).strip()


def commit_spec(repo: Path, spec_text: str, name: str, message: str) -> str:
    """Commit ``spec_text`` as ``<name>.spec`` on ``main`` of ``repo``; the commit's id."""
    return commit_file(repo, f"{name}.spec", spec_text, message)


def make_git_repos(git_dir: Path, specs_dir: Optional[Path] = None) -> Path:
    """A bare git repository ``<git_dir>/<name>.git`` of each example spec, its spec
    committed on ``main``; returns ``git_dir``."""
    specs_dir = Path(specs_dir or EXAMPLES_DIR)
    git_dir = Path(git_dir).resolve()
    for spec in sorted(specs_dir.glob("*.spec")):
        commit_spec(git_dir / f"{spec.stem}.git", spec.read_text(), spec.stem,
                    f"{spec.stem}: import")
    return git_dir
