"""Module-build tests: modulemd documents to start from, and real git repositories of the
example packages (made with git, read back over file:// URLs)."""

from __future__ import annotations

from pathlib import Path

import pytest



@pytest.fixture(scope="session")
def git_repos(tmp_path_factory) -> Path:
    """A bare git repository of each example spec, ``<dir>/<name>.git``."""
    from discomy.cli.examples import make_git_repos

    return make_git_repos(tmp_path_factory.mktemp("git"))


@pytest.fixture
def fresh_git(git_repos, tmp_path) -> Path:
    """A copy of the example git repositories that a test may commit to."""
    import shutil

    return Path(shutil.copytree(git_repos, tmp_path / "git"))
