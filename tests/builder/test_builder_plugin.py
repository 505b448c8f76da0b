"""The kojid plugin driving koji's real TaskManager and genMockConfig."""

from __future__ import annotations

import importlib
import json
import logging
import sys
from types import SimpleNamespace

import koji
import koji.daemon
import koji.tasks
import pytest

from discomy.hostdata import from_host_data


class HostCalls:
    def __init__(self):
        self.refused = []
        self.opened = []

    def getID(self):
        return 7

    def refuseTask(self, task_id, soft=True, msg=""):
        self.refused.append((task_id, soft, msg))

    def openTask(self, task_id):
        self.opened.append(task_id)
        return None          # the stock path then stops: nothing is forked


class Session:
    """The hub calls TaskManager and the plugin make, answering like kojihub does."""

    def __init__(self, srpm="tasks/1/llvm-17.0.6-1.el9.src.rpm",
                 constraints_extra=None):
        self.host = HostCalls()
        self.srpm = srpm
        self.extra = {"discomy.constraints": constraints_extra or {}}

    def getSessionInfo(self):
        return {"start_ts": 0}

    def getTaskInfo(self, task_id, request=False):
        return {"id": task_id, "request": [self.srpm, "el9-build", "x86_64", True, {}]}

    def getBuildConfig(self, tag):
        return {"name": tag, "extra": self.extra}


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    cross = tmp_path / "cross.yaml"
    cross.write_text("x86_64:\n  aarch64:\n    add: [qemu-user-static-aarch64]\n")
    conf = tmp_path / "discomy.conf"
    conf.write_text(f"[discomy]\ndrain_flag = {tmp_path / 'drain'}\n"
                    f"state_file = {tmp_path / 'state.json'}\nbench_cache =\n"
                    f"paths = {tmp_path}\ncross_config = {cross}\nsmp_max = 8\n")
    monkeypatch.setenv("DISCOMY_BUILDER_CONFIG", str(conf))
    stock = (koji.daemon.TaskManager._get_host_data, koji.daemon.TaskManager.takeTask,
             koji.genMockConfig)
    sys.modules.pop("discomy_builder", None)
    module = importlib.import_module("discomy_builder")
    module.TMP = tmp_path
    yield module
    (koji.daemon.TaskManager._get_host_data, koji.daemon.TaskManager.takeTask,
     koji.genMockConfig) = stock
    sys.modules.pop("discomy_builder", None)


class BuildArch(koji.tasks.BaseTaskHandler):
    """A buildArch handler that does nothing: the stock takeTask only instantiates it."""

    Methods = ["buildArch"]
    _taskWeight = 1.5

    def handler(self, *args):
        return None


def manager(session):
    tm = koji.daemon.TaskManager(SimpleNamespace(maxjobs=4, workdir="/tmp"), session)
    tm.handlers = {"buildArch": BuildArch}
    return tm


def test_host_data_keeps_kojis_keys_and_adds_the_probe(plugin):
    tm = manager(Session())
    data = tm._get_host_data()
    assert data["maxjobs"] == 4 and data["methods"] == ["buildArch"]
    host, warnings = from_host_data(data)
    assert host.cpus >= 1 and host.memory_mb > 0 and not host.draining and warnings == []
    assert json.loads((plugin.TMP / "state.json").read_text())["tasks"] == []


def test_drain_flag_stops_new_tasks_and_is_published(plugin):
    (plugin.TMP / "drain").write_text("")
    session = Session()
    tm = manager(session)
    assert tm.takeTask({"id": 5, "method": "buildArch", "state": 1}) is False
    assert session.host.opened == [] and session.host.refused == []
    assert from_host_data(tm._get_host_data())[0].draining


def test_a_task_the_host_cannot_meet_is_refused_softly_with_the_reason(plugin):
    session = Session(constraints_extra={"llvm*": {"memory": "100T"}})
    tm = manager(session)
    assert tm.takeTask({"id": 6, "method": "buildArch", "state": 1}) is False
    (task_id, soft, msg), = session.host.refused
    assert task_id == 6 and soft and "needs 100 TiB memory" in msg and "package llvm" in msg


def test_a_task_that_fits_goes_to_koji_stock_path(plugin):
    session = Session(constraints_extra={"llvm*": {"memory": "1M"}, "kernel": {"memory": "100T"}})
    tm = manager(session)
    tm.takeTask({"id": 7, "method": "buildArch", "state": 1})
    assert session.host.refused == [] and session.host.opened == [7]


def test_mock_config_gets_jobs_unless_the_tag_sets_them(plugin):
    out = koji.genMockConfig("el9-build-1-1", "x86_64", managed=True, repoid=1, tag_name="el9",
                             topurl="http://koji.example.org/kojifiles")
    opts = {"config_opts": {"macros": {}, "plugin_conf": {}}}
    exec(out, opts)
    jobs = int(opts["config_opts"]["macros"]["%_smp_build_ncpus"])
    assert 1 <= jobs <= 8
    out = koji.genMockConfig("el9-build-1-1", "x86_64", managed=True, repoid=1, tag_name="el9",
                             topurl="http://koji.example.org/kojifiles",
                             tag_macros={"%_smp_build_ncpus": "3"})
    opts = {"config_opts": {"macros": {}, "plugin_conf": {}}}
    exec(out, opts)
    assert opts["config_opts"]["macros"]["%_smp_build_ncpus"] == "3"


def test_foreign_target_gets_the_cross_packages(plugin, monkeypatch):
    monkeypatch.setattr(plugin.os, "uname", lambda: SimpleNamespace(machine="x86_64",
                                                                     nodename="b1"))
    out = koji.genMockConfig("el9-build-1-1", "aarch64", managed=True, repoid=1, tag_name="el9",
                             topurl="http://koji.example.org/kojifiles", target_arch="aarch64")
    opts = {"config_opts": {"macros": {}, "plugin_conf": {}}}
    exec(out, opts)
    assert opts["config_opts"]["chroot_additional_packages"] == ["qemu-user-static-aarch64"]


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
