"""Setup advice from host data, discomy-builder-setup and discomy-builder."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from discomy.builder.advisor import recommend
from discomy.builder.drain_cli import main as builder_main
from discomy.placement.hostdata import HostData

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"


def test_memory_bound_small_vm():
    advice = recommend(HostData(cpus=16, memory_mb=8 * 1024, disk_free_mb={"/var/lib/mock": 500_000}))
    assert advice.maxjobs == 2 and advice.instances == 1 and advice.tmpfs_gb is None
    assert "memory is the limit" in advice.reasons[0]
    assert advice.edit_host("b1") == "koji edit-host b1 --capacity 4"


def test_big_server_gets_tmpfs_and_several_instances():
    advice = recommend(HostData(cpus=128, memory_mb=512 * 1024,
                                disk_free_mb={"/var/lib/mock": 4_000_000}))
    assert advice.instances == 2 and advice.maxjobs == 16
    assert advice.tmpfs_gb and "tmpfs_enable" in advice.mock_site_defaults()


def test_a_host_with_room_for_one_buildroot_says_so_in_the_singular():
    advice = recommend(HostData(cpus=4, memory_mb=8 * 1024))
    assert advice.reasons[0].startswith("1 concurrent buildroot (")
    assert recommend(HostData(cpus=8)).reasons[0].startswith("2 concurrent buildroots (")


def test_unknown_resources_do_not_limit():
    assert recommend(HostData(cpus=16)).maxjobs == 4


def test_setup_non_interactive_writes_the_snippets(tmp_path):
    out = tmp_path / "advice.txt"
    proc = subprocess.run([sys.executable, "-m", "discomy.builder.setup_cli", "--non-interactive",
                           "--output", str(out), "--hostname", "b1.example.org",
                           "--root", str(HOSTS / "big-server")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "maxjobs =" in text and "koji edit-host b1.example.org --capacity" in text


def test_drain_wait_returns_when_the_last_task_finished(tmp_path, capsys):
    flag, state = tmp_path / "drain", tmp_path / "state.json"
    state.write_text(json.dumps({"tasks": [{"id": 1, "method": "buildArch", "weight": 1.5}]}))
    threading.Timer(0.5, lambda: state.write_text(json.dumps({"tasks": []}))).start()
    started = time.monotonic()
    assert builder_main(["drain", "--wait", "--flag", str(flag), "--state", str(state)]) == 0
    assert flag.exists() and time.monotonic() - started >= 0.4
    builder_main(["status", "--flag", str(flag), "--state", str(state)])
    assert "draining (discomy-builder drain); 0 running" in capsys.readouterr().out
    assert builder_main(["undrain", "--flag", str(flag)]) == 0 and not flag.exists()
    assert "taking tasks again" in capsys.readouterr().out


def test_status_shows_both_switches_and_undrain_names_the_one_left(tmp_path, capsys):
    flag, state = tmp_path / "drain", tmp_path / "state.json"
    flag.touch()
    state.write_text(json.dumps({"host": "b1", "drain": ["hub", "builder"], "tasks": [
        {"id": 8, "weight": 0.2, "waiting": True}, {"id": 9, "weight": 19.5}]}))
    builder_main(["status", "--flag", str(flag), "--state", str(state)])
    out = capsys.readouterr().out
    assert out.startswith("draining (koji drain-host and discomy-builder drain); 2 running")
    assert "task 8 weight 0.2 (waiting)" in out and "task 9 weight 19.5" in out
    builder_main(["undrain", "--flag", str(flag), "--state", str(state)])
    assert "b1 is still drained on the hub: run `koji undrain-host b1`" in capsys.readouterr().out


def test_drain_wait_gives_up_after_its_timeout(tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"tasks": [{"id": 1}]}))
    assert builder_main(["drain", "--wait", "--timeout", "0.1", "--flag", str(tmp_path / "d"),
                         "--state", str(state)]) == 1


def test_small_builder_is_told_one_buildroot_never_zero():
    advice = recommend(HostData(cpus=2, memory_mb=2 * 1024))
    assert advice.maxjobs == 1
    assert advice.reasons[0].startswith("1 concurrent buildroot (")
    assert "allows 0" not in advice.reasons[0] and "cpus allows 1" in advice.reasons[0]


def test_setup_names_the_builder_by_hostname_when_the_resolver_says_localhost(monkeypatch):
    from discomy.builder import setup_cli as builder_setup

    monkeypatch.setattr(builder_setup.socket, "getfqdn", lambda: "localhost")
    monkeypatch.setattr(builder_setup.socket, "gethostname", lambda: "b7")
    assert builder_setup.host_name() == "b7"
    monkeypatch.setattr(builder_setup.socket, "getfqdn", lambda: "b7.example.org")
    assert builder_setup.host_name() == "b7.example.org"
