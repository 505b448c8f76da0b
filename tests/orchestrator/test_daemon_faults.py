"""``discomy serve`` under faults, with real parts: the daemon as its own process,
a real PostgreSQL stopped and started under it, a full filesystem under its SQLite
store, a store written by a newer version, a driver that is not installed.

Local campaigns (rpmbuild and createrepo_c over the example packages) make the
builds; "built once" is counted in the backend's own records, one result file per
submission."""

from __future__ import annotations

import copy
import errno
import logging
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from discomy.orchestration.config import DEFAULTS
from discomy.orchestration.events import BuildStateChanged
from discomy.orchestration.daemon import Service
from discomy.orchestration.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "messaging"))

from samples import wait_until  # noqa: E402

NODES = {"parsekit", "alpha", "beta", "appsuite"}       # what a change of corelib rebuilds


def config_for(tmp_path, store_url, example_repos) -> dict:
    config = copy.deepcopy(DEFAULTS)
    config["store"]["url"] = store_url
    config["local"]["source_repos"] = [str(r) for r in example_repos.repos]
    config["campaign"]["workdir"] = str(tmp_path / "work")
    config["plan"]["cache_dir"] = str(tmp_path / "cache")
    config["koji"]["poll_seconds"] = 0.2         # a failed step is tried again this soon
    return config


def write_toml(path: Path, config: dict) -> Path:
    lines = [f'[store]\nurl = "{config["store"]["url"]}"',
             f'[campaign]\nworkdir = "{config["campaign"]["workdir"]}"',
             f'[plan]\ncache_dir = "{config["plan"]["cache_dir"]}"',
             f'[local]\nsource_repos = {list(config["local"]["source_repos"])!r}'.replace(
                 "'", '"'),
             f'[koji]\npoll_seconds = {config["koji"]["poll_seconds"]}']
    path.write_text("\n".join(lines) + "\n")
    return path


def serve(config_path: Path, log: Path, tick="0.1") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "discomy", "serve", "--config",
                             str(config_path), "--tick", tick],
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def logged(log: Path, text: str) -> bool:
    return text in log.read_text(errors="replace")


def results(tmp_path, campaign_id) -> list:
    """The backend's record of every submission of the campaign: one file each."""
    return sorted((tmp_path / "work" / f"campaign-{campaign_id}" / "results").glob("*.json"))


def children(pid: int) -> list:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# -- the command line ----------------------------------------------------------------------

@pytest.mark.parametrize("tick", ["0", "-1", "nan", "inf", "soon"])
def test_serve_refuses_a_tick_that_would_spin_or_never_come(tick):
    proc = subprocess.run([sys.executable, "-m", "discomy", "serve", "--tick", tick],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1].startswith("discomy serve: error: argument --tick: ")


def test_a_store_whose_driver_is_not_installed_is_one_line(capsys):
    from discomy.cli import main

    assert main(["campaigns", "--store", "mysql://discomy@db.example.org/discomy"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == ("discomy campaigns: error: cannot open the store (--store): "
                    "mysql://discomy@db.example.org/discomy: the mysql driver is not installed "
                    "(No module named 'MySQLdb')")


def test_a_store_written_by_a_newer_discomy_is_one_line_for_every_command(tmp_path, capsys):
    from discomy.cli import main

    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    Store(url).engine.dispose()
    with sqlite3.connect(tmp_path / "state.sqlite") as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
    assert main(["campaigns", "--store", url]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "its schema is at revision 0099, which this discomy does not know" in line
    config = tmp_path / "orchestrator.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    proc = subprocess.run([sys.executable, "-m", "discomy", "serve", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith("discomy serve: error: the store: sqlite:///")
    assert "its schema is at revision 0099" in line


def test_serve_waits_for_a_store_that_is_down_and_goes_on_once_it_is_up(
        tmp_path, postgres_server, example_repos):
    config = config_for(tmp_path, postgres_server.url, example_repos)
    path = write_toml(tmp_path / "orchestrator.toml", config)
    log = tmp_path / "serve.log"
    postgres_server.stop()
    proc = serve(path, log)
    try:
        assert wait_until(lambda: logged(log, "the store is unavailable"), 30), log.read_text()
        assert proc.poll() is None
        postgres_server.start()
        assert wait_until(lambda: logged(log, "discomy serve: store postgresql+psycopg://"),
                          60), log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log.read_text()


# -- SIGTERM -------------------------------------------------------------------------------

def test_sigterm_finishes_the_step_in_hand_starts_no_other_and_exits_0(tmp_path, example_repos):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    config = config_for(tmp_path, url, example_repos)
    service = Service(config)
    first = service.start_campaign("corelib", "corelib-1.3-1.el9")
    second = service.start_campaign("parsekit", "parsekit-2.1-1.el9")
    service.store.engine.dispose()
    path = write_toml(tmp_path / "orchestrator.toml", config)
    log = tmp_path / "serve.log"
    proc = serve(path, log)
    try:
        # the first campaign's step builds parsekit: stop the daemon in the middle of it
        assert wait_until(lambda: any("rpmbuild" in cmdline(c) for c in children(proc.pid)),
                          60), log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    store = Store(url)
    # the step in hand was finished: its build is recorded with its task ...
    parsekit = store.nodes(first)["parsekit"]
    assert parsekit.state == "building" and parsekit.task is not None
    assert len(results(tmp_path, first)) == 1
    # ... and no step of the other campaign started after the signal
    assert {n.state for n in store.nodes(second).values()} <= {"planned", "waiting-deps"}
    assert results(tmp_path, second) == []
    assert logged(log, "SIGTERM: stopping after the step in hand")
    # the next life goes on from there and builds nothing twice
    proc = serve(path, log)
    try:
        assert wait_until(lambda: [c.state for c in store.campaigns()] == ["done", "done"],
                          180), log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(results(tmp_path, first)) == len(store.nodes(first)) == 4
    assert all(n.attempts == 1 for n in store.nodes(first).values())


# -- a full disk -----------------------------------------------------------------------------

@pytest.fixture
def small_filesystem(tmp_path):
    """A 4 MiB tmpfs, mounted for the test and unmounted after it."""
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (the test needs root): {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem has no room left."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_under_the_store_fails_the_step_whole_and_it_is_retried_once_there_is_room(
        tmp_path, example_repos, small_filesystem, caplog):
    from discomy.orchestration.listeners import TryLater

    store_file = small_filesystem / "state.sqlite"
    service = Service(config_for(tmp_path, f"sqlite:///{store_file}", example_repos))
    campaign = service.start_campaign("corelib", "corelib-1.3-1.el9")

    def tick():
        service.due.clear()            # every campaign is due now
        service.tick()

    assert wait_until(lambda: tick() or service.store.nodes(campaign)["parsekit"].state == "done",
                      60)
    before = service.store.nodes(campaign)
    built = results(tmp_path, campaign)
    filler = fill(small_filesystem)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="discomy.orchestration.daemon"):
        for _ in range(3):
            tick()
    # every step failed as a whole: nothing of it is in the store, nothing more was built
    failures = [r.getMessage() for r in caplog.records if "step failed" in r.getMessage()]
    assert len(failures) == 3 and all("database or disk is full" in m for m in failures)
    assert all(r.exc_info is None for r in caplog.records)         # a line, not a traceback
    assert service.store.nodes(campaign) == before
    assert results(tmp_path, campaign) == built
    # a koji message meanwhile is given back to the broker, not rejected
    with pytest.raises(TryLater, match="database or disk is full"):
        service.handle(BuildStateChanged("m-full", 7, "zlib", "1.3", "1.el9", 0, 1))
    assert not (small_filesystem / "state.sqlite-journal").exists()
    with sqlite3.connect(store_file) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    filler.unlink()
    assert wait_until(lambda: tick() or service.store.campaign(campaign).state == "done", 120)
    service.handle(BuildStateChanged("m-full", 7, "zlib", "1.3", "1.el9", 0, 1))
    assert all(n.state == "done" and n.attempts == 1
               for n in service.store.nodes(campaign).values())
    assert len(results(tmp_path, campaign)) == 4


# -- PostgreSQL restarted --------------------------------------------------------------------

def test_postgresql_restarted_mid_campaign_the_daemon_goes_on_and_builds_each_node_once(
        tmp_path, example_repos, postgres_server, monkeypatch, caplog):
    from discomy.orchestration.backends.local import LocalBackend

    service = Service(config_for(tmp_path, postgres_server.url, example_repos))
    campaign = service.start_campaign("corelib", "corelib-1.3-1.el9")
    submit, restarts = LocalBackend.submit, []

    def submit_then_lose_the_database(backend, name, priority=0):
        task = submit(backend, name, priority)
        if name == "alpha" and not restarts:
            # built, and the database goes before the task is recorded
            postgres_server.stop()
            restarts.append(threading.Timer(3.0, postgres_server.start))
            restarts[0].start()
        return task

    monkeypatch.setattr(LocalBackend, "submit", submit_then_lose_the_database)
    stop = threading.Event()
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(service.serve(stop, 0.1)),
                              daemon=True)
    with caplog.at_level(logging.WARNING, logger="discomy.orchestration.daemon"):
        thread.start()
        try:
            assert wait_until(lambda: restarts and postgres_server.pid is not None and
                              service.store.campaign(campaign).state == "done", 180)
            assert thread.is_alive()
        finally:
            stop.set()
            thread.join(60)
            for timer in restarts:
                timer.join()
    assert outcome == [0]
    nodes = service.store.nodes(campaign)
    assert set(nodes) == NODES and all(n.state == "done" for n in nodes.values())
    assert all(n.attempts == 1 for n in nodes.values())
    assert len(results(tmp_path, campaign)) == 4          # no build lost, none twice
    assert any("the store is unavailable" in r.getMessage() for r in caplog.records)
