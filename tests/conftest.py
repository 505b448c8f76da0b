"""Shared fixtures: the example repositories (built with rpmbuild + createrepo_c)
and the distro-scale dataset."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASET = Path(os.environ.get("DISCOMY_DATASET",
                              ROOT.parent / "shared" / "datasets" / "debian-bookworm-main"))

# koji plugins are loose files, loaded by koji from a plugin path: make them importable
for sub in ("koji-plugins/hub", "koji-plugins/builder", "koji-plugins/cli"):
    path = str(ROOT / sub)
    if path not in sys.path:
        sys.path.append(path)


@pytest.fixture(scope="session")
def example_repos(tmp_path_factory):
    from discomy.cli.examples import build_examples

    return build_examples(tmp_path_factory.mktemp("examples"))


@pytest.fixture(scope="session")
def dataset():
    if not (DATASET / "source" / "repodata" / "repomd.xml").is_file():
        pytest.fail(f"the distro-scale dataset is missing at {DATASET}")
    return DATASET


@pytest.fixture(scope="session")
def dataset_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("graph-cache")


@pytest.fixture(scope="session")
def dataset_graph(dataset, dataset_cache):
    from discomy.planning.repodata import load_graph

    return load_graph([dataset / "source", dataset / "binary"], cache_dir=dataset_cache)
