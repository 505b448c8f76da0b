"""The module-build service the REST API calls, on SQLite and on a real PostgreSQL: submit
from real git repositories (an SCM URL and a branch, or an uploaded modulemd), list with
filters and pages, get with components, cancel; bad input is a 400 of one line, a conflict a
409, an unknown build a 404, and every answer is JSON."""

from __future__ import annotations

import copy
import json
import subprocess

import pytest

from discomy.cli.examples import EXAMPLE_MODULE, commit_file, make_git_repos
from discomy.orchestration.config import DEFAULTS
from discomy.orchestration.modules.driver import ModuleDriver
from discomy.orchestration.modules.service import (
    ModuleNotFound,
    ModuleRequestError,
    cancel_module_build,
    get_module_build,
    list_module_builds,
    submit_module_build,
)
from discomy.orchestration.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'discomy.sqlite'}")
    return Store(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture(scope="module")
def git(tmp_path_factory):
    """The example packages' repositories, and the example module's own (branch 1)."""
    d = make_git_repos(tmp_path_factory.mktemp("git"))
    commit_file(d / "discomy-demo.git", "discomy-demo.yaml", EXAMPLE_MODULE.read_text(),
                "discomy-demo: stream 1", branch="1")
    return d


@pytest.fixture
def config(git, tmp_path):
    c = copy.deepcopy(DEFAULTS)
    c["modules"]["workdir"] = str(tmp_path / "modules")
    c["modules"]["rpms_repository"] = f"file://{git}/{{name}}.git"
    return c


def _rev(repo, ref):
    return subprocess.run(["git", "-C", str(repo), "rev-parse", ref], capture_output=True,
                          text=True, check=True).stdout.strip()


def test_a_module_is_submitted_from_its_git_repository_and_branch(store, config, git):
    scmurl = f"git+file://{git}/discomy-demo.git?#1"
    (build,) = submit_module_build(store, config, scmurl=scmurl, branch="1", owner="jdoe")
    json.dumps(build)
    assert build["state"] == "init" and build["owner"] == "jdoe"
    assert (build["name"], build["stream"], build["context"]) == ("discomy-demo", "1", "el9demo")
    assert build["commit"] == _rev(git / "discomy-demo.git", "1")
    assert build["version"].startswith("9") and len(build["version"]) == 15
    assert build["buildrequires"] == {"platform": "el9"} and build["order"] == "dag"
    assert build["components_total"] == 4 and build["component_states"] == {"planned": 4}
    got = get_module_build(store, build["id"])
    json.dumps(got)
    by_name = {c["name"]: c for c in got["components"]}
    assert by_name["corelib"]["commit"] == _rev(git / "corelib.git", "main")
    assert by_name["corelib"]["scmurl"] == f"git+file://{git}/corelib.git?#" + \
        by_name["corelib"]["commit"]
    assert by_name["appsuite"]["buildafter"] == ["parsekit"]
    assert [b["batch"] for b in got["batches"]] == [1, 2, 3]
    # the module build's own modulemd names each component's commit
    assert by_name["parsekit"]["commit"] in got["modulemd"] and got["modulemd_final"] is None
    # the same again, while it runs: that build, not another
    (again,) = submit_module_build(store, config, scmurl=scmurl, branch="1")
    assert again["id"] == build["id"]
    assert list_module_builds(store)["total"] == 1


def test_a_submitted_module_is_driven_to_ready_and_then_refused_as_built(store, config, git):
    (build,) = submit_module_build(store, config, scmurl=f"file://{git}/discomy-demo.git",
                                   branch="1")
    row = ModuleDriver(store, config, sleep=lambda s: None).run(build["id"], poll_seconds=0)
    assert row.state == "ready", row.state_reason
    got = get_module_build(store, build["id"])
    assert got["completed_at"] and got["repo"] and got["modulemd_final"]
    assert all(c["state"] == "done" and c["nvr"] and c["artifacts"] for c in got["components"])
    with pytest.raises(ModuleRequestError) as err:
        submit_module_build(store, config, scmurl=f"file://{git}/discomy-demo.git", branch="1")
    assert err.value.status == 409 and "built already" in str(err.value)


def test_lists_are_filtered_and_paged_newest_first(store, config):
    text = EXAMPLE_MODULE.read_text()
    ids = [submit_module_build(store, config, modulemd=text, timestamp=f"2026120{i}120000",
                               owner=owner)[0]["id"]
           for i, owner in ((1, "ann"), (2, "bob"), (3, "ann"))]
    cancel_module_build(store, ids[1])
    page = list_module_builds(store, per_page=2)
    assert [b["id"] for b in page["items"]] == [ids[2], ids[1]]
    assert (page["total"], page["pages"], page["page"]) == (3, 2, 1)
    assert [b["id"] for b in list_module_builds(store, page=2, per_page=2)["items"]] == [ids[0]]
    assert list_module_builds(store, page=9)["items"] == []
    assert [b["id"] for b in list_module_builds(store, owner="ann")["items"]] == [ids[2], ids[0]]
    assert [b["id"] for b in list_module_builds(store, state="canceled")["items"]] == [ids[1]]
    assert list_module_builds(store, state=["init", "canceled"], name="discomy-demo")["total"] == 3
    assert list_module_builds(store, stream="nosuch")["total"] == 0
    assert list_module_builds(store, scratch=False)["total"] == 3


@pytest.mark.parametrize("query, words", [
    ({"page": 0}, ["page must be a whole number from 1"]),
    ({"page": "2"}, ["page must be"]),
    ({"per_page": 101}, ["per_page must be a whole number from 1 to 100"]),
    ({"per_page": True}, ["per_page must be"]),
    ({"state": "building"}, ["unknown state 'building'", "init, wait, build"]),
    ({"colour": "red"}, ["unknown filter 'colour'"]),
    ({"scratch": "yes"}, ["scratch must be true or false"]),
    ({"name": "x" * 700}, ["name must be printable text of at most 600"]),
    ({"owner": "a\x00b"}, ["owner must be printable text"]),
    ({"state": 7}, ["state must be a state or a list"]),
    ({"page": 2 ** 62, "per_page": 100}, ["beyond any list"]),
])
def test_a_bad_list_query_is_a_400(store, query, words):
    with pytest.raises(ModuleRequestError) as err:
        list_module_builds(store, **query)
    assert err.value.status == 400 and all(w in str(err.value) for w in words), str(err.value)


def test_cancel_stops_a_build_once_and_unknown_builds_are_404(store, config):
    (build,) = submit_module_build(store, config, modulemd=EXAMPLE_MODULE.read_text())
    canceled = cancel_module_build(store, build["id"], owner="jdoe")
    assert canceled["state"] == "canceled" and canceled["state_reason"] == "canceled by jdoe"
    assert store.campaign(build["campaign"]).state == "cancelled"
    with pytest.raises(ModuleRequestError) as err:
        cancel_module_build(store, build["id"])
    assert err.value.status == 409
    # the driver announces it and has nothing more to do
    driver = ModuleDriver(store, config)
    assert driver.step(build["id"]) == "finished"
    assert store.modules.get(build["id"]).published_state == "canceled"
    for bad in (999, 0, -1, "1", None, 2 ** 70):
        with pytest.raises(ModuleNotFound):
            get_module_build(store, bad)
        with pytest.raises(ModuleNotFound):
            cancel_module_build(store, bad)


def test_a_canceled_build_submitted_again_resumes(store, config, git):
    scmurl = f"file://{git}/discomy-demo.git?#1"
    (build,) = submit_module_build(store, config, scmurl=scmurl, branch="1")
    cancel_module_build(store, build["id"])
    (again,) = submit_module_build(store, config, scmurl=scmurl, branch="1")
    assert again["id"] == build["id"] and again["state"] == "wait"
    assert again["state_reason"] == "resubmitted: 0 of 4 components kept"
    assert store.campaign(build["campaign"]).state == "running"


@pytest.mark.parametrize("kwargs, words", [
    (dict(scmurl="file:///x/discomy-demo.git"), ["needs a branch"]),
    (dict(scmurl="ext::sh -c touch% /tmp/discomy-pwned", branch="1"),
     ["is not a git repository URL"]),
    (dict(scmurl="--upload-pack=touch /tmp/discomy-pwned", branch="1"),
     ["is not a git repository URL"]),
    (dict(scmurl="{git}/discomy-demo.git", branch="1"), ["is not a git repository URL"]),
    (dict(scmurl="file://{git}/discomy-demo.git", branch="--help"),
     ["is not a git branch, tag or commit"]),
    (dict(scmurl="file://{git}/discomy-demo.git", branch="2"), ["cannot fetch 2"]),
    (dict(scmurl="file://{git}/corelib.git", branch="main"), ["has no corelib.yaml at main"]),
    (dict(scmurl="file://{git}/nosuch.git", branch="1"), ["cannot fetch"]),
    (dict(modulemd="document: modulemd\nversion: 2\ndata: [", filename="x.yaml"),
     ["x.yaml: ", "Parser error", "[line "]),
    (dict(modulemd=EXAMPLE_MODULE.read_text(), backend="koji"),
     ["only as a scratch module build on koji"]),
    (dict(modulemd=EXAMPLE_MODULE.read_text(), backend="koji", scratch=True),
     ["platform el9, which has no koji tag", "[modules] platforms"]),
    (dict(modulemd=EXAMPLE_MODULE.read_text().replace("platform: el9",
                                                      "platform: el9\n      buildrequires:\n"
                                                      "        llvm: [rolling]")),
     ["buildrequires llvm:rolling, which has no ready build on local"]),
    (dict(modulemd=EXAMPLE_MODULE.read_text(), contexts=["other"]), ["no context other"]),
    (dict(modulemd=EXAMPLE_MODULE.read_text(), reuse="some"), ["reuse must be one of"]),
    (dict(modulemd=EXAMPLE_MODULE.read_text(), scmurl="file:///x"), ["give either"]),
    (dict(modulemd="x" * (5 << 20)), ["at most 4 MiB"]),
    (dict(modulemd=EXAMPLE_MODULE.read_text(), rpms_repository=""),
     ["component appsuite names no repository"]),
    (dict(modulemd=EXAMPLE_MODULE.read_text(), owner="j\x00doe"), ["owner must be printable"]),
    (dict(scmurl="file:///x\ud800.git", branch="1"), ["scmurl must be printable text"]),
    (dict(modulemd=EXAMPLE_MODULE.read_text(), filename="x\ny.yaml"),
     ["filename must be printable"]),
    (dict(modulemd=EXAMPLE_MODULE.read_text(), contexts="el9demo"), ["contexts must be a list"]),
    (dict(modulemd=EXAMPLE_MODULE.read_text().replace("Discomy's", "\ud800")),
     ["not UTF-8 text"]),
])
def test_a_bad_submission_is_a_400_of_one_line_and_records_nothing(store, config, git, kwargs,
                                                                   words, tmp_path):
    kwargs = {k: v.replace("{git}", str(git)) if isinstance(v, str) else v
              for k, v in kwargs.items()}
    with pytest.raises(ModuleRequestError) as err:
        submit_module_build(store, config, **kwargs)
    message = str(err.value)
    assert err.value.status == 400 and "\n" not in message
    assert all(w in message for w in words), message
    assert list_module_builds(store)["total"] == 0
    assert not (tmp_path.parent / "discomy-pwned").exists()


def test_scratch_builds_never_clash_and_are_named_apart_in_koji(store, config):
    config["modules"]["platforms"] = ["el9:el9-build"]
    text = EXAMPLE_MODULE.read_text()
    a, = submit_module_build(store, config, modulemd=text, backend="koji", scratch=True,
                             timestamp="20261204120000")
    b, = submit_module_build(store, config, modulemd=text, backend="koji", scratch=True,
                             timestamp="20261204120000")
    assert a["id"] != b["id"] and a["nsvc"] == b["nsvc"]
    assert a["koji_tag"] == f"scratch-module-discomy-demo-1-920261204120000-el9demo-{a['id']}"
    assert a["build_tag"] == a["koji_tag"] + "-build" and a["target"] == a["koji_tag"]
    assert a["dist"].startswith(f".module+el9+{a['id']}+")
    row = store.modules.get(a["id"])
    assert json.loads(row.parents) == ["el9-build"] and row.nsvc_key is None


def test_a_cancel_that_races_the_driver_stands(store, config):
    (build,) = submit_module_build(store, config, modulemd=EXAMPLE_MODULE.read_text())
    driver = ModuleDriver(store, config)
    stale = store.modules.get(build["id"])          # what the driver read: init
    cancel_module_build(store, build["id"])         # the API, meanwhile
    driver._set_state(stale, "wait", "making the buildroot")
    row = store.modules.get(build["id"])
    assert (row.state, row.state_reason) == ("canceled", "canceled")
