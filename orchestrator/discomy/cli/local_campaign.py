"""A whole rebuild campaign on this machine, for ``make demo`` and the tests.

Builds the project's example packages, plans the rebuild of what changed from
their repositories, keeps the state in an SQLite file in the work directory
and runs the campaign with the local backend (rpmbuild, createrepo_c), tier by
tier, with progress shown as it goes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from discomy.orchestration.runner import run_campaign, start_campaign
from discomy.orchestration.store import Store


def start_local_campaign(store: Store, repos: Sequence[Path], changed: Sequence[str],
                         release: str, cache_dir: Optional[Path] = None,
                         workdir: Optional[Path] = None) -> int:
    return start_campaign(store, repos, changed, release, mode="local", cache_dir=cache_dir,
                          workdir=workdir)


def run_local_campaign(workdir, changed, release: str = "per-tier", progress: bool = True) -> dict:
    """Build the example packages, then rebuild what ``changed`` affects, locally."""
    from discomy.cli.examples import build_examples

    workdir = Path(workdir).resolve()
    repos = build_examples(workdir / "examples")
    store = Store(f"sqlite:///{workdir / 'discomy.sqlite'}")
    campaign_id = start_local_campaign(store, repos.repos, changed, release,
                                       cache_dir=workdir / "cache", workdir=workdir)
    return run_campaign(store, campaign_id, workdir, [repos.source_repo], progress)
