"""``discomy module-build --local``: modules built here, with no koji, from components in
real git repositories (made by the tests, read over file:// URLs), into a module repo whose
``modules.yaml`` libmodulemd wrote; reuse, buildonly, failures and resubmission."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from discomy import cli
from discomy.cli.examples import EXAMPLE_MODULE, EXAMPLES_DIR, commit_spec
from discomy.orchestration.modules.backends import _headers, nevra
from discomy.orchestration.store import Store
from discomy.planning.modulemd import read_index


def _module_file(tmp_path, text=None, name="demo.yaml", mtime=None):
    path = tmp_path / name
    path.write_text(text if text is not None else EXAMPLE_MODULE.read_text())
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _build(path, git, workdir, *extra, capsys=None):
    argv = ["module-build", "--local", "--file", str(path), "--workdir", str(workdir),
            "--rpms-repository", f"file://{git}/{{name}}.git", "--no-progress", *extra]
    rc = cli.main(argv)
    out = capsys.readouterr() if capsys else None
    return rc, out


def _store(workdir):
    return Store(f"sqlite:///{workdir / 'discomy.sqlite'}")


def _modules_yaml(repo: Path) -> str:
    (path,) = (repo / "repodata").glob("*modules.yaml.gz")
    return gzip.decompress(path.read_bytes()).decode()


def test_a_local_module_build_makes_a_module_repo_with_its_modules_yaml(git_repos, tmp_path,
                                                                        capsys):
    rc, out = _build(_module_file(tmp_path), git_repos, tmp_path / "w", capsys=capsys)
    assert rc == 0, out.err
    repo = Path(out.out.strip().splitlines()[-1])
    store = _store(tmp_path / "w")
    (row,) = store.modules.page({}, 1, 10)[0]
    assert row.state == "ready" and row.repo == str(repo)
    headers = dict(_headers(repo))
    names = sorted(h["name"] for h in headers.values())
    assert names == ["appsuite", "corelib", "corelib-devel", "parsekit", "parsekit-devel",
                     "standalone"]
    # every rpm carries the module's label and the build's own dist
    assert {h["modularitylabel"] for h in headers.values()} == {row.nsvc}
    assert all(row.dist in h["release"] for h in headers.values())
    assert row.dist.startswith(f".module+el9+{row.id}+")
    # modules.yaml, written by libmodulemd, lists exactly what the repo ships (and the SRPMs)
    (stream,) = read_index(_modules_yaml(repo)).streams
    binaries = {nevra(h) for h in headers.values()}
    assert binaries <= set(stream.artifacts)
    assert {a for a in stream.artifacts if not a.endswith(".src")} == binaries
    assert sorted(a.split("-0:")[0] for a in stream.artifacts if a.endswith(".src")) == \
        ["appsuite", "corelib", "parsekit", "standalone"]
    # the buildafter DAG was honoured: nothing started before what it is built after
    nodes = store.nodes(row.campaign_id)
    started = {n: int(node.task.rsplit("@", 1)[1]) for n, node in nodes.items()}
    assert started["corelib"] < started["parsekit"] < started["appsuite"]


def test_buildonly_components_build_but_are_filtered_out_of_the_module(git_repos, tmp_path,
                                                                       capsys):
    text = EXAMPLE_MODULE.read_text().replace(
        "        rationale: The library at the bottom of the chain.\n",
        "        rationale: The library at the bottom of the chain.\n        buildonly: true\n")
    rc, out = _build(_module_file(tmp_path, text), git_repos, tmp_path / "w", capsys=capsys)
    assert rc == 0, out.err
    repo = Path(out.out.strip().splitlines()[-1])
    assert not list(repo.glob("corelib*.rpm")) and list(repo.glob("parsekit-2*.rpm"))
    yaml = _modules_yaml(repo)
    (stream,) = read_index(yaml).streams
    assert not [a for a in stream.artifacts if a.startswith("corelib")]
    assert "filter:" in yaml and "corelib-devel" in yaml


def test_a_new_version_reuses_what_did_not_change_and_rebuilds_what_comes_after(
        fresh_git, tmp_path, capsys):
    workdir = tmp_path / "w"
    rc, out = _build(_module_file(tmp_path, mtime=1_800_000_000), fresh_git, workdir,
                     capsys=capsys)
    assert rc == 0, out.err
    store = _store(workdir)
    first = store.modules.page({}, 1, 10)[0][0]
    before = {n: node.nvr for n, node in store.nodes(first.campaign_id).items()}
    # parsekit changes: in the DAG, appsuite comes after it; corelib and standalone do not
    spec = (EXAMPLES_DIR / "parsekit.spec").read_text().replace("Release:        1%",
                                                                 "Release:        2%")
    commit_spec(fresh_git / "parsekit.git", spec, "parsekit", "parsekit: release 2")
    rc, out = _build(_module_file(tmp_path, mtime=1_800_000_100), fresh_git, workdir,
                     capsys=capsys)
    assert rc == 0, out.err
    second = store.modules.get(first.id + 1)
    assert second.state == "ready" and second.reused_from == first.id
    nodes = store.nodes(second.campaign_id)
    reused = {c.name for c in store.modules.components(second.id) if c.reused_from}
    assert reused == {"corelib", "standalone"}
    assert all(nodes[n].nvr == before[n] and nodes[n].task is None for n in reused)
    assert nodes["parsekit"].nvr.startswith("parsekit-2.0-2.module+el9+2+")
    assert nodes["appsuite"].nvr != before["appsuite"]
    # the reused rpms are in the new module repo, under the first build's dist
    repo = Path(second.repo)
    assert list(repo.glob(f"corelib-1.2-1{first.dist}.*.rpm"))
    (stream,) = read_index(_modules_yaml(repo)).streams
    assert any(a.startswith("corelib-0:1.2-1" + first.dist) for a in stream.artifacts)


@pytest.mark.parametrize("strategy, rebuilt", [("only-changed", {"parsekit"}),
                                               ("all", {"corelib", "parsekit", "appsuite",
                                                        "standalone"})])
def test_the_reuse_strategy_decides_what_is_rebuilt(fresh_git, tmp_path, capsys, strategy,
                                                    rebuilt):
    workdir = tmp_path / "w"
    assert _build(_module_file(tmp_path, mtime=1_800_000_000), fresh_git, workdir,
                  capsys=capsys)[0] == 0
    spec = (EXAMPLES_DIR / "parsekit.spec").read_text().replace("Release:        1%",
                                                                 "Release:        2%")
    commit_spec(fresh_git / "parsekit.git", spec, "parsekit", "parsekit: release 2")
    rc, out = _build(_module_file(tmp_path, mtime=1_800_000_100), fresh_git, workdir,
                     "--reuse", strategy, capsys=capsys)
    assert rc == 0, out.err
    store = _store(workdir)
    second = store.modules.get(2)
    assert {c.name for c in store.modules.components(2) if not c.reused_from} == rebuilt
    assert second.reuse == strategy


def test_a_package_failure_fails_the_module_with_the_component_named(fresh_git, tmp_path,
                                                                     capsys):
    spec = (EXAMPLES_DIR / "parsekit.spec").read_text().replace("%build\n", "%build\nexit 1\n")
    commit_spec(fresh_git / "parsekit.git", spec, "parsekit", "parsekit: broken")
    rc, out = _build(_module_file(tmp_path), fresh_git, tmp_path / "w", capsys=capsys)
    assert rc == 1
    assert "parsekit: package: rpmbuild failed for parsekit in %build" in out.err
    store = _store(tmp_path / "w")
    row = store.modules.get(1)
    assert (row.state, row.failure_class) == ("failed", "package")
    assert row.state_reason.startswith("component parsekit failed: rpmbuild failed")
    nodes = store.nodes(row.campaign_id)
    assert nodes["parsekit"].attempts == 1                  # a package failure: not retried
    assert nodes["appsuite"].state == "quarantined"
    assert nodes["standalone"].state == "done" and nodes["corelib"].state == "done"


def test_a_resubmission_of_the_same_version_resumes_it(fresh_git, tmp_path, capsys):
    path = _module_file(tmp_path, mtime=1_800_000_000)
    hidden = fresh_git / "parsekit.git.away"
    (fresh_git / "parsekit.git").rename(hidden)        # the git server loses one repository
    workdir = tmp_path / "w"
    # the ref is resolved at submission: it must be there then, and go away afterwards
    from discomy.orchestration.modules import scm

    real_resolve = scm.resolve
    commit = subprocess.run(["git", "-C", str(hidden), "rev-parse", "main"],
                            capture_output=True, text=True, check=True).stdout.strip()

    def resolve(repository, ref):
        return commit if repository.endswith("parsekit.git") else real_resolve(repository, ref)

    scm.resolve = resolve
    try:
        rc, out = _build(path, fresh_git, workdir, capsys=capsys)
    finally:
        scm.resolve = real_resolve
    assert rc == 1
    store = _store(workdir)
    row = store.modules.get(1)
    assert (row.state, row.failure_class) == ("failed", "infrastructure")
    nodes = store.nodes(row.campaign_id)
    assert nodes["parsekit"].attempts == 4                  # retried, [campaign] max 3 more
    corelib_task = nodes["corelib"].task
    hidden.rename(fresh_git / "parsekit.git")          # back
    rc, out = _build(path, fresh_git, workdir, capsys=capsys)
    assert rc == 0, out.err
    row = store.modules.get(1)
    assert row.state == "ready" and store.modules.page({}, 1, 10)[1] == 1
    nodes = store.nodes(row.campaign_id)
    assert nodes["corelib"].task == corelib_task       # kept, not built again
    assert nodes["parsekit"].state == nodes["appsuite"].state == "done"
    # and once ready, the same version again is refused: there is nothing to do
    rc, out = _build(path, fresh_git, workdir, capsys=capsys)
    assert rc == 2 and "is built already (module build 1)" in out.err


def test_a_restarted_driver_builds_no_component_twice(git_repos, tmp_path):
    from discomy.orchestration.config import DEFAULTS
    from discomy.orchestration.modules.driver import ModuleDriver
    from discomy.orchestration.modules.service import submit_module_build

    config = json.loads(json.dumps(DEFAULTS))
    config["modules"]["workdir"] = str(tmp_path / "w")
    config["modules"]["rpms_repository"] = f"file://{git_repos}/{{name}}.git"
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    (build,) = submit_module_build(store, config, modulemd=EXAMPLE_MODULE.read_text(),
                                   backend="local")
    first = ModuleDriver(store, config)
    while store.modules.get(build["id"]).state != "build" or \
            not any(n.state == "done" for n in store.nodes(build["campaign"]).values()):
        first.step(build["id"])
    # a new process: a new driver, engine and backend over the same store and directory
    again = ModuleDriver(store, config, sleep=lambda s: None)
    row = again.run(build["id"], poll_seconds=0)
    assert row.state == "ready"
    results = [json.loads(p.read_text())["task"].split("@")[0]
               for p in (Path(row.workdir) / "results").glob("*.json")]
    assert sorted(results) == ["appsuite", "corelib", "parsekit", "standalone"]


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.replace("buildafter: [corelib]", "buildafter: [appsuite]"),
     ["buildafter forms a cycle", "appsuite -> parsekit -> appsuite"]),
    (lambda t: t.replace("        ref: main\n      parsekit:", "        ref: nosuchbranch\n"
                         "      parsekit:"), ["no branch or tag nosuchbranch"]),
    (lambda t: t.replace("  summary: Discomy's", "  colour: red\n  summary: Discomy's"),
     ["Unexpected key in packager v3 document: colour", "[line "]),
    (lambda t: t.replace("configurations:", "configurations :\n  - ["),
     ["Parser error"]),
])
def test_bad_module_input_is_one_line_and_exit_status_2(git_repos, tmp_path, edit, words):
    path = _module_file(tmp_path, edit(EXAMPLE_MODULE.read_text()))
    out = subprocess.run([sys.executable, "-m", "discomy", "module-build", "--local", "--file",
                          str(path), "--workdir", str(tmp_path / "w"), "--rpms-repository",
                          f"file://{git_repos}/{{name}}.git"],
                         capture_output=True, text=True, timeout=120)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert lines[0].startswith("discomy module-build: error: ")
    assert all(w in lines[0] for w in words), lines[0]


class _Gate:
    """A CI gate whose verdicts the test gives: per component name, pending until set."""

    def __init__(self):
        self.verdicts, self.asked = {}, []

    def check(self, nvr, waited_seconds=0.0):
        from discomy.orchestration.gating import GateVerdict

        name = nvr.rsplit("-", 2)[0]
        self.asked.append(name)
        return GateVerdict(*self.verdicts.get(name, ("pending", f"{nvr}: waiting")))


def test_the_ci_gate_holds_each_batch_until_it_passes(git_repos, tmp_path):
    from discomy.orchestration.config import DEFAULTS
    from discomy.orchestration.modules.driver import ModuleDriver
    from discomy.orchestration.modules.service import submit_module_build

    config = json.loads(json.dumps(DEFAULTS))
    config["modules"].update(workdir=str(tmp_path / "w"), gate=True,
                             rpms_repository=f"file://{git_repos}/{{name}}.git")
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    text = EXAMPLE_MODULE.read_text().replace("buildafter: [corelib]", "buildorder: 2") \
        .replace("buildafter: [parsekit]", "buildorder: 3")
    (build,) = submit_module_build(store, config, modulemd=text)
    gate = _Gate()
    driver = ModuleDriver(store, config, gate=gate)
    for _ in range(12):
        driver.step(build["id"])
    nodes = store.nodes(build["campaign"])
    # batch 1 (corelib, standalone) is built and at the gate; batch 2 has not started
    assert {nodes[n].state for n in ("corelib", "standalone")} == {"gating"}
    assert nodes["parsekit"].state in ("planned", "waiting-deps") and nodes["parsekit"].task is None
    gate.verdicts.update(corelib=("pass", "ok"), standalone=("pass", "ok"),
                         parsekit=("pass", "ok"), appsuite=("fail", "appsuite: smoke FAILED"))
    row = driver.run(build["id"], poll_seconds=0)
    assert (row.state, row.failure_class) == ("failed", "package")
    assert row.state_reason == "component appsuite failed: gate failed: appsuite: smoke FAILED"
    assert gate.asked.index("parsekit") > gate.asked.index("corelib")


def test_a_module_builds_campaign_is_not_resumed_as_a_campaign(fresh_git, tmp_path, capsys):
    spec = (EXAMPLES_DIR / "parsekit.spec").read_text().replace("%build\n", "%build\nexit 1\n")
    commit_spec(fresh_git / "parsekit.git", spec, "parsekit", "parsekit: broken")
    assert _build(_module_file(tmp_path), fresh_git, tmp_path / "w", capsys=capsys)[0] == 1
    store = f"sqlite:///{tmp_path / 'w' / 'discomy.sqlite'}"
    assert cli.main(["resume", "1", "--store", store, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "campaign 1 builds the components of a module build" in err
    assert len(err.strip().splitlines()) == 1
    assert _store(tmp_path / "w").campaign(1).state == "failed"       # nothing changed
