"""The koji CLI plugin, talking through koji's ClientSession to an XML-RPC server on
127.0.0.1 that serves the hub plugin's exported calls over the kojihub stand-in."""

import json
import optparse
import threading
from xmlrpc.client import Fault
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

import koji
import pytest

import kojihub_world
import discomy_cli
import discomy_hub


class _Quiet(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/kojihub",)

    def log_message(self, *args):
        pass


class HubServer(SimpleXMLRPCServer):
    """Serves ``discomy.*`` as the hub would: koji context bound per call, koji faults."""

    def _dispatch(self, method, params):
        kojihub_world.bind()
        if method == "getAPIVersion":
            return koji.API_VERSION
        if method == "getKojiVersion":
            return "1.36.1"
        func = getattr(discomy_hub, method.split(".", 1)[-1], None)
        if not method.startswith("discomy.") or not getattr(func, "exported", False):
            raise Fault(1000, f"Invalid method: {method}")
        args, kwargs = list(params), {}
        if args and isinstance(args[-1], dict) and args[-1].get("__starstar"):
            kwargs = dict(args.pop())
            kwargs.pop("__starstar")
        try:
            return func(*args, **kwargs)
        except koji.GenericError as exc:
            raise Fault(exc.faultCode, str(exc))


@pytest.fixture(scope="module")
def hub_url():
    server = HubServer(("127.0.0.1", 0), requestHandler=_Quiet, allow_none=True,
                       logRequests=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/kojihub" % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def world(tmp_path):
    w = kojihub_world.reset()
    discomy_hub.CONFIG = discomy_hub.read_config(str(tmp_path / "missing.conf"))
    w.add_tag("el9-build", {"discomy.constraints": {"llvm*": {"memory": "32G", "power": True}}})
    w.hosts = [
        {"id": 1, "name": "small", "update_ts": 0.0, "task_load": 0.5, "ready": True,
         "arches": "x86_64", "capacity": 4.0, "channels": [1],
         "data": {"discomy": {"cpus": 4, "memory_mb": 16384, "speed": 0.8,
                              "disk_free_mb": {"/var/lib/mock": 51200}}}},
        {"id": 2, "name": "big", "update_ts": 0.0, "task_load": 0.0, "ready": True,
         "arches": "x86_64 i686", "capacity": 16.0, "channels": [1], "data": None},
    ]
    return w


@pytest.fixture
def session(hub_url):
    return koji.ClientSession(hub_url)


GOPTS = optparse.Values({"noauth": True, "authtype": "noauth", "force_auth": False,
                         "debug": False, "quiet": False})


def run(handler, session, args, capsys):
    handler(GOPTS, session, args)
    return capsys.readouterr().out


def test_discomy_hosts_prints_a_table(world, session, capsys):
    out = run(discomy_cli.handle_discomy_hosts, session, [], capsys)
    lines = out.splitlines()
    assert lines[0].split() == ["Host", "Arches", "CPUs", "Memory", "Disk", "Speed", "Claimed",
                                "Learned", "Load", "Tasks", "Draining", "Ready"]
    small = next(line for line in lines if line.startswith("small"))
    assert "16 GiB" in small and "50 GiB" in small and "0.8" in small
    big = next(line for line in lines if line.startswith("big"))
    assert "x86_64,i686" in big and " ? " in big


def test_discomy_hosts_json_is_machine_readable(world, session, capsys):
    out = json.loads(run(discomy_cli.handle_discomy_hosts, session, ["--json"], capsys))
    assert {h["name"]: h["cpus"] for h in out} == {"small": 4, "big": None}


def test_explain_task_shows_needs_and_per_host_reasons(world, session, capsys):
    world.add_buildarch(10, "tasks/1/1/llvm-17.0.6-1.el9.src.rpm", "el9-build")
    out = run(discomy_cli.handle_explain_task, session, ["10"], capsys)
    assert "Needs: memory>=32 GiB power (package llvm)" in out
    small = next(line for line in out.splitlines() if line.startswith("small"))
    assert small.split()[1] == "no" and "needs 32 GiB memory, has 16 GiB" in small
    big = next(line for line in out.splitlines() if line.startswith("big"))
    assert big.split()[1] == "yes"


def test_explain_unknown_task_exits_non_zero_with_the_hub_message(world, session, capsys):
    with pytest.raises(SystemExit) as exc:
        discomy_cli.handle_explain_task(GOPTS, session, ["999"])
    assert exc.value.code == 1
    assert "No such task: 999" in capsys.readouterr().err


def test_drain_and_undrain_host(world, session, capsys):
    assert "Host small is draining" in run(discomy_cli.handle_drain_host, session, ["small"], capsys)
    assert world.sys_data["discomy.drained"] == [1]
    hosts = json.loads(run(discomy_cli.handle_discomy_hosts, session, ["--json"], capsys))
    assert {h["name"]: h["draining"] for h in hosts} == {"small": True, "big": False}
    out = run(discomy_cli.handle_undrain_host, session, ["small"], capsys)
    assert world.sys_data["discomy.drained"] == [] and "Host small takes new tasks" in out


def test_the_draining_column_names_who_drains_and_undrain_names_what_still_holds(
        world, session, capsys):
    world.hosts[0]["data"]["discomy"]["draining"] = True      # discomy-builder drain on small
    run(discomy_cli.handle_drain_host, session, ["small"], capsys)
    run(discomy_cli.handle_drain_host, session, ["big"], capsys)
    table = run(discomy_cli.handle_discomy_hosts, session, [], capsys).splitlines()
    draining = {line.split()[0]: line.split()[-2] for line in table[2:]}
    assert draining == {"small": "hub+builder", "big": "hub"}
    out = run(discomy_cli.handle_undrain_host, session, ["small"], capsys)
    assert "small is still draining by its own flag: run `discomy-builder undrain` on small" in out


def test_drain_host_wait_returns_when_running_tasks_are_done(world, session, capsys):
    world.active_tasks = [{"task_id": 5, "state": koji.TASK_STATES["OPEN"], "waiting": False,
                           "weight": 1.0, "channel_id": 1, "host_id": 1, "arch": "x86_64",
                           "method": "buildArch", "priority": 20, "create_ts": 0.0}]
    checks = []
    original = discomy_cli.time.sleep

    def finish_task(seconds):
        checks.append(seconds)
        world.active_tasks = []  # the running task closes while we wait

    discomy_cli.time.sleep = finish_task
    try:
        out = run(discomy_cli.handle_drain_host, session, ["small", "--wait", "--interval", "1"],
                  capsys)
    finally:
        discomy_cli.time.sleep = original
    assert "1 task(s) still running" in out and "has no running tasks" in out
    assert checks == [1.0]


def test_drain_needs_admin_and_says_so(world, session, capsys):
    world.perms = set()
    with pytest.raises(SystemExit) as exc:
        discomy_cli.handle_drain_host(GOPTS, session, ["small"])
    assert exc.value.code == 1 and "admin permission required" in capsys.readouterr().err


def test_set_and_list_pkg_constraints(world, session, capsys):
    out = run(discomy_cli.handle_set_pkg_constraints, session,
              ["el9-build", "chromium", "--memory", "16G", "--disk", "40G", "--cpus", "8",
               "--power", "--virt", "kvm", "--feature", "ssd"], capsys)
    assert "chromium on el9-build: memory>=16 GiB disk>=40 GiB cpus>=8 virt=kvm " \
           "features=ssd power" in out
    listing = run(discomy_cli.handle_list_pkg_constraints, session, ["el9-build"], capsys)
    assert "chromium" in listing and "llvm*" in listing
    data = json.loads(run(discomy_cli.handle_list_pkg_constraints, session,
                          ["el9-build", "--json"], capsys))
    assert data["constraints"]["chromium"]["cpus"] == 8
    run(discomy_cli.handle_set_pkg_constraints, session, ["el9-build", "chromium", "--remove"],
        capsys)
    assert "chromium" not in world.tags["el9-build"]["extra"]["discomy.constraints"]


def test_set_pkg_constraints_reports_invalid_sizes_from_the_hub(world, session, capsys):
    with pytest.raises(SystemExit) as exc:
        discomy_cli.handle_set_pkg_constraints(GOPTS, session,
                                               ["el9-build", "foo", "--memory", "lots"])
    assert exc.value.code == 1
    assert "memory" in capsys.readouterr().err


def test_set_pkg_constraints_without_options_is_a_usage_error(world, session, capsys):
    with pytest.raises(SystemExit) as exc:
        discomy_cli.handle_set_pkg_constraints(GOPTS, session, ["el9-build", "foo"])
    assert exc.value.code == 2


def test_host_policy_sets_pins_and_caps_and_discomy_hosts_shows_claimed_and_in_force(
        world, session, capsys):
    out = run(discomy_cli.handle_discomy_host_policy, session,
              ["small", "--speed", "0.5", "--max-memory", "8G"], capsys)
    assert out.startswith("Host small: policy speed=0.5 max_memory=8 GiB\n")
    assert "speed 0.5 (pinned), claimed 0.8, learned ?" in out
    table = run(discomy_cli.handle_discomy_hosts, session, [], capsys)
    small = next(line for line in table.splitlines() if line.startswith("small"))
    assert small.split()[3:10] == ["8", "GiB", "50", "GiB", "0.5", "0.8", "-"]
    assert "small: memory 16 GiB capped at 8 GiB by policy" in table
    shown = json.loads(run(discomy_cli.handle_discomy_host_policy, session,
                           ["small", "--json"], capsys))
    assert shown["policy"] == {"speed": 0.5, "max_memory": "8192M"}
    assert shown["host"]["claimed"]["speed"] == 0.8 and shown["host"]["speed"] == 0.5
    run(discomy_cli.handle_discomy_host_policy, session, ["small", "--unset", "speed"], capsys)
    out = run(discomy_cli.handle_discomy_host_policy, session, ["small"], capsys)
    assert "policy max_memory=8 GiB" in out and "speed 0.8 (claimed)" in out
    out = run(discomy_cli.handle_discomy_host_policy, session, ["small", "--clear"], capsys)
    assert "policy none" in out


def test_host_policy_errors_are_one_line_from_the_hub(world, session, capsys):
    with pytest.raises(SystemExit) as exc:
        discomy_cli.handle_discomy_host_policy(GOPTS, session, ["small", "--max-memory", "lots"])
    assert exc.value.code == 1 and "Invalid policy for host small: max_memory" in \
        capsys.readouterr().err
    world.perms = set()
    with pytest.raises(SystemExit) as exc:
        discomy_cli.handle_discomy_host_policy(GOPTS, session, ["small", "--speed", "1"])
    assert exc.value.code == 1 and "admin permission required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        discomy_cli.handle_discomy_host_policy(GOPTS, session, [])
    assert exc.value.code == 2
