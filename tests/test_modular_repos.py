"""Modular repositories in the planner: real rpm-md repositories with ``modules`` metadata,
made with rpmbuild, createrepo_c and modifyrepo_c over the example packages, read as
dnf reads them.

The world: corelib comes as a module with two streams, ``corelib:1`` (the default,
corelib 1.2) and ``corelib:3`` (corelib 3.0), and also as a non-modular corelib 9.9;
``newapp`` build-requires ``corelib-devel >= 3``; every other example package is
non-modular.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from discomy.cli.examples import EXAMPLES_DIR
from discomy.orchestration.modules.backends import _headers, nevra
from discomy.orchestration.rpmtools import createrepo, rpmbuild
from discomy.planning import modular_repos as mr
from discomy.planning.modulemd import StreamInfo, index_text, read_index
from discomy.planning.planner import make_plan
from discomy.planning.repodata import RepodataError, load_graph

NEWAPP_SPEC = """\
Name:           newapp
Version:        1
Release:        1%{?dist}
Summary:        Needs the corelib of the 3 stream
License:        MIT
BuildArch:      noarch
BuildRequires:  corelib-devel >= 3

%description
Test package.

%files

%changelog
* Sun Nov 22 2026 Discomy <discomy@example.org> - 1-1
- Test
"""


def _build(spec_text, name, top, dist):
    spec = top / f"{name}-{abs(hash((spec_text, dist)))}.spec"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(spec_text)
    result = rpmbuild(spec, top / "build", dist=dist)
    return list(result.rpms) + [result.srpm]


def _corelib(version):
    return (EXAMPLES_DIR / "corelib.spec").read_text().replace(
        "Version:        1.2", f"Version:        {version}")


def _add_modules(repo, text, compress="gz"):
    path = repo.parent / f"meta-{repo.name}" / "modules.yaml"
    path.parent.mkdir()
    path.write_text(text)
    subprocess.run(["modifyrepo_c", "--mdtype=modules", f"--compress-type={compress}",
                    str(path), str(repo / "repodata")], check=True, capture_output=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory, example_repos):
    d = tmp_path_factory.mktemp("modular")
    top = d / "rpmbuild"
    plain_bin, plain_src = d / "plain-binary", d / "plain-source"
    for repo, source in ((plain_bin, example_repos.binary_repo),
                         (plain_src, example_repos.source_repo)):
        repo.mkdir()
        for rpm in source.glob("*.rpm"):
            if not rpm.name.startswith("corelib"):
                shutil.copy2(rpm, repo / rpm.name)
    streams = []
    for stream, version, dist in (("1", "1.2", ".module+el9+1+aaaa1111"),
                                  ("3", "3.0", ".module+el9+2+bbbb2222")):
        files = _build(_corelib(version), "corelib", top, dist)
        artifacts = []
        for f in files:
            shutil.copy2(f, (plain_src if f.name.endswith(".src.rpm") else plain_bin) / f.name)
        for repo in (plain_bin, plain_src):
            artifacts += [nevra(h) for path, h in _headers(repo) if dist in path.name]
        streams.append(StreamInfo("corelib", stream, 9000020261201000000 + int(stream),
                                  dist.rsplit("+", 1)[1], tuple(sorted(artifacts)),
                                  {"platform": ("el9",)}))
    for f in _build(_corelib("9.9"), "corelib", top, ".el9") + \
            _build(NEWAPP_SPEC, "newapp", top, ".el9"):
        shutil.copy2(f, (plain_src if f.name.endswith(".src.rpm") else plain_bin) / f.name)
    createrepo(plain_bin)
    createrepo(plain_src)
    # the same packages, with modules metadata in the binary repository
    modular_bin, modular_src = d / "binary", d / "source"
    shutil.copytree(plain_bin, modular_bin)
    shutil.copytree(plain_src, modular_src)
    text = index_text(streams, {"corelib": "1"})
    _add_modules(modular_bin, text)
    return {"plain": [plain_src, plain_bin], "modular": [modular_src, modular_bin],
            "streams": streams, "text": text, "dir": d}


def test_the_modules_metadata_written_by_libmodulemd_reads_back(world):
    index = read_index(world["text"])
    assert index.defaults == {"corelib": "1"}
    assert sorted((s.name, s.stream) for s in index.streams) == [("corelib", "1"),
                                                                ("corelib", "3")]
    assert all(any(a.endswith(".src") for a in s.artifacts) for s in index.streams)


def test_without_modules_metadata_the_newest_corelib_wins(world):
    graph = load_graph(world["plain"], use_cache=False)
    assert graph.evrs[graph.index_of("corelib")] == "9.9-1.el9"


def test_the_default_stream_hides_other_streams_and_non_modular_packages_of_its_names(world):
    graph = load_graph(world["modular"], use_cache=False)
    # not 9.9 (non-modular, same name) and not 3.0 (a stream that is not active)
    assert graph.evrs[graph.index_of("corelib")] == "1.2-1.module+el9+1+aaaa1111"
    # only the 3 stream would give newapp its corelib-devel >= 3
    assert graph.unresolved.get("newapp") == ("corelib-devel >= 3",)
    assert "corelib" not in [d for d, _ in graph.deps_of("newapp")]
    # non-modular packages are there as before
    assert ("corelib", 1) in graph.deps_of("parsekit")
    assert "newapp" not in make_plan(graph, ["corelib"]).affected


def test_an_enabled_stream_replaces_the_default_and_changes_the_reverse_dependencies(world):
    graph = load_graph(world["modular"], use_cache=False, module_streams=["corelib:3"])
    assert graph.evrs[graph.index_of("corelib")] == "3.0-1.module+el9+2+bbbb2222"
    assert "newapp" not in graph.unresolved
    assert ("corelib", 1) in graph.deps_of("newapp")
    assert {"newapp", "parsekit"} <= set(make_plan(graph, ["corelib"]).affected)


def test_the_cache_keeps_graphs_of_different_streams_apart(world, tmp_path):
    default = load_graph(world["modular"], cache_dir=tmp_path)
    three = load_graph(world["modular"], cache_dir=tmp_path, module_streams=["corelib:3"])
    again = load_graph(world["modular"], cache_dir=tmp_path)
    assert default.evrs[default.index_of("corelib")] == again.evrs[again.index_of("corelib")]
    assert three.evrs[three.index_of("corelib")].startswith("3.0")


@pytest.mark.parametrize("streams, words", [
    (["corelib:7"], ["corelib:7", "no such stream", "corelib:1, corelib:3"]),
    (["nosuch:1"], ["nosuch:1", "no such stream", "none"]),
    (["corelib"], ["not NAME:STREAM"]),
    (["corelib:1", "corelib:3"], ["names a module twice"]),
])
def test_a_stream_the_repositories_do_not_have_is_one_clear_error(world, streams, words):
    with pytest.raises(RepodataError) as err:
        load_graph(world["modular"], use_cache=False, module_streams=streams)
    assert all(w in str(err.value) for w in words), str(err.value)
    assert "\n" not in str(err.value)


def test_a_stream_for_repositories_without_modules_is_refused(world):
    with pytest.raises(RepodataError, match="needs a modular repository"):
        load_graph(world["plain"], use_cache=False, module_streams=["corelib:3"])


def test_xz_compressed_modules_metadata_is_read_too(world, tmp_path):
    repo = tmp_path / "binary"
    shutil.copytree(world["dir"] / "plain-binary", repo)
    _add_modules(repo, world["text"], compress="xz")
    assert any(p.name.endswith("modules.yaml.xz") for p in (repo / "repodata").iterdir())
    graph = load_graph([world["modular"][0], repo], use_cache=False)
    assert graph.evrs[graph.index_of("corelib")].startswith("1.2-1.module")


def test_zstd_compressed_modules_metadata_is_read_with_the_zstd_tool(world, tmp_path):
    # Debian's modifyrepo_c writes no zstd (newer createrepo_c does): the file is made with
    # the zstd tool, and its checksum given as repomd.xml would give it
    import hashlib

    from discomy.planning.repodata import _read_modules

    plain = tmp_path / "modules.yaml"
    plain.write_text(world["text"])
    subprocess.run(["zstd", "-q", str(plain), "-o", str(tmp_path / "m.yaml.zst")], check=True)
    digest = hashlib.sha256((tmp_path / "m.yaml.zst").read_bytes()).hexdigest()
    assert _read_modules(tmp_path, ("m.yaml.zst", "sha256", digest)) == world["text"]
    with pytest.raises(RepodataError, match="checksum"):
        _read_modules(tmp_path, ("m.yaml.zst", "sha256", "0" * 64))


def test_discomy_plan_takes_module_streams(world, tmp_path):
    argv = [sys.executable, "-m", "discomy", "plan", "--changed", "corelib", "--json",
            "--no-cache", "--module-stream", "corelib:3"]
    for repo in world["modular"]:
        argv += ["--repo", str(repo)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "newapp" in json.loads(out.stdout)["affected"]


# -- the rules alone ----------------------------------------------------------------------

def _s(name, stream, artifacts, requires=None):
    return StreamInfo(name, stream, 1, "c", tuple(artifacts), requires or {})


def test_streams_an_active_stream_requires_become_active_too():
    streams = [_s("app", "2", ["app-0:2-1.x86_64"], {"lib": ("5",), "platform": ("el9",)}),
               _s("lib", "4", ["lib-0:4-1.x86_64"]), _s("lib", "5", ["lib-0:5-1.x86_64"])]
    f = mr.modular_filter(streams, {"lib": "4"}, [("app", "2")])
    assert f.active == {"app": "2", "lib": "5"}
    assert f.hides("lib", "lib-0:4-1.x86_64") and not f.hides("lib", "lib-0:5-1.x86_64")
    # a non-modular lib is hidden behind the active stream's lib; other packages stay
    assert f.hides("lib", "lib-0:9-1.x86_64")
    assert not f.hides("bash", "bash-0:5.2-1.x86_64")


def test_a_module_with_no_default_and_nothing_enabled_shows_none_of_its_packages():
    f = mr.modular_filter([_s("tool", "1", ["tool-0:1-1.noarch"])], {})
    assert f.active == {}
    assert f.hides("tool", "tool-0:1-1.noarch")
    assert not f.hides("tool", "tool-0:0.9-1.noarch")     # nothing masks the non-modular one


def test_a_campaign_is_planned_with_the_configured_module_streams(world, tmp_path):
    from discomy.orchestration.runner import start_campaign
    from discomy.orchestration.store import Store

    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    default = start_campaign(store, world["modular"], ["corelib"], "per-tier",
                             cache_dir=tmp_path / "cache")
    three = start_campaign(store, world["modular"], ["corelib"], "per-tier",
                           cache_dir=tmp_path / "cache", module_streams=["corelib:3"])
    assert "newapp" not in store.nodes(default) and "newapp" in store.nodes(three)
