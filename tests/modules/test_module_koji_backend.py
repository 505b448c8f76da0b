"""Module builds on koji, against the koji stand-in (tests/standins: koji's hub API shape,
what its builders would do): tags, inheritance, package list and target set up once; the
components submitted in DAG order with the campaign priorities, each round waiting for its
buildroot repo; the dist repo with modules.yaml; reuse by tagging; restarts that repeat
nothing. The real kojihub runs the same in tests/integration/test_module_real_kojihub.py."""

from __future__ import annotations

import copy
import gzip
import sys
import time
from pathlib import Path

import pytest

from discomy.cli.examples import EXAMPLE_MODULE, EXAMPLES_DIR, commit_file, commit_spec
from discomy.orchestration.backends.koji import session_for
from discomy.orchestration.config import DEFAULTS
from discomy.orchestration.modules.driver import ModuleDriver
from discomy.orchestration.modules.service import get_module_build, submit_module_build
from discomy.orchestration.store import Store
from discomy.planning.modulemd import read_index

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standins"))

from kojihub_xmlrpc import StandinKojiHub  # noqa: E402


@pytest.fixture
def hub(tmp_path):
    hub = StandinKojiHub()
    hub.topdir = tmp_path / "koji"
    yield hub
    hub.stop()


@pytest.fixture
def world(hub, fresh_git, tmp_path):
    commit_file(fresh_git / "discomy-demo.git", "discomy-demo.yaml", EXAMPLE_MODULE.read_text(),
                "stream 1", branch="1")
    config = copy.deepcopy(DEFAULTS)
    config["koji"].update(server=hub.url, retry_backoff_seconds=0.01, poll_seconds=0.01)
    config["modules"].update(backend="koji", platforms=["el9:el9-build"],
                             koji_topdir=str(hub.topdir),
                             rpms_repository=f"file://{fresh_git}/{{name}}.git")
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    return {"hub": hub, "git": fresh_git, "config": config, "store": store,
            "scmurl": f"git+file://{fresh_git}/discomy-demo.git?#1"}


def _driver(world):
    return ModuleDriver(world["store"], world["config"],
                        session=lambda: session_for(server=world["hub"].url),
                        sleep=lambda s: None)


def _submit(world):
    (build,) = submit_module_build(world["store"], world["config"], scmurl=world["scmurl"],
                                   branch="1")
    return build


def test_a_module_builds_in_its_own_tags_and_target_into_a_dist_repo(world):
    hub = world["hub"]
    build = _submit(world)
    row = _driver(world).run(build["id"], poll_seconds=0)
    assert row.state == "ready", row.state_reason
    tag, build_tag = row.koji_tag, row.build_tag
    assert tag == f"module-discomy-demo-1-{row.version}-el9demo"
    # the tags: the platform's arches; the buildroot macros on the build tag, as MBS sets them
    assert hub.tags[tag]["arches"] == hub.tags[build_tag]["arches"] == "x86_64 aarch64"
    extra = hub.tags[build_tag]["extra"]
    assert extra["rpm.macro.dist"] == row.dist
    assert extra["rpm.macro.modularitylabel"] == row.nsvc
    assert extra["mock.package_manager"] == "dnf" and extra["repo_include_all"] is True
    assert [(r["name"], r["priority"]) for r in hub.inheritance[build_tag]] == \
        [(tag, 0), ("el9-build", 10)]
    assert sorted(hub.packages[tag]) == ["appsuite", "corelib", "parsekit", "standalone"]
    assert hub.targets[tag]["build_tag_name"] == build_tag
    assert hub.targets[tag]["dest_tag_name"] == tag
    # the components: in DAG order, with the module's metadata, into the module tag
    builds = [t for t in hub.tasks.values() if t["method"] == "build"]
    order = [t["request"][0].split("/")[-1].split(".git")[0] for t in builds]
    assert order.index("parsekit") > order.index("corelib")
    assert order.index("appsuite") > order.index("parsekit")
    assert {t["request"][1] for t in builds} == {tag}
    assert all(t["request"][2]["custom_user_metadata"]["discomy_module"] == row.nsvc
               for t in builds)
    # the longest chain first: corelib (3 builds to go) before standalone (1)
    priority = {o: t["priority"] for o, t in zip(order, builds)}
    assert priority["corelib"] < priority["standalone"]
    tagged = {nvr for nvr, _ in hub.tagged[tag]}
    assert tagged == {f"{n}-1.0-1{row.dist}" for n in order}
    # the dist repo: one per arch, each with modules.yaml listing the artifacts
    assert row.repo == str(hub.topdir / "repos-dist" / tag / str(row.repo_task + 6000))
    for arch in ("x86_64", "aarch64"):
        (yaml,) = (Path(row.repo) / arch / "repodata").glob("*modules.yaml.gz")
        (stream,) = read_index(gzip.decompress(yaml.read_bytes()).decode()).streams
        assert f"corelib-0:1.0-1{row.dist}.x86_64" in stream.artifacts
        assert f"appsuite-0:1.0-1{row.dist}.src" in stream.artifacts
    got = get_module_build(world["store"], row.id, weburl="https://koji.example.org/koji")
    assert got["components"][0]["task_url"].startswith(
        "https://koji.example.org/koji/taskinfo?taskID=")


def test_a_restarted_driver_sets_up_and_submits_nothing_twice(world):
    hub = world["hub"]
    hub.lose_build_answers = 1          # a build made by the hub whose answer never came
    build = _submit(world)
    first = _driver(world)
    for _ in range(6):
        first.step(build["id"])
    # a new process: fresh driver, engine and backend, same store
    row = _driver(world).run(build["id"], poll_seconds=0)
    assert row.state == "ready", row.state_reason
    assert hub.calls.count("createTag") == 2
    assert hub.calls.count("createBuildTarget") == 1
    assert hub.calls.count("distRepo") == 1
    names = sorted(t["request"][0].split("/")[-1].split(".git")[0]
                   for t in hub.tasks.values() if t["method"] == "build")
    assert names == ["appsuite", "corelib", "parsekit", "standalone"]


def test_a_new_version_tags_the_reused_builds_and_builds_the_rest(world):
    hub = world["hub"]
    first = _driver(world).run(_submit(world)["id"], poll_seconds=0)
    assert first.state == "ready"
    spec = (EXAMPLES_DIR / "parsekit.spec").read_text().replace("Release:        1%",
                                                                 "Release:        2%")
    commit_spec(world["git"] / "parsekit.git", spec, "parsekit", "release 2")
    # a new module version: a new commit of the module itself (versions are commit times,
    # to the second)
    time.sleep(1.1)
    commit_file(world["git"] / "discomy-demo.git", "README", "the example module\n", "readme",
                branch="1")
    second = _driver(world).run(_submit(world)["id"], poll_seconds=0)
    assert second.state == "ready" and second.reused_from == first.id
    reused = {c.name for c in world["store"].modules.components(second.id) if c.reused_from}
    assert reused == {"corelib", "standalone"}
    tagged = {nvr for nvr, _ in hub.tagged[second.koji_tag]}
    assert f"corelib-1.0-1{first.dist}" in tagged and f"standalone-1.0-1{first.dist}" in tagged
    built = [t["request"][0] for t in hub.tasks.values()
             if t["method"] == "build" and t["request"][1] == second.koji_tag]
    assert len(built) == 2


def test_a_hub_that_refuses_a_tag_fails_the_module_with_its_reason(world):
    hub = world["hub"]
    hub.tags["el9-build"]["arches"] = ""
    build = _submit(world)
    row = _driver(world).run(build["id"], poll_seconds=0)
    assert (row.state, row.failure_class) == ("failed", "infrastructure")
    assert "no arches for" in row.state_reason and "[modules] arches" in row.state_reason


def test_a_hub_that_is_away_keeps_the_module_where_it_is(world):
    hub = world["hub"]
    world["config"]["koji"]["retries"] = 1
    build = _submit(world)
    driver = _driver(world)
    driver.step(build["id"])                    # init -> wait
    hub.offline = 50
    assert driver.step(build["id"]) == "waiting"
    row = world["store"].modules.get(build["id"])
    assert row.state == "wait" and row.note.startswith("hub: koji hub unavailable")
    hub.offline = 0
    assert driver.run(build["id"], poll_seconds=0).state == "ready"


def test_a_cancel_stops_the_component_builds_still_running(world):
    from discomy.orchestration.modules.service import cancel_module_build

    hub = world["hub"]
    hub.polls_to_finish = 10 ** 6          # builds that never finish by themselves
    build = _submit(world)
    driver = _driver(world)
    while not [t for t in hub.tasks.values() if t["method"] == "build"]:
        driver.step(build["id"])
    cancel_module_build(world["store"], build["id"], owner="jdoe")
    assert driver.step(build["id"]) == "finished"
    running = [t for t in hub.tasks.values() if t["method"] == "build"]
    assert running and all(t["state"] == 3 for t in running)        # koji's CANCELED
    nodes = world["store"].nodes(build["campaign"])
    assert {n.reason for n in nodes.values() if n.task} == {"the module build was canceled"}
    assert world["store"].modules.get(build["id"]).published_state == "canceled"
