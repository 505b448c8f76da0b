"""The kojihub plugin, with the real koji library and the kojihub stand-in."""

import koji
import pytest

import kojihub_world
from kojihub import scheduler

import discomy_hub
from discomy.placement.config import SCHEDULER_KEYS, TRUST_KEYS, TrustConfig


def host_row(hid, name, arches="x86_64", capacity=4.0, channels=(1,), discomy=None, maxjobs=None):
    data = {"methods": ["buildArch"]}
    if maxjobs:
        data["maxjobs"] = maxjobs
    if discomy is not None:
        data["discomy"] = discomy
    return {"id": hid, "name": name, "update_ts": 0.0, "task_load": 0.0, "ready": True,
            "arches": arches, "capacity": capacity, "data": data, "channels": list(channels)}


@pytest.fixture
def world(tmp_path):
    w = kojihub_world.reset()
    discomy_hub.CONFIG = discomy_hub.read_config(str(tmp_path / "missing.conf"))
    discomy_hub._logged_waits.clear()
    discomy_hub._history_cache.clear()
    discomy_hub._learned.clear()
    discomy_hub._warned.clear()
    w.add_tag("el9-build", {"discomy.constraints": {"llvm*": {"memory": "32G", "power": True}}})
    return w


def write_conf(tmp_path, text):
    path = tmp_path / "discomy.conf"
    path.write_text(text)
    return str(path)


def test_plugin_replaces_the_scheduler_class():
    assert scheduler.TaskScheduler is discomy_hub.DiscomyTaskScheduler
    assert issubclass(scheduler.TaskScheduler, discomy_hub.StockTaskScheduler)


def test_constrained_task_goes_to_the_host_that_fits_and_reason_is_logged(world):
    world.hosts = [host_row(1, "small", discomy={"memory_mb": 16384, "speed": 1.0}),
                   host_row(2, "big", discomy={"memory_mb": 131072, "speed": 2.0})]
    world.add_buildarch(10, "tasks/1/1/llvm-17.0.6-1.el9.src.rpm", "el9-build")
    world.add_buildarch(11, "tasks/1/2/bash-5.2-1.el9.src.rpm", "el9-build")
    scheduler.TaskScheduler().run(force=True)
    assert dict(world.assigned) == {10: 2, 11: 1}
    logged = [m for m, t, h in world.log if t == 10 and m.startswith("discomy:")]
    assert logged and "placed on big" in logged[0]
    assert "small: needs 32 GiB memory, has 16 GiB" in logged[0]


def test_without_discomy_data_the_plugin_assigns_like_stock_koji(world):
    rows = [host_row(h, f"b{h}", capacity=c) for h, c in ((1, 2.0), (2, 4.0), (3, 8.0))]
    for n in range(12):
        world.add_buildarch(100 + n, f"tasks/1/{n}/pkg{n}-1-1.src.rpm", "el9-build",
                            weight=[0.5, 1.5, 3.0][n % 3], create_ts=float(n))
    world.hosts = rows
    scheduler.TaskScheduler().run(force=True)
    ours = list(world.assigned)
    world.assigned.clear()
    discomy_hub.StockTaskScheduler().run(force=True)
    assert ours == world.assigned and ours


def test_waiting_constrained_task_logs_its_reason_once(world):
    world.hosts = [host_row(1, "small", discomy={"memory_mb": 16384})]
    world.add_buildarch(10, "tasks/1/1/llvm-17.0.6-1.el9.src.rpm", "el9-build")
    for _ in range(3):
        scheduler.TaskScheduler().run(force=True)
    waits = [m for m, t, h in world.log if t == 10]
    assert len(waits) == 1 and "no host fits" in waits[0]
    assert world.assigned == []


def test_bad_config_logs_one_error_and_keeps_stock_scheduling(world, tmp_path, caplog):
    path = write_conf(tmp_path, "[scheduler]\nreserve_after = soon\n")
    with caplog.at_level("ERROR", logger="koji.plugin.discomy"):
        discomy_hub.CONFIG = discomy_hub.read_config(path)
    assert discomy_hub.CONFIG is None
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "reserve_after" in errors[0] and path in errors[0]
    world.hosts = [host_row(1, "small", discomy={"memory_mb": 16384})]
    world.add_buildarch(10, "tasks/1/1/llvm-17.0.6-1.el9.src.rpm", "el9-build")
    scheduler.TaskScheduler().run(force=True)
    assert world.assigned == [(10, 1)]  # stock koji knows nothing of constraints


def test_config_defaults_and_history_make_power_jobs(world, tmp_path):
    discomy_hub.CONFIG = discomy_hub.read_config(write_conf(tmp_path, (
        "[scheduler]\npower_after = 2h\nstrong_speed = 1.5\n"
        "[constraints]\nkernel = {\"virt\": \"kvm\"}\n")))
    world.hosts = [host_row(1, "slow", discomy={"speed": 1.0, "virt": ["chroot"]}),
                   host_row(2, "fast", discomy={"speed": 3.0, "virt": ["kvm", "chroot"]})]
    world.history = [{"name": "libreoffice", "build_id": 5, "seconds": 3 * 3600.0}]
    world.add_buildarch(10, "tasks/1/1/libreoffice-7.6-1.el9.src.rpm", "el9-build")
    world.add_buildarch(11, "tasks/1/2/kernel-5.14-1.el9.src.rpm", "el9-build")
    scheduler.TaskScheduler().run(force=True)
    assert dict(world.assigned) == {10: 2, 11: 2}


def test_a_long_build_waits_for_the_busy_fast_host_without_a_log_line(world, tmp_path):
    discomy_hub.CONFIG = discomy_hub.read_config(write_conf(tmp_path, (
        "[scheduler]\npower_after = 2h\nwait_for_faster = 5m\n")))
    world.hosts = [host_row(1, "fast", capacity=16.0, maxjobs=1, discomy={"speed": 2.0}),
                   host_row(2, "slow", capacity=16.0, discomy={"speed": 0.5})]
    world.active_tasks = [{"task_id": 5, "state": koji.TASK_STATES["OPEN"], "waiting": False,
                           "weight": 1.5, "channel_id": 1, "host_id": 1, "arch": "x86_64",
                           "method": "buildArch", "priority": 20, "create_ts": 0.0}]
    # bash's last buildArch took an hour: two on the slow host, half an hour on the fast
    world.history = [{"name": "bash", "build_id": 5, "seconds": 3600.0},
                     {"name": "zsh", "build_id": 6, "seconds": 120.0}]
    world.add_buildarch(10, "tasks/1/1/bash-5.2-1.el9.src.rpm", "el9-build")
    world.add_buildarch(11, "tasks/1/2/zsh-5.9-1.el9.src.rpm", "el9-build")
    scheduler.TaskScheduler().run(force=True)
    assert dict(world.assigned) == {11: 2}
    assert not [m for m, t, h in world.log if t == 10 and m.startswith("discomy:")]


def test_placement_error_falls_back_to_stock_for_that_pass(world, monkeypatch, caplog):
    world.hosts = [host_row(1, "b1")]
    world.add_buildarch(10, "tasks/1/1/bash-5.2-1.el9.src.rpm", "el9-build")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(discomy_hub.placement, "schedule", broken)
    with caplog.at_level("ERROR", logger="koji.plugin.discomy"):
        scheduler.TaskScheduler().run(force=True)
    assert world.assigned == [(10, 1)]
    assert any("stock scheduling for this pass" in r.getMessage() for r in caplog.records)


def test_drained_host_takes_nothing_and_state_survives_in_sys_data(world):
    world.hosts = [host_row(1, "b1"), host_row(2, "b2")]
    assert discomy_hub.drainHost("b1") is True
    assert world.sys_data["discomy.drained"] == [1]
    world.add_buildarch(10, "tasks/1/1/bash-5.2-1.el9.src.rpm", "el9-build")
    world.add_buildarch(11, "tasks/1/2/zsh-5.9-1.el9.src.rpm", "el9-build")
    scheduler.TaskScheduler().run(force=True)
    assert {h for _, h in world.assigned} == {2}
    discomy_hub.undrainHost("b1")
    assert world.sys_data["discomy.drained"] == []
    assert any("drained by kojiadmin" in m for m, _, _ in world.log)


def test_drain_state_shows_both_switches_to_anyone(world):
    world.hosts = [host_row(1, "b1", discomy={"draining": True}), host_row(2, "b2")]
    discomy_hub.drainHost("b2")
    world.perms = set()                  # a builder's own session reads it
    assert discomy_hub.getDrainState("b1") == {
        "host_id": 1, "name": "b1", "enabled": True, "drained": False, "draining": True,
        "drain": ["builder"]}
    assert discomy_hub.getDrainState(2)["drain"] == ["hub"]
    caps = {h["name"]: h["drain"] for h in discomy_hub.hostCapabilities()}
    assert caps == {"b1": ["builder"], "b2": ["hub"]}


def test_drain_needs_admin(world):
    world.hosts = [host_row(1, "b1")]
    world.perms = set()
    with pytest.raises(koji.ActionNotAllowed):
        discomy_hub.drainHost("b1")


def test_host_capabilities_reports_published_data(world):
    world.hosts = [host_row(1, "b1", discomy={"cpus": 16, "memory_mb": 32768, "speed": 1.2,
                                              "disk_free_mb": {"/var/lib/mock": 400000}}),
                   host_row(2, "b2")]
    world.active_tasks = [{"task_id": 5, "state": koji.TASK_STATES["OPEN"], "waiting": False,
                           "weight": 1.0, "channel_id": 1, "host_id": 1, "arch": "x86_64",
                           "method": "buildArch", "priority": 20, "create_ts": 0.0}]
    caps = {c["name"]: c for c in discomy_hub.hostCapabilities()}
    assert (caps["b1"]["cpus"], caps["b1"]["memory_mb"], caps["b1"]["disk_free_mb"]) == \
        (16, 32768, 400000)
    assert caps["b1"]["running_tasks"] == 1 and caps["b2"]["cpus"] is None
    assert [c["name"] for c in discomy_hub.hostCapabilities("b2")] == ["b2"]


def test_explain_task_gives_a_verdict_per_host(world):
    world.hosts = [host_row(1, "small", discomy={"memory_mb": 16384}),
                   host_row(2, "big", discomy={"memory_mb": 131072}),
                   host_row(3, "arm", arches="aarch64")]
    world.add_buildarch(10, "tasks/1/1/llvm-17.0.6-1.el9.src.rpm", "el9-build")
    out = discomy_hub.explainTask(10)
    assert out["requirements"]["power"] is True
    verdicts = {h["name"]: h for h in out["hosts"]}
    assert verdicts["big"]["eligible"] and not verdicts["small"]["eligible"]
    assert verdicts["small"]["reasons"] == ["small: needs 32 GiB memory, has 16 GiB"]
    assert "not in channel" in verdicts["arm"]["reasons"][0]


def test_set_and_get_package_constraints_validate_and_store_in_tag_extra(world):
    world.add_tag("el9-child", parent="el9-build")
    out = discomy_hub.setPackageConstraints("el9-child", "chromium",
                                            {"memory": "64G", "cpus": 16})
    assert out == {"chromium": {"memory": "65536M", "cpus": 16}}
    assert world.tags["el9-child"]["extra"]["discomy.constraints"] == out
    with pytest.raises(koji.ParameterError, match="unknown constraint 'ram'"):
        discomy_hub.setPackageConstraints("el9-child", "x", {"ram": "1G"})
    got = discomy_hub.getPackageConstraints("el9-build")
    assert got["constraints"] == {"llvm*": {"memory": "32768M", "power": True}}
    discomy_hub.setPackageConstraints("el9-child", "chromium", remove=True)
    assert "discomy.constraints" not in world.tags["el9-child"]["extra"]


def test_set_package_constraints_needs_admin(world):
    world.perms = set()
    with pytest.raises(koji.ActionNotAllowed):
        discomy_hub.setPackageConstraints("el9-build", "x", {"cpus": 2})


def test_policy_tests_read_constraints_of_the_build_source(world):
    world.targets["el9"] = {"name": "el9", "build_tag": 1, "build_tag_name": "el9-build"}
    data = {"method": "build", "source": "git+https://git.example/rpms/llvm.git#abc",
            "target": "el9"}
    assert discomy_hub.PowerTest("discomy_power").run(data)
    assert discomy_hub.NeedsTest("discomy_needs memory>=16G").run(data)
    assert not discomy_hub.NeedsTest("discomy_needs memory>=64G").run(data)
    assert not discomy_hub.PowerTest("discomy_power").run(dict(data, source="bash.git"))
    with pytest.raises(koji.GenericError, match="discomy_needs"):
        discomy_hub.NeedsTest("discomy_needs ram>=3G")
    assert isinstance(discomy_hub.PowerTest("discomy_power"), koji.policy.MatchTest)


def test_example_config_file_is_valid_and_documents_every_option():
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "koji-plugins" / "hub" / "discomy.conf"
    config = discomy_hub.read_config(str(path))
    assert config is not None and config.enabled and config.power_after_s == 7200
    assert config.wait_for_faster_s == 300
    assert config.trust == TrustConfig()        # the file shows the defaults
    text = path.read_text()
    for option in list(SCHEDULER_KEYS) + list(TRUST_KEYS):
        assert f"\n{option} = " in text


def test_reservation_is_logged_once_not_every_pass(world, tmp_path):
    discomy_hub.CONFIG = discomy_hub.read_config(write_conf(tmp_path, (
        "[scheduler]\nreserve_after = 10m\nstrong_speed = 2\n")))
    discomy_hub._logged_reserved.clear()
    world.hosts = [host_row(1, "fast", capacity=2.0,
                            discomy={"speed": 3.0, "memory_mb": 65536})]
    world.active_tasks = [{"task_id": 5, "state": koji.TASK_STATES["OPEN"], "waiting": False,
                           "weight": 2.0, "channel_id": 1, "host_id": 1, "arch": "x86_64",
                           "method": "buildArch", "priority": 20, "create_ts": 0.0}]
    import time
    waited_20m = time.time() - 1200
    world.add_buildarch(10, "tasks/1/1/llvm-17.0.6-1.el9.src.rpm", "el9-build",
                        create_ts=waited_20m)
    for _ in range(3):
        scheduler.TaskScheduler().run(force=True)
    reserved = [m for m, t, h in world.log if "reserved for power task 10" in m]
    assert len(reserved) == 1 and world.assigned == []


def test_task_whose_build_tag_is_gone_is_placed_without_constraints(world, caplog):
    world.hosts = [host_row(1, "b1", discomy={"memory_mb": 1024})]
    world.add_buildarch(10, "tasks/1/1/llvm-17.0.6-1.el9.src.rpm", "deleted-tag")
    with caplog.at_level("WARNING", logger="koji.plugin.discomy"):
        scheduler.TaskScheduler().run(force=True)
    assert world.assigned == [(10, 1)]
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot read build tag deleted-tag" in m for m in messages)
    assert not any("placement failed" in m for m in messages)


def test_typo_in_tag_constraints_is_ignored_with_a_warning(world, caplog):
    world.tags["el9-build"]["extra"]["discomy.constraints"] = {
        "llvm*": {"memory": "32G", "colour": "red"}}
    world.hosts = [host_row(1, "small", discomy={"memory_mb": 16384}),
                   host_row(2, "big", discomy={"memory_mb": 65536})]
    world.add_buildarch(10, "tasks/1/1/llvm-17.0.6-1.el9.src.rpm", "el9-build")
    with caplog.at_level("WARNING", logger="koji.plugin.discomy"):
        scheduler.TaskScheduler().run(force=True)
    assert world.assigned == [(10, 2)]
    assert any("unknown constraint 'colour'" in r.getMessage() for r in caplog.records)


# -- config, koji's internals, the database ---------------------------------------------

def test_a_missing_config_is_one_warning_and_the_defaults(tmp_path, caplog):
    path = str(tmp_path / "nowhere.conf")
    with caplog.at_level("WARNING", logger="koji.plugin.discomy"):
        config = discomy_hub.read_config(path)
    assert config == discomy_hub.placement.PlacementConfig()
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert path in caplog.records[0].getMessage() and "not found" in caplog.records[0].getMessage()


def test_the_config_is_read_with_kojis_own_reader(tmp_path, monkeypatch):
    read = []
    real = koji.read_config_files

    def spy(files, raw=False):
        read.append((files, raw))
        return real(files, raw=raw)

    monkeypatch.setattr(koji, "read_config_files", spy)
    path = write_conf(tmp_path, "[scheduler]\npower_after = 1h\n")
    assert discomy_hub.read_config(path).power_after_s == 3600
    assert read == [([(path, True)], True)]


def test_hub_default_globs_match_whatever_the_case(world, tmp_path):
    # koji's reader folds option names to lower case
    discomy_hub.CONFIG = discomy_hub.read_config(write_conf(tmp_path, (
        '[constraints]\nPyYAML = {"memory": "32G"}\nSDL2* = {"cpus": 8}\n')))
    assert set(discomy_hub.CONFIG.defaults) == {"pyyaml", "sdl2*"}
    world.hosts = [host_row(1, "small", discomy={"memory_mb": 16384, "cpus": 4}),
                   host_row(2, "big", discomy={"memory_mb": 65536, "cpus": 16})]
    world.add_buildarch(10, "tasks/1/1/PyYAML-6.0-1.el9.src.rpm", "el9-build")
    world.add_buildarch(11, "tasks/1/2/SDL2_image-2.6-1.el9.src.rpm", "el9-build")
    scheduler.TaskScheduler().run(force=True)
    assert dict(world.assigned) == {10: 2, 11: 2}


@pytest.fixture
def stock_scheduler():
    yield scheduler
    scheduler.TaskScheduler = discomy_hub.DiscomyTaskScheduler


def test_a_koji_without_the_hub_scheduler_keeps_stock_with_one_error(stock_scheduler,
                                                                      monkeypatch, caplog):
    scheduler.TaskScheduler = discomy_hub.StockTaskScheduler
    monkeypatch.setattr(koji, "__version_info__", (1, 33, 1))
    with caplog.at_level("ERROR", logger="koji.plugin.discomy"):
        assert discomy_hub.install_scheduler() is False
    assert scheduler.TaskScheduler is discomy_hub.StockTaskScheduler
    assert [r.getMessage() for r in caplog.records] == [
        "discomy: koji 1.33.1 has no hub scheduler to extend (needs 1.34 or later); "
        "using stock koji scheduling"]


def test_a_koji_lacking_a_method_the_plugin_calls_keeps_stock_with_one_error(
        stock_scheduler, monkeypatch, caplog):
    scheduler.TaskScheduler = discomy_hub.StockTaskScheduler
    monkeypatch.delattr(discomy_hub.StockTaskScheduler, "get_refusals")
    monkeypatch.delattr(discomy_hub.db, "Savepoint")
    with caplog.at_level("ERROR", logger="koji.plugin.discomy"):
        assert discomy_hub.install_scheduler() is False
    (message,) = [r.getMessage() for r in caplog.records]
    assert "lacks kojihub.db.Savepoint, kojihub.scheduler.TaskScheduler.get_refusals" in message
    assert scheduler.TaskScheduler is discomy_hub.StockTaskScheduler


def test_a_failed_pass_rolls_back_to_a_savepoint_before_the_stock_pass(world, monkeypatch):
    world.hosts = [host_row(1, "b1")]
    world.add_buildarch(10, "tasks/1/1/bash-5.2-1.el9.src.rpm", "el9-build")

    def broken(*args):
        raise RuntimeError("relation does not exist")

    monkeypatch.setattr(discomy_hub, "read_sys_data", broken)
    scheduler.TaskScheduler().run(force=True)
    assert world.savepoints == world.rolled_back == ["discomy_schedule"]
    assert world.assigned == [(10, 1)]


def test_tag_warnings_are_logged_once_per_task_not_every_pass(world, caplog):
    world.tags["el9-build"]["extra"]["discomy.constraints"] = {"llvm*": {"colour": "red"}}
    world.hosts = [host_row(1, "b1", capacity=0.5)]          # nothing fits: tasks stay free
    world.add_buildarch(10, "tasks/1/1/llvm-17.0.6-1.el9.src.rpm", "el9-build")
    world.add_buildarch(11, "tasks/1/2/llvm-18.1-1.el9.src.rpm", "el9-build")
    with caplog.at_level("WARNING", logger="koji.plugin.discomy"):
        for _ in range(3):
            scheduler.TaskScheduler().run(force=True)
        world.add_buildarch(12, "tasks/1/3/llvm-19.1-1.el9.src.rpm", "el9-build")
        for _ in range(3):
            scheduler.TaskScheduler().run(force=True)
    warned = [r.getMessage() for r in caplog.records if "colour" in r.getMessage()]
    assert len(warned) == 2
    assert warned[0].endswith("(tasks 10, 11)") and warned[1].endswith("(task 12)")


def test_an_unreadable_request_is_logged_once(world, caplog):
    world.hosts = [host_row(1, "b1", capacity=0.5)]
    world.add_buildarch(10, "tasks/1/1/bash-5.2-1.el9.src.rpm", "el9-build")
    world.requests[10] = "<not xml-rpc"
    with caplog.at_level("WARNING", logger="koji.plugin.discomy"):
        for _ in range(3):
            scheduler.TaskScheduler().run(force=True)
    warned = [r.getMessage() for r in caplog.records if "cannot read the request" in r.getMessage()]
    assert warned == ["discomy: cannot read the request; placed without constraints (task 10)"]
