"""Build the project's example packages into rpm-md repositories (shell).

The ``examples/`` specs form a small chain with a cycle (see examples/README.md).
They are built with rpmbuild and indexed with createrepo_c into two repositories,
``<workdir>/repos/binary`` and ``<workdir>/repos/source``, which the planner,
the estimator and the local backend read like any other repos.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from discomy.orchestration.rpmtools import copy_into, createrepo, rpmbuild

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples"
BOTTOM_PACKAGE = "corelib"


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
