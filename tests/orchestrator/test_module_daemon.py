"""``discomy serve`` drives module builds like campaigns: a module build recorded by the
service (as the REST API records it) is taken to ready by the daemon's ticks, locally and on
koji (the stand-in), while campaigns go on beside it; a koji message wakes it."""

from __future__ import annotations

import copy
import sys
import threading
import time
from pathlib import Path

import pytest

from discomy.cli.examples import EXAMPLE_MODULE, make_git_repos
from discomy.orchestration.backends.koji import session_for
from discomy.orchestration.config import DEFAULTS
from discomy.orchestration.daemon import Service
from discomy.orchestration.events import RepoDone
from discomy.orchestration.modules.service import get_module_build, submit_module_build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standins"))

from kojihub_xmlrpc import StandinKojiHub  # noqa: E402


@pytest.fixture(scope="module")
def git(tmp_path_factory):
    return make_git_repos(tmp_path_factory.mktemp("git"))


def _config(tmp_path, git):
    config = copy.deepcopy(DEFAULTS)
    config["store"]["url"] = f"sqlite:///{tmp_path / 'serve.sqlite'}"
    config["modules"].update(workdir=str(tmp_path / "modules"),
                             rpms_repository=f"file://{git}/{{name}}.git")
    config["koji"]["poll_seconds"] = 0.05
    return config


def _until(service, predicate, seconds=120):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        service.tick()
        time.sleep(0.02)


def test_the_daemon_takes_a_recorded_local_module_build_to_ready(tmp_path, git, example_repos):
    config = _config(tmp_path, git)
    config["local"]["source_repos"] = [str(example_repos.source_repo),
                                       str(example_repos.binary_repo)]
    config["campaign"]["workdir"] = str(tmp_path / "campaigns")
    service = Service(config)
    (build,) = submit_module_build(service.store, config, modulemd=EXAMPLE_MODULE.read_text())
    # a campaign at the same time: both go on
    campaign = service.start_campaign("corelib", "corelib-1.3-1.el9")
    _until(service, lambda: service.store.modules.get(build["id"]).state == "ready"
           and service.store.campaign(campaign).state == "done")
    got = get_module_build(service.store, build["id"])
    assert all(c["state"] == "done" for c in got["components"])
    # the module's campaign was stepped by its module build only, never as a campaign
    assert build["campaign"] not in service.engines
    assert service.store.modules.live() == []


def test_the_daemon_takes_a_koji_module_build_to_ready_and_a_message_wakes_it(tmp_path, git):
    hub = StandinKojiHub()
    hub.topdir = tmp_path / "koji"
    try:
        config = _config(tmp_path, git)
        config["koji"].update(server=hub.url, poll_seconds=3600.0, retry_backoff_seconds=0.01)
        config["modules"].update(backend="koji", platforms=["el9:el9-build"],
                                 koji_topdir=str(hub.topdir))
        service = Service(config, session_factory=lambda: session_for(server=hub.url))
        (build,) = submit_module_build(service.store, config,
                                       modulemd=EXAMPLE_MODULE.read_text(), scratch=True)
        # with an hour between looks, only messages move it along
        for repo_id in range(1, 41):
            service.tick()
            service.handle(RepoDone(f"repo-{repo_id}", "el9-build", repo_id))
            if service.store.modules.get(build["id"]).state == "ready":
                break
        row = service.store.modules.get(build["id"])
        assert row.state == "ready", (row.state, row.note, row.state_reason)
        assert row.koji_tag.startswith("scratch-module-discomy-demo-1-")
        assert hub.calls.count("build") == 4
    finally:
        hub.stop()


def test_serve_stops_cleanly_with_a_module_build_in_flight(tmp_path, git):
    config = _config(tmp_path, git)
    service = Service(config)
    (build,) = submit_module_build(service.store, config, modulemd=EXAMPLE_MODULE.read_text())
    stop = threading.Event()
    thread = threading.Thread(target=service.serve, args=(stop, 0.05), daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while service.store.modules.get(build["id"]).state != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
