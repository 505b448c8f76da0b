"""A module build against a real kojihub (koji's source tree, PostgreSQL on loopback),
through the machinery of test_orchestrator_real_kojihub.py: the hub under wsgiref, and a
builder thread doing through koji's host API what kojid's tasks would (builds, repos,
tagging), plus ``distRepo``: ``createrepo_c`` into the arch directories the hub made under
its ``repos-dist``, then ``host.repoDone``.

The module has three components in two batches (``buildorder``): corelib and standalone,
then parsekit. It is submitted from git repositories the test makes (file:// URLs),
driven by the module driver with the koji backend, logged in as ``discomy``, who holds
only the ``tag``, ``target`` and ``dist-repo`` permissions. Then a second version, where
only parsekit changed, reuses the first batch by tagging. What the hub recorded is read
back as an admin: the tags (arches, extra), the build tag's inheritance, the target, the
package list, the builds (source, release, task order against the buildroot repos), the
tags each build ended in, and the dist repo with its modules.yaml.

Also runnable by hand with the project's venv:

    .venv/bin/python tests/integration/test_module_real_kojihub.py /path/to/koji-src [--keep]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT / "orchestrator")]

import hub_real_kojihub as real  # noqa: E402
import test_orchestrator_real_kojihub as orch  # noqa: E402
from realkoji import Problems  # noqa: E402

MODULE = """\
document: modulemd
version: 2
data:
  summary: Three example packages in two batches
  description: corelib and standalone first, then parsekit against corelib.
  license:
    module: [MIT]
  dependencies:
    - buildrequires:
        platform: [el9]
      requires:
        platform: [el9]
  components:
    rpms:
      corelib:
        rationale: The library at the bottom.
        ref: main
        buildorder: 1
      standalone:
        rationale: Needs nothing.
        ref: main
        buildorder: 1
      parsekit:
        rationale: Builds against corelib-devel.
        ref: main
        buildorder: 2
"""

POLICY = """tag =
    has_perm admin :: allow
    has_perm tag :: allow
    all :: deny
package_list =
    has_perm admin :: allow
    has_perm tag :: allow
    all :: deny
build_from_scm =
    all :: allow
"""


class ModuleBuilder(orch.Builder):
    """The builder thread, with kojid's distRepo: repodata written where the hub made
    each arch's directory, then the repo marked done."""

    topdir: Path = None

    def do_distRepo(self, task):
        tag, repo_id, _keys, opts = task["request"][:4]
        for arch in opts.get("arch") or []:
            where = self.topdir / "repos-dist" / tag / str(repo_id) / arch
            subprocess.run(["createrepo_c", "--quiet", "--general-compress-type=gz",
                            "--no-database", str(where)], check=True)
        self.host.host.repoDone(repo_id, {}, False)
        self.close(task["id"], f"Dist repository #{repo_id} successfully generated",
                   "distRepo")


def set_up(koji, url, pg_port):
    admin = real.login(koji, url, "kojiadmin")
    admin.createTag("el9", arches="x86_64")
    admin.createTag("el9-build", parent="el9", arches="x86_64",
                    extra={"rpm.macro.dist": ".el9"})
    admin.createUser("discomy")
    for perm in ("tag", "target", "dist-repo"):
        admin.grantPermission("discomy", perm)
    admin.addHost("builder1", ["x86_64"])
    admin.addHostToChannel("builder1", "createrepo")
    for user in ("discomy", "builder1"):
        real.psql(pg_port, f"UPDATE users SET password = '{user}' WHERE name = '{user}'")
    return admin


def scenario(koji, url, pg_port, work, calls, out=print):
    from discomy.cli.examples import EXAMPLES_DIR, commit_file, commit_spec, make_git_repos
    from discomy.orchestration.config import DEFAULTS
    from discomy.orchestration.modules.driver import ModuleDriver
    from discomy.orchestration.modules.service import submit_module_build
    from discomy.orchestration.store import Store
    from discomy.planning.modulemd import read_index

    problems = Problems(out)
    check = problems.check

    admin = set_up(koji, url, pg_port)
    builder = ModuleBuilder(koji, url, pg_port)
    builder.topdir = work / "koji"
    builder.start()
    try:
        git = make_git_repos(work / "git")
        commit_file(git / "threeinone.git", "threeinone.yaml", MODULE, "stream 1", branch="1")
        config = copy.deepcopy(DEFAULTS)
        config["koji"].update(server=url, retry_backoff_seconds=0.2, poll_seconds=0.3)
        config["modules"].update(backend="koji", platforms=["el9:el9-build"],
                                 koji_topdir=str(work / "koji"),
                                 rpms_repository=f"file://{git}/{{name}}.git")
        store = Store(f"sqlite:///{work / 'modules.sqlite'}")
        driver = ModuleDriver(store, config,
                              session=lambda: orch.campaign_session(koji, url, calls))

        def build_module():
            (build,) = submit_module_build(store, config, scmurl=f"file://{git}/threeinone.git",
                                           branch="1", owner="discomy")
            deadline = time.time() + 240
            while True:
                if driver.step(build["id"]) == "finished":
                    return store.modules.get(build["id"])
                if time.time() > deadline:
                    row = store.modules.get(build["id"])
                    raise AssertionError(f"module build {row.id} stuck in {row.state} "
                                         f"({row.note}); builder: "
                                         + "".join(builder.errors[-1:]))
                time.sleep(0.3)

        started = time.time()
        row = build_module()
        out(f"module build {row.id} {row.nsvc}: {row.state} in {time.time() - started:.1f} s "
            f"({row.state_reason})")
        check(row.state == "ready", f"module build {row.id} is ready: {row.state_reason}")
        tag, build_tag = row.koji_tag, row.build_tag

        # -- the tags, inheritance, target and package list ----------------------------------
        info, binfo = admin.getTag(tag), admin.getTag(build_tag)
        check(bool(info) and bool(binfo), f"tags {tag} and {build_tag} exist")
        check(info["arches"] == binfo["arches"] == "x86_64",
              f"arches from the platform's tag: {info['arches']!r}, {binfo['arches']!r}")
        extra = binfo["extra"]
        check(extra.get("rpm.macro.dist") == row.dist and row.dist.startswith(".module+el9+"),
              f"{build_tag} rpm.macro.dist = {extra.get('rpm.macro.dist')!r}")
        check(extra.get("rpm.macro.modularitylabel") == row.nsvc,
              f"{build_tag} rpm.macro.modularitylabel = {extra.get('rpm.macro.modularitylabel')!r}")
        check(extra.get("mock.package_manager") == "dnf" and extra.get("repo_include_all"),
              f"{build_tag} mock.package_manager and repo_include_all: {extra}")
        config_macros = admin.getBuildConfig(build_tag)["extra"]
        check(config_macros.get("rpm.macro.dist") == row.dist,
              "getBuildConfig (what mock is given) has the module's dist")
        parents = [(p["name"], p["priority"]) for p in admin.getInheritanceData(build_tag)]
        check(parents == [(tag, 0), ("el9-build", 10)],
              f"{build_tag} inherits {parents}")
        target = admin.getBuildTarget(tag)
        check(bool(target) and (target["build_tag_name"], target["dest_tag_name"])
              == (build_tag, tag), f"target {tag}: {target and target['build_tag_name']} -> "
                                   f"{target and target['dest_tag_name']}")
        listed = sorted(p["package_name"] for p in admin.listPackages(tagID=tag))
        check(listed == ["corelib", "parsekit", "standalone"], f"package list of {tag}: {listed}")

        # -- the builds ----------------------------------------------------------------------
        components = {c.name: c for c in store.modules.components(row.id)}
        nodes = store.nodes(row.campaign_id)
        tasks = {n: admin.getTaskInfo(int(node.task), request=True) for n, node in nodes.items()}
        for name, task in sorted(tasks.items()):
            check(task["request"][0] == components[name].scmurl and task["request"][1] == tag,
                  f"{name}: built from {task['request'][0]} for target {task['request'][1]}")
            check(task["request"][2]["custom_user_metadata"]["discomy_module"] == row.nsvc,
                  f"{name}: the task names the module in custom_user_metadata")
        first_done = max(admin.getTaskInfo(int(nodes[n].task))["completion_ts"]
                         for n in ("corelib", "standalone"))
        check(tasks["parsekit"]["create_ts"] > first_done,
              "batch 2 (parsekit) was submitted after batch 1 finished")
        # a repo of the build tag holding batch 1 was ready before batch 2 went
        batch1 = {n: admin.getBuild(nodes[n].nvr) for n in ("corelib", "standalone")}
        repos = admin.repo.query([["tag_id", "=", binfo["id"]], ["dist", "IS", False]],
                                 ["id", "create_event", "state", "state_ts"]) or []
        holding = [r for r in repos if r["create_event"] >= max(
            b["creation_event_id"] for b in batch1.values())]
        # state_ts: when it last changed state, ready (or expired later on, which is later)
        check(bool(holding) and min(r["state_ts"] for r in holding) <=
              tasks["parsekit"]["create_ts"],
              f"a repo of {build_tag} with batch 1 in it was ready before batch 2: "
              f"{[r['id'] for r in holding]}")
        tagged = {b["nvr"]: b for b in admin.listTagged(tag)}
        want = {n: node.nvr for n, node in nodes.items()}
        check(sorted(tagged) == sorted(want.values()),
              f"{tag} holds the three builds: {sorted(tagged)}")
        check(all(nvr.endswith(row.dist) for nvr in want.values()),
              f"every release ends with the module's dist: {sorted(want.values())}")
        for name, nvr in sorted(want.items()):
            build = admin.getBuild(nvr)
            check(build["source"] == components[name].scmurl and build["state"] == 1,
                  f"{nvr}: COMPLETE, source {build['source']}")
            tags = sorted(t["name"] for t in admin.listTags(build=nvr))
            check(tags == [tag], f"{nvr} is tagged into {tags}")

        # -- the dist repo -----------------------------------------------------------------------
        task = admin.getTaskInfo(row.repo_task, request=True)
        check(task["method"] == "distRepo" and task["request"][0] == tag
              and task["state"] == koji.TASK_STATES["CLOSED"],
              f"dist-repo task {row.repo_task} of {tag}: {task['method']}")
        repo_id = task["request"][1]
        dist = admin.repoInfo(repo_id)
        check(dist["dist"] and koji.REPO_STATES[dist["state"]] == "READY",
              f"dist repo {repo_id}: dist={dist['dist']}, {koji.REPO_STATES[dist['state']]}")
        arch = work / "koji" / "repos-dist" / tag / str(repo_id) / "x86_64"
        found = list((arch / "repodata").glob("*modules.yaml.gz"))
        check(row.repo == str(arch.parent) and len(found) == 1,
              f"modules.yaml in {arch}/repodata: {[p.name for p in found]}")
        if found:
            text = gzip.decompress(found[0].read_bytes()).decode()
            (stream,) = read_index(text).streams
            check(f"{stream.name}:{stream.stream}:{stream.version}:{stream.context}" == row.nsvc,
                  f"modules.yaml is {row.nsvc}")
            check(all(nvr in text for nvr in want.values()),
                  "modules.yaml names each component's NVR (xmd)")

        # -- a second version: batch 1 reused by tagging, parsekit built ---------------------
        spec = (EXAMPLES_DIR / "parsekit.spec").read_text().replace("Release:        1%",
                                                                     "Release:        2%")
        commit_spec(git / "parsekit.git", spec, "parsekit", "release 2")
        time.sleep(1.1)         # module versions are commit times, to the second
        commit_file(git / "threeinone.git", "README", "three in one\n", "readme", branch="1")
        second = build_module()
        check(second.state == "ready", f"module build {second.id}: {second.state} "
                                       f"({second.state_reason})")
        reused = sorted(c.name for c in store.modules.components(second.id) if c.reused_from)
        check(reused == ["corelib", "standalone"], f"reused from build {row.id}: {reused}")
        tagged2 = sorted(b["nvr"] for b in admin.listTagged(second.koji_tag))
        check(want["corelib"] in tagged2 and want["standalone"] in tagged2
              and any(n.startswith("parsekit-1.0-1" + second.dist) for n in tagged2),
              f"{second.koji_tag} holds {tagged2}")
        builds = [c for c in calls if c["method"] == "build"]
        check(len(builds) == 4, f"4 builds submitted in all (3, then parsekit): {len(builds)}")
        tag_calls = [c["args"][:2] for c in calls if c["method"] == "tagBuild"]
        check(sorted(tag_calls) == sorted([(second.koji_tag, want["corelib"]),
                                           (second.koji_tag, want["standalone"])]),
              f"reused builds tagged with tagBuild: {tag_calls}")
        check(not builder.errors, "builder thread: " + (builder.errors[-1] if builder.errors
                                                         else "no errors"))
    finally:
        builder.stop()
    return problems


def run(koji_src, venv, keep=False, out=print):
    koji_src = Path(koji_src).resolve()
    python = real.ensure_venv(Path(venv))
    global koji
    import koji

    work = Path(tempfile.mkdtemp(prefix="discomy-module-kojihub-"))
    pg_data, hub, calls = None, None, []
    try:
        pg_data, pg_port = real.start_postgres(work)
        real.create_koji_db(pg_port, koji_src)
        conf, discomy_conf = real.write_hub_config(
            work, pg_port, plugins="", plugin_path=f"{koji_src}/plugins/hub",
            hub_extra="MissingPolicyOk = False\n", scheduler="[scheduler]\nenabled = false\n",
            policy=POLICY)
        hub = real.Hub(python, conf, discomy_conf, koji_src, work / "hub.log")
        url = hub.start(koji)
        found = re.search(r"__version_info__ = \(([^)]*)\)",
                          (koji_src / "koji" / "_version.py").read_text())
        version = ".".join(found.group(1).replace(" ", "").split(",")) if found else "?"
        out(f"kojihub {version} from {koji_src} on {url}")
        problems = scenario(koji, url, pg_port, work, calls, out=out)
        for line in real.hub_log_errors(work)[:20]:
            out("hub log: " + line)
        return problems, calls
    finally:
        real.tear_down(hub, pg_data, work, keep, out)


@pytest.mark.skipif(os.geteuid() != 0, reason="runs PostgreSQL as user postgres: needs root")
@pytest.mark.timeout(900)
def test_a_module_of_three_components_in_two_batches_builds_on_a_real_kojihub(koji_src):
    problems, calls = run(koji_src, "/tmp/discomy-kojihub-venv")
    assert not problems, problems
    faults = sorted((c["method"], c["fault"].split(":")[0]) for c in calls if "fault" in c)
    assert faults == [], faults


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("koji_src", type=Path)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/discomy-kojihub-venv"))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    problems, calls = run(args.koji_src, args.venv, args.keep)
    print(f"{len(calls)} hub calls; " + (f"{len(problems)} problem(s)" if problems
                                          else "all checks passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
