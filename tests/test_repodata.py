"""Loading rpm-md with libsolv: real repositories made with rpmbuild and createrepo_c."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess

import pytest

from discomy.planning import repodata
from discomy.planning.planner import make_plan
from discomy.planning.repodata import RepodataError, load_graph
from discomy.orchestration.rpmtools import createrepo, rpmbuild

MISSING_BR_SPEC = """\
Name:           needsghost
Version:        1
Release:        1%{?dist}
Summary:        Build-requires something nobody provides
License:        MIT
BuildArch:      noarch
BuildRequires:  ghost-devel >= 2
BuildRequires:  corelib-devel

%description
Test package.

%files

%changelog
* Sun Nov 22 2026 Discomy <discomy@example.org> - 1-1
- Test
"""


NEEDS_FILE_SPEC = MISSING_BR_SPEC.replace("needsghost", "needsfile").replace(
    "BuildRequires:  ghost-devel >= 2\nBuildRequires:  corelib-devel\n",
    "BuildRequires:  /usr/share/parsekit/VERSION\n")


def load(repos, tmp_path, **kw):
    return load_graph([str(r) for r in repos], cache_dir=tmp_path / "cache", **kw)


def test_direct_edges_cover_versioned_rich_and_file_build_requires(example_repos, tmp_path):
    g = load(example_repos.repos, tmp_path)
    deps = {name: {d for d, _ in g.deps_of(name)} for name in g.names}
    assert deps["parsekit"] == {"corelib"}                    # corelib-devel >= 1.0
    assert deps["appsuite"] == {"alpha", "beta", "parsekit"}  # (alpha-devel or beta-devel), file dep
    assert deps["alpha"] == {"parsekit", "beta"}
    assert deps["standalone"] == set()
    assert g.unresolved == {}


def test_buildroot_depth_adds_what_the_buildroot_pulls_in_with_its_distance(example_repos, tmp_path):
    g = load(example_repos.repos, tmp_path, depth="buildroot")
    alpha = dict(g.deps_of("alpha"))
    # parsekit-devel Requires corelib-devel: one hop further than a direct provider
    assert alpha["parsekit"] == 1 and alpha["corelib"] == 2
    direct = load(example_repos.repos, tmp_path, depth="direct")
    assert "corelib" not in dict(direct.deps_of("alpha"))
    # parsekit-config's script needs /bin/sh, which nothing here provides: reported, and
    # the buildroot is approximated rather than dropped
    assert "alpha" in g.uninstallable and "/bin/sh" in g.uninstallable["alpha"][0]
    assert g.unresolved == {}


def test_plan_over_real_repos_rebuilds_the_chain_and_bootstraps_the_cycle(example_repos, tmp_path):
    plan = make_plan(load(example_repos.repos, tmp_path), ["corelib"])
    assert plan.tiers == (("parsekit",), ("alpha",), ("beta",), ("appsuite",))
    assert plan.cycles == (("alpha", "beta"),)


def test_noarch_only_sources_are_recognised(example_repos, tmp_path):
    g = load(example_repos.repos, tmp_path)
    noarch = {name for name, flag in zip(g.names, g.noarch) if flag}
    assert noarch == {"beta", "parsekit", "standalone"}


def test_unresolvable_build_requires_are_reported_per_package(example_repos, tmp_path):
    spec = tmp_path / "needsghost.spec"
    spec.write_text(MISSING_BR_SPEC)
    result = rpmbuild(spec, tmp_path / "top")
    extra = tmp_path / "extra-src"
    extra.mkdir()
    shutil.copy(result.srpm, extra)
    createrepo(extra)
    g = load([*example_repos.repos, extra], tmp_path)
    assert g.unresolved["needsghost"] == ("ghost-devel >= 2",)
    assert [d for d, _ in g.deps_of("needsghost")] == ["corelib"]


@pytest.mark.parametrize("compress", ["xz", "zstd"])
def test_primary_compressed_with_xz_or_zstd_is_read(example_repos, tmp_path, compress):
    repo = tmp_path / compress
    shutil.copytree(example_repos.binary_repo, repo)
    repodata = repo / "repodata"
    primary = next(repodata.glob("*-primary.xml.gz"))
    raw = repodata / primary.name[:-3]
    raw.write_bytes(gzip.decompress(primary.read_bytes()))
    tool = {"xz": ["xz", "-k", "-f"], "zstd": ["zstd", "-q", "-f"]}[compress]
    subprocess.run([*tool, str(raw)], check=True)
    packed = raw.with_name(raw.name + {"xz": ".xz", "zstd": ".zst"}[compress])
    repomd = repodata / "repomd.xml"
    old_sum = hashlib.sha256(primary.read_bytes()).hexdigest()
    new_sum = hashlib.sha256(packed.read_bytes()).hexdigest()
    repomd.write_text(repomd.read_text().replace(primary.name, packed.name)
                      .replace(f">{old_sum}<", f">{new_sum}<"))
    primary.unlink()
    raw.unlink()
    g = load([example_repos.source_repo, repo], tmp_path)
    assert {d for d, _ in g.deps_of("parsekit")} == {"corelib"}


def test_missing_repository_is_a_clear_error(tmp_path):
    with pytest.raises(RepodataError, match="does not exist"):
        load([tmp_path / "nope"], tmp_path)


def test_directory_without_repodata_is_a_clear_error(tmp_path):
    with pytest.raises(RepodataError, match="not an rpm-md repository"):
        load([tmp_path], tmp_path)


def test_corrupt_primary_is_a_clear_error(example_repos, tmp_path):
    repo = tmp_path / "corrupt"
    shutil.copytree(example_repos.binary_repo, repo)
    primary = next((repo / "repodata").glob("*-primary.xml.gz"))
    primary.write_bytes(gzip.compress(b"<metadata><package type='rpm'><name>broken"))
    with pytest.raises(RepodataError, match="corrupt|cannot"):
        load([example_repos.source_repo, repo], tmp_path)


def test_binary_repo_alone_is_refused_with_a_hint(example_repos, tmp_path):
    with pytest.raises(RepodataError, match="source"):
        load([example_repos.binary_repo], tmp_path)


def test_source_repo_alone_is_refused_naming_the_binary_repository(example_repos, tmp_path):
    # without binaries no BuildRequires resolves: a plan would say "0 affected"
    with pytest.raises(RepodataError, match="no binary packages.*pass the binary repository"):
        load([example_repos.source_repo], tmp_path)


def test_binaries_built_from_other_sources_are_refused(example_repos, tmp_path):
    result = rpmbuild(_write(tmp_path / "needsghost.spec", MISSING_BR_SPEC), tmp_path / "top")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for rpm in result.rpms:
        shutil.copy(rpm, foreign)
    createrepo(foreign)
    with pytest.raises(RepodataError, match="built from none of these source packages"):
        load([example_repos.source_repo, foreign], tmp_path)


def _write(path, text):
    path.write_text(text)
    return path


def source_repo_of(spec_text, name, tmp_path):
    result = rpmbuild(_write(tmp_path / f"{name}.spec", spec_text), tmp_path / "top")
    repo = tmp_path / f"{name}-src"
    repo.mkdir()
    shutil.copy(result.srpm, repo)
    return createrepo(repo)


def without_filelists(repo, tmp_path):
    copy = tmp_path / f"{repo.name}-no-filelists"
    shutil.copytree(repo, copy)
    next((copy / "repodata").glob("*-filelists.xml.gz")).unlink()
    return copy


def test_file_build_requires_beyond_primary_resolve_through_filelists(example_repos, tmp_path):
    # /usr/share paths are not in primary (createrepo_c lists only /etc, */bin/*)
    extra = source_repo_of(NEEDS_FILE_SPEC, "needsfile", tmp_path)
    g = load([*example_repos.repos, extra], tmp_path, use_cache=False)
    assert [d for d, _ in g.deps_of("needsfile")] == ["parsekit"]
    assert g.unresolved == {}
    # the filelists were needed: without them the load fails
    binary = without_filelists(example_repos.binary_repo, tmp_path)
    with pytest.raises(RepodataError, match="filelists.*missing"):
        load([example_repos.source_repo, binary, extra], tmp_path, use_cache=False)


def test_filelists_are_not_read_when_primary_answers_every_file_dependency(example_repos,
                                                                            tmp_path):
    # appsuite's file BuildRequires is under /usr/bin, which primary lists
    binary = without_filelists(example_repos.binary_repo, tmp_path)
    g = load([example_repos.source_repo, binary], tmp_path, use_cache=False)
    assert {d for d, _ in g.deps_of("appsuite")} == {"alpha", "beta", "parsekit"}


def test_parsed_repositories_are_cached_as_solv_files_and_give_the_same_graph(example_repos,
                                                                             tmp_path):
    cache_dir = tmp_path / "cache"
    first = load(example_repos.repos, tmp_path)
    # parsed once: only marked; parsed again (here for the other depth): kept
    assert len(list(cache_dir.glob("repo-*.solv"))) == 0
    load(example_repos.repos, tmp_path, depth="buildroot")
    assert len(list(cache_dir.glob("repo-*.solv"))) == 2
    for graph in cache_dir.glob("graph-*.npz"):
        graph.unlink()
    # the XML is gone: only the .solv copies can give the graph now
    moved = tmp_path / "moved"
    shutil.copytree(example_repos.binary_repo, moved)
    for xml in (moved / "repodata").glob("*.xml.gz"):
        xml.write_bytes(b"")
    again = load([example_repos.source_repo, moved], tmp_path)
    assert again.names == first.names
    assert [again.deps_of(n) for n in again.names] == [first.deps_of(n) for n in first.names]


def test_a_damaged_solv_copy_is_read_again_from_the_xml(example_repos, tmp_path, caplog):
    cache_dir = tmp_path / "cache"
    first = load(example_repos.repos, tmp_path)
    load(example_repos.repos, tmp_path, depth="buildroot")
    for path in cache_dir.glob("graph-*.npz"):
        path.unlink()
    assert len(list(cache_dir.glob("repo-*.solv"))) == 2
    for path in cache_dir.glob("repo-*.solv"):
        path.write_bytes(path.read_bytes()[:40])
    with caplog.at_level("WARNING"):
        again = load(example_repos.repos, tmp_path)
    assert "ignoring cached repository" in caplog.text
    assert [again.deps_of(n) for n in again.names] == [first.deps_of(n) for n in first.names]


def edges_of(graph):
    return {name: graph.deps_of(name) for name in graph.names}


def test_repositories_parsed_side_by_side_give_the_same_graph(example_repos, tmp_path,
                                                              monkeypatch):
    extra = source_repo_of(NEEDS_FILE_SPEC, "needsfile", tmp_path)
    repos = [*example_repos.repos, extra]
    alone = load(repos, tmp_path, use_cache=False)
    monkeypatch.setattr(repodata, "PARALLEL_MIN_BYTES", 0)
    # helper processes, one per repository; the filelists are added afterwards here
    side_by_side = load(repos, tmp_path)
    assert side_by_side.names == alone.names and edges_of(side_by_side) == edges_of(alone)
    assert dict(side_by_side.deps_of("needsfile")) == {"parsekit": 1}
    # what the helpers wrote (all but the first repository) is kept
    cache_dir = tmp_path / "cache"
    assert len(list(cache_dir.glob("repo-*.solv"))) == 2
    assert list(cache_dir.glob(".repo-*")) == []


def test_damage_found_by_a_helper_process_is_one_clear_error(example_repos, tmp_path,
                                                             monkeypatch):
    monkeypatch.setattr(repodata, "PARALLEL_MIN_BYTES", 0)
    broken = tmp_path / "broken"
    shutil.copytree(example_repos.binary_repo, broken)
    primary = next((broken / "repodata").glob("*-primary.xml.gz"))
    old = primary.read_bytes()
    primary.write_bytes(gzip.compress(b"<metadata><package type='rpm'><name>broken"))
    repomd = broken / "repodata" / "repomd.xml"
    repomd.write_text(repomd.read_text().replace(
        f">{hashlib.sha256(old).hexdigest()}<",
        f">{hashlib.sha256(primary.read_bytes()).hexdigest()}<"))
    with pytest.raises(RepodataError) as error:
        load([example_repos.source_repo, broken], tmp_path)
    assert "corrupt rpm-md metadata" in str(error.value) and str(primary) in str(error.value)
    assert "\n" not in str(error.value)
    # nothing of the broken repository is kept, and no leftovers
    assert list((tmp_path / "cache").glob("*.solv")) == []
    assert list((tmp_path / "cache").glob(".repo-*")) == []


def test_a_helper_process_that_cannot_run_leaves_the_parse_to_this_one(example_repos, tmp_path,
                                                                       monkeypatch, caplog):
    monkeypatch.setattr(repodata, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(repodata, "_PARSE_TO_SOLV", "import sys; sys.exit('no libsolv here')")
    with caplog.at_level("WARNING"):
        g = load(example_repos.repos, tmp_path, use_cache=False)
    assert "the helper failed (no libsolv here)" in caplog.text
    assert {d for d, _ in g.deps_of("appsuite")} == {"alpha", "beta", "parsekit"}


def test_graph_cache_is_reused_and_keyed_by_repo_metadata(example_repos, tmp_path):
    first = load(example_repos.repos, tmp_path)
    assert len(list((tmp_path / "cache").glob("graph-*.npz"))) == 1
    again = load(example_repos.repos, tmp_path)
    assert again.names == first.names
    load(example_repos.repos, tmp_path, depth="buildroot")
    assert len(list((tmp_path / "cache").glob("graph-*.npz"))) == 2
