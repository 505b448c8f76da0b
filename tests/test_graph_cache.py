"""The graph cache holds data only, and is trusted only when it is ours alone."""

from __future__ import annotations

import logging
import os
import pickle
import stat

import numpy as np
import pytest

from discomy.planning import cache
from discomy.planning.graph import graph_from_mapping
from discomy.planning.repodata import cache_key, load_graph

EXPECTED = {"parsekit": {"corelib"}, "appsuite": {"alpha", "beta", "parsekit"},
            "alpha": {"parsekit", "beta"}, "standalone": set()}

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")


class RunsTouch:
    """Unpickling this runs ``touch``: what a planted pickle could do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def graph_is_right(graph):
    return all({d for d, _ in graph.deps_of(name)} == deps for name, deps in EXPECTED.items())


def key_of(example_repos):
    return cache_key(example_repos.repos, "direct", "x86_64")


def test_a_pickle_planted_under_the_cache_names_never_runs(example_repos, tmp_path, caplog):
    cache_dir, marker = tmp_path / "cache", tmp_path / "ran"
    cache_dir.mkdir(mode=0o700)
    key = key_of(example_repos)
    for suffix in ("pickle", "npz"):
        (cache_dir / f"graph-{key}.{suffix}").write_bytes(pickle.dumps(RunsTouch(marker)))
    with caplog.at_level(logging.WARNING):
        graph = load_graph(example_repos.repos, cache_dir=cache_dir)
    assert not marker.exists()
    assert graph_is_right(graph)
    assert "ignoring graph cache" in caplog.text


def test_pickled_arrays_inside_an_npz_are_never_loaded(example_repos, tmp_path, caplog):
    cache_dir, marker = tmp_path / "cache", tmp_path / "ran"
    cache_dir.mkdir(mode=0o700)
    key = key_of(example_repos)
    payload = np.empty(1, dtype=object)
    payload[0] = RunsTouch(marker)
    with open(cache_dir / f"graph-{key}.npz", "wb") as f:
        np.savez(f, key=np.str_(key), names_text=payload)
    with caplog.at_level(logging.WARNING):
        graph = load_graph(example_repos.repos, cache_dir=cache_dir)
    assert not marker.exists()
    assert graph_is_right(graph)
    assert "ignoring graph cache" in caplog.text


def test_the_cache_directory_is_created_private_and_reused(example_repos, tmp_path):
    cache_dir = tmp_path / "new" / "cache"
    load_graph(example_repos.repos, cache_dir=cache_dir)
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
    files = list(cache_dir.glob("graph-*.npz"))
    assert len(files) == 1
    again = cache.read_graph(files[0], key_of(example_repos))
    assert again is not None and graph_is_right(again)


def plant_wrong_graph(example_repos, cache_dir):
    """A well-formed cache file whose graph is wrong: if it were read, the plan would show."""
    path = cache_dir / f"graph-{key_of(example_repos)}.npz"
    cache.write_graph(path, key_of(example_repos), graph_from_mapping({"planted": []}))
    return path


@pytest.mark.parametrize("make_untrusted", [
    pytest.param(lambda path: os.chmod(path, 0o666), id="world-writable"),
    pytest.param(lambda path: os.chmod(path, 0o620), id="group-writable"),
    pytest.param(lambda path: os.chown(path, 65534, 65534), id="another-owner",
                 marks=root_only),
])
def test_cache_files_others_could_have_written_are_ignored(example_repos, tmp_path, caplog,
                                                           make_untrusted):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir(mode=0o700)
    make_untrusted(plant_wrong_graph(example_repos, cache_dir))
    with caplog.at_level(logging.WARNING):
        graph = load_graph(example_repos.repos, cache_dir=cache_dir)
    assert graph_is_right(graph)
    assert "ignoring cache file" in caplog.text


def test_a_symlink_under_the_cache_name_is_not_followed(example_repos, tmp_path, caplog):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    planted = plant_wrong_graph(example_repos, elsewhere)
    (cache_dir / planted.name).symlink_to(planted)
    with caplog.at_level(logging.WARNING):
        graph = load_graph(example_repos.repos, cache_dir=cache_dir)
    assert graph_is_right(graph)
    assert "ignoring cache file" in caplog.text


@pytest.mark.parametrize("make_untrusted", [
    pytest.param(lambda path: os.chmod(path, 0o777), id="world-writable"),
    pytest.param(lambda path: os.chown(path, 65534, 65534), id="another-owner",
                 marks=root_only),
])
def test_a_cache_directory_others_can_write_is_neither_read_nor_written(
        example_repos, tmp_path, caplog, make_untrusted):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir(mode=0o700)
    planted = plant_wrong_graph(example_repos, cache_dir)
    make_untrusted(cache_dir)
    before = sorted(p.name for p in cache_dir.iterdir())
    with caplog.at_level(logging.WARNING):
        graph = load_graph(example_repos.repos, cache_dir=cache_dir)
    assert graph_is_right(graph)
    assert "not using cache directory" in caplog.text
    assert sorted(p.name for p in cache_dir.iterdir()) == before and planted.exists()


def test_a_damaged_cache_file_is_derived_again(example_repos, tmp_path, caplog):
    cache_dir = tmp_path / "cache"
    load_graph(example_repos.repos, cache_dir=cache_dir)
    path = next(cache_dir.glob("graph-*.npz"))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with caplog.at_level(logging.WARNING):
        assert graph_is_right(load_graph(example_repos.repos, cache_dir=cache_dir))
    assert "ignoring graph cache" in caplog.text
    assert cache.read_graph(path, key_of(example_repos)) is not None   # written again
