"""The kojid plugin driving koji's real TaskManager and genMockConfig.

The hub is a small in-memory object answering the calls TaskManager and the
plugin make, shaped like kojihub's answers. The probe reads the recorded
16-cpu builder tree (tests/data/hosts/builder16-idle).
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import koji
import koji.daemon
import koji.tasks
import pytest

from discomy.builder.drain_cli import main as builder_main
from discomy.placement.hostdata import from_host_data

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"


class HostCalls:
    def __init__(self):
        self.refused = []
        self.opened = []
        self.updates = []          # (task_load, ready, data)
        self.assigned = []         # tasks host.getTasks returns
        self.host_tasks = []       # host.getHostTasks rows
        self.enabled = True

    def getID(self):
        return 7

    def getHost(self):
        return {"id": 7, "name": "b1", "enabled": self.enabled, "capacity": 16.0,
                "arches": "x86_64"}

    def updateHost(self, task_load, ready, data=None):
        self.updates.append((task_load, ready, data))

    def getTasks(self):
        return list(self.assigned)

    def getHostTasks(self):
        return list(self.host_tasks)

    def refuseTask(self, task_id, soft=True, msg=""):
        self.refused.append((task_id, soft, msg))
        self.assigned = [t for t in self.assigned if t["id"] != task_id]

    def openTask(self, task_id):
        self.opened.append(task_id)
        return None          # the stock path then stops: nothing is forked

    def closeTask(self, task_id, response):
        self.closed = (task_id, koji.xmlrpcplus.loads(response)[0][0])


class DiscomyCalls:
    def __init__(self):
        self.drained = False
        self.calls = {}
        self.missing = False
        self.refuse = False      # fitTask's verdict: False = a hub without fitTask

    def _count(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.missing:
            raise koji.GenericError(f"Invalid method: discomy.{name}")

    def getDrainState(self, host):
        self._count("getDrainState")
        return {"host_id": host, "name": "b1", "drained": self.drained,
                "draining": False, "drain": ["hub"] if self.drained else []}

    def fitTask(self, task_id, host):
        if self.refuse is False:
            raise koji.GenericError("Invalid method: discomy.fitTask")
        self._count("fitTask")
        return {"task_id": task_id, "host": "b1", "requirements": {}, "refuse": self.refuse}


class Session:
    """The hub calls TaskManager and the plugin make, answering like kojihub does."""

    def __init__(self, srpm="tasks/1/llvm-17.0.6-1.el9.src.rpm", constraints_extra=None):
        self.host = HostCalls()
        self.discomy = DiscomyCalls()
        self.srpm = srpm
        self.extra = {"discomy.constraints": constraints_extra or {}}

    def getSessionInfo(self):
        return {"start_ts": 0}

    def getTaskInfo(self, task_id, request=False):
        return {"id": task_id, "request": [self.srpm, "el9-build", "x86_64", True, {}]}

    def getBuildConfig(self, tag):
        return {"name": tag, "extra": self.extra}


def assigned(task_id, method="buildArch"):
    return {"id": task_id, "method": method, "state": koji.TASK_STATES["ASSIGNED"],
            "host_id": 7}


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    cross = tmp_path / "cross.yaml"
    cross.write_text("x86_64:\n  aarch64:\n    add: [qemu-user-static-aarch64]\n")
    conf = tmp_path / "discomy.conf"
    conf.write_text(f"[discomy]\ndrain_flag = {tmp_path / 'drain'}\n"
                    f"state_file = {tmp_path / 'state.json'}\nbench_cache =\n"
                    f"paths = {tmp_path}\ncross_config = {cross}\n")
    monkeypatch.setenv("DISCOMY_BUILDER_CONFIG", str(conf))
    monkeypatch.setenv("DISCOMY_PROBE_ROOT", str(HOSTS / "builder16-idle"))
    # koji's own readyForTask checks the real load average; keep it out of these tests
    monkeypatch.setattr(koji.daemon.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    tm_class = koji.daemon.TaskManager
    names = ("_get_host_data", "readyForTask", "getNextTask", "takeTask", "runTask")
    stock = {name: getattr(tm_class, name) for name in names}
    stock_gen = koji.genMockConfig
    sys.modules.pop("discomy_builder", None)
    module = importlib.import_module("discomy_builder")
    module.TMP = tmp_path
    yield module
    for name, fn in stock.items():
        setattr(tm_class, name, fn)
    koji.genMockConfig = stock_gen
    sys.modules.pop("discomy_builder", None)


class BuildArch(koji.tasks.BaseTaskHandler):
    """A buildArch handler that writes a mock config the way kojid's BuildRoot does."""

    Methods = ["buildArch"]
    _taskWeight = 1.5

    def handler(self, *args):
        return koji.genMockConfig("el9-build-1-1", "x86_64", managed=True, repoid=1,
                                  tag_name="el9-build", topurl="http://koji.example.org/kojifiles")


def manager(session, tmp_path, maxjobs=4):
    options = SimpleNamespace(maxjobs=maxjobs, workdir=str(tmp_path / "work"),
                              mockdir=str(tmp_path), minspace=1)
    tm = koji.daemon.TaskManager(options, session)
    tm.handlers = {"buildArch": BuildArch}
    return tm


def mock_jobs(config):
    opts = {"config_opts": {"macros": {}, "plugin_conf": {}}}
    exec(config, opts)          # as mock reads it
    return opts["config_opts"]["macros"].get("%_smp_build_ncpus")


# -- host data -----------------------------------------------------------------------

def test_host_data_keeps_kojis_keys_and_adds_the_probe(plugin, tmp_path):
    tm = manager(Session(), tmp_path)
    data = tm._get_host_data()
    assert data["maxjobs"] == 4 and data["methods"] == ["buildArch"]
    host, warnings = from_host_data(data)
    assert host.cpus == 16 and host.memory_mb == 64000 and not host.draining and warnings == []
    assert json.loads((plugin.TMP / "state.json").read_text())["tasks"] == []


# -- drain ---------------------------------------------------------------------------

def test_a_draining_builder_says_not_ready_and_hands_back_assigned_tasks_at_once(plugin, tmp_path):
    (plugin.TMP / "drain").write_text("")
    session = Session()
    session.host.assigned = [assigned(5)]
    tm = manager(session, tmp_path)
    assert tm.getNextTask() is False
    load, ready, data = session.host.updates[-1]
    assert ready is False and data["discomy"]["draining"] is True
    assert session.host.refused == [(5, True, "draining (discomy-builder drain)")]
    assert session.host.opened == []


def test_the_hubs_drain_is_honoured_and_shown_by_discomy_builder(plugin, tmp_path, capsys):
    session = Session()
    session.discomy.drained = True
    session.host.assigned = [assigned(5)]
    tm = manager(session, tmp_path)
    assert tm.getNextTask() is False
    assert session.host.updates[-1][1] is False
    assert session.host.refused == [(5, True, "draining (koji drain-host)")]
    # the host data carries the builder's own flag only; the hub knows its own
    assert session.host.updates[-1][2]["discomy"]["draining"] is False
    state = ["--flag", str(plugin.TMP / "drain"), "--state", str(plugin.TMP / "state.json")]
    builder_main(["status"] + state)
    assert capsys.readouterr().out.startswith("draining (koji drain-host); 0 running")
    builder_main(["undrain"] + state)
    assert "b1 is still drained on the hub: run `koji undrain-host b1`" in capsys.readouterr().out


def test_a_disabled_host_hands_back_what_was_assigned_before(plugin, tmp_path):
    session = Session()
    session.host.enabled = False
    session.host.assigned = [assigned(5)]
    tm = manager(session, tmp_path)
    assert tm.getNextTask() is False
    assert session.host.refused == [(5, True, "host disabled (koji disable-host)")]


def test_a_full_builder_keeps_its_assigned_tasks_for_later(plugin, tmp_path):
    session = Session()
    session.host.assigned = [assigned(5)]
    tm = manager(session, tmp_path, maxjobs=1)
    tm.tasks = {3: {"id": 3, "weight": 1.5, "waiting": False}}
    assert tm.getNextTask() is False
    assert session.host.refused == [] and session.host.updates[-1][1] is False


def test_a_hub_without_the_drain_call_is_asked_again_only_later(plugin, tmp_path):
    session = Session()
    session.discomy.missing = True
    session.host.assigned = [assigned(5)]
    tm = manager(session, tmp_path)
    tm.getNextTask()
    assert session.host.opened == [5] and session.host.refused == []
    tm.getNextTask()
    assert session.discomy.calls == {"getDrainState": 1}


def test_a_flag_set_after_the_ready_check_refuses_the_task_instead_of_sitting_on_it(plugin,
                                                                                   tmp_path):
    session = Session()
    tm = manager(session, tmp_path)
    (plugin.TMP / "drain").write_text("")
    assert tm.takeTask(assigned(6)) is False
    assert session.host.refused == [(6, True, "draining (discomy-builder drain)")]
    assert session.host.opened == []


# -- refusals ------------------------------------------------------------------------

def test_a_task_the_host_cannot_meet_is_refused_softly_with_the_reason(plugin, tmp_path):
    session = Session(constraints_extra={"llvm*": {"memory": "100T"}})
    tm = manager(session, tmp_path)
    assert tm.takeTask(assigned(6)) is False
    (task_id, soft, msg), = session.host.refused
    assert task_id == 6 and soft and "needs 100 TiB memory" in msg and "package llvm" in msg


def test_the_hubs_verdict_refuses_what_the_tag_alone_would_let_through(plugin, tmp_path):
    # the hub's [constraints] defaults and the host's policy are known on the hub only
    session = Session()
    session.discomy.refuse = "b1: needs 128 GiB memory, has 62.5 GiB (package llvm)"
    tm = manager(session, tmp_path)
    assert tm.takeTask(assigned(6)) is False
    assert session.host.refused == [(6, True, session.discomy.refuse)]


def test_what_the_hub_placed_is_taken_even_if_the_probe_alone_would_refuse(plugin, tmp_path):
    session = Session(constraints_extra={"llvm*": {"memory": "100T"}})
    session.discomy.refuse = None
    tm = manager(session, tmp_path)
    tm.takeTask(assigned(7))
    assert session.host.refused == [] and session.host.opened == [7]
    assert session.discomy.calls == {"fitTask": 1}


def test_only_buildarch_tasks_are_checked(plugin, tmp_path):
    session = Session()
    session.discomy.refuse = "never asked"
    tm = manager(session, tmp_path)
    tm.handlers["sleep"] = type("Sleep", (BuildArch,), {"Methods": ["sleep"]})
    tm.takeTask(assigned(8, method="sleep"))
    assert session.discomy.calls == {} and session.host.opened == [8]


def test_a_task_that_fits_goes_to_koji_stock_path(plugin, tmp_path):
    session = Session(constraints_extra={"llvm*": {"memory": "1M"}, "kernel": {"memory": "100T"}})
    tm = manager(session, tmp_path)
    tm.takeTask(assigned(7))
    assert session.host.refused == [] and session.host.opened == [7]


# -- buildroots ----------------------------------------------------------------------

def test_a_heavy_buildarch_alone_gets_every_cpu_not_counted_against_itself(plugin, tmp_path,
                                                                            caplog):
    session = Session()
    tm = manager(session, tmp_path)
    # kojid's loop already lists the task (and its waiting parent) when the fork sizes it
    session.host.host_tasks = [{"id": 9, "weight": 19.5, "waiting": False},
                               {"id": 8, "weight": 0.2, "waiting": True}]
    tm.tasks = {row["id"]: dict(row) for row in session.host.host_tasks}
    tm._get_host_data()
    handler = BuildArch(9, "buildArch", ["x.src.rpm", "el9-build", "x86_64", True, {}],
                        session, tm.options)
    with caplog.at_level(logging.INFO, logger="koji.plugin.discomy_builder"):
        tm.runTask(handler)
    task_id, config = session.host.closed
    assert task_id == 9 and mock_jobs(config) == "16"
    assert (plugin.TMP / "jobs" / "9").read_text() == "16"
    assert ("task 9, buildroot el9-build-1-1: -j16: weight 19.5, 16 cpus of 16 online, "
            "load 0.08, other tasks: none") in caplog.messages


def test_the_jobs_record_of_a_finished_task_is_removed(plugin, tmp_path):
    tm = manager(Session(), tmp_path)
    (plugin.TMP / "jobs").mkdir()
    (plugin.TMP / "jobs" / "9").write_text("16")
    tm._get_host_data()
    assert not (plugin.TMP / "jobs" / "9").exists()


def test_mock_config_gets_jobs_unless_the_tag_sets_them(plugin):
    out = koji.genMockConfig("el9-build-1-1", "x86_64", managed=True, repoid=1, tag_name="el9",
                             topurl="http://koji.example.org/kojifiles")
    assert mock_jobs(out) == "16"
    out = koji.genMockConfig("el9-build-1-1", "x86_64", managed=True, repoid=1, tag_name="el9",
                             topurl="http://koji.example.org/kojifiles",
                             tag_macros={"%_smp_build_ncpus": "3"})
    assert mock_jobs(out) == "3"


def test_foreign_target_gets_the_cross_packages(plugin, monkeypatch):
    monkeypatch.setattr(plugin.os, "uname", lambda: SimpleNamespace(machine="x86_64",
                                                                     nodename="b1"))
    out = koji.genMockConfig("el9-build-1-1", "aarch64", managed=True, repoid=1, tag_name="el9",
                             topurl="http://koji.example.org/kojifiles", target_arch="aarch64")
    opts = {"config_opts": {"macros": {}, "plugin_conf": {}}}
    exec(out, opts)
    assert opts["config_opts"]["chroot_additional_packages"] == ["qemu-user-static-aarch64"]


# -- config --------------------------------------------------------------------------

def test_one_bad_option_keeps_the_others_and_is_named_once(plugin, tmp_path, caplog):
    bad = tmp_path / "bad.conf"
    bad.write_text(f"[discomy]\nprobe_ttl = soon\nsmp_max = 8\nrefuse = ture\n"
                   f"drain_flag = {tmp_path / 'drain'}\nsmp_maxx = 4\n")
    with caplog.at_level(logging.ERROR, logger="koji.plugin.discomy_builder"):
        conf, cross = plugin.read_config(str(bad))
    assert conf.probe_ttl == 30.0 and conf.refuse is True
    assert conf.bounds.max_jobs == 8 and conf.drain_flag == str(tmp_path / "drain")
    assert len(caplog.messages) == 3
    assert "probe_ttl = 'soon'" in caplog.messages[1]
    assert "using the default 30" in caplog.messages[1]
    assert "refuse = 'ture': must be true or false" in caplog.messages[2]
    assert "unknown option 'smp_maxx'" in caplog.messages[0]


def test_a_bad_cross_file_drops_only_the_cross_lists(plugin, tmp_path, caplog):
    cross = tmp_path / "cross.yaml"
    cross.write_text("x86_64:\n  x86_64:\n    add: [gcc]\n")
    conf_file = tmp_path / "discomy.conf"
    conf_file.write_text(f"[discomy]\ncross_config = {cross}\nsmp_max = 8\n")
    with caplog.at_level(logging.ERROR, logger="koji.plugin.discomy_builder"):
        conf, lists = plugin.read_config(str(conf_file))
    assert lists == {} and conf.bounds.max_jobs == 8
    assert "native builds take no cross packages" in caplog.text
