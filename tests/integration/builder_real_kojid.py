#!/usr/bin/env python3
"""Run the Discomy builder plugin inside a real kojid against a real kojihub.

Usage (as root):

    python3 tests/integration/builder_real_kojid.py /path/to/koji-source-tree

It reuses ``hub_real_kojihub.py`` to start PostgreSQL and a kojihub (with the
Discomy hub plugin, ``RunInterval = 1``) on 127.0.0.1 from a koji source tree,
adds a host ``builder1``, then starts ``builder/kojid`` from the same tree in
the foreground with ``plugins = discomy_builder``. The plugin's probe reads the
recorded 16-cpu builder ``tests/data/hosts/builder16-idle``
(``DISCOMY_PROBE_ROOT``), so the numbers are exact on any machine.

1. Host data: the hub stores the probe under ``"discomy"`` next to koji's keys.
2. -jN: kojid makes the build tag's repo (a real ``newRepo`` task); a package
   with a day of build history (so koji weighs its buildArch 19.5) is built
   from an SRPM made with rpmbuild from ``examples/corelib.spec``; the buildArch
   task writes its mock config and runs mock, here ``tests/standins/mock_standin``
   (pointed at by the stand-in plugin ``kojid_mock_standin``), which records the
   config and stops the task. The recorded config must give ``-j16``, by
   ``rpm --eval '%{?_smp_mflags}'`` over its macros.
3. Drain, from both ends and with koji's own ``disable-host``: the builder
   reports itself not ready, a task assigned to it comes back at once (not at
   the hub's AssignTimeout), each end shows both switches, and after undrain a
   task runs again.
4. One fit test for both ends: kojid refuses a buildArch assigned to it that
   the hub would not place there, by the hub's ``[constraints]`` defaults or
   under the admin's ``koji discomy-host-policy`` cap, and takes one that the
   hub placed there because the admin pinned more memory than the probe sees.

kojid needs Debian's python3-dnf and python3-librepo and, from PyPI, CT3 and
python-multilib in the hub's throwaway venv (added when missing), plus what the
Discomy builder plugin imports (PyYAML, as the discomy-builder RPM requires it). kojid scans
``/etc/mock/koji`` at start, so that directory is created if missing; the mock
configs kojid writes there are removed at the end. Exit status 0 when every
check passed; servers are stopped by pid.
"""

import argparse
import functools
import http.server
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
KOJID_PACKAGES = ["CT3", "python-multilib", "pyyaml"]
HOST_TREE = ROOT / "tests" / "data" / "hosts" / "builder16-idle"
PACKAGE = "corelib"
HANDED_BACK_WITHIN_S = 30      # a stock hub's AssignTimeout is 300 s


def hub_module():
    spec = importlib.util.spec_from_file_location("hub_real_kojihub", HERE / "hub_real_kojihub.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_for(what, probe, seconds=30, interval=0.5):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    print(f"FAILED: timed out waiting for {what}")
    return None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_topdir(topdir):
    """kojid fetches SRPMs and repos from ``topurl``: koji's files over HTTP on loopback."""
    handler = functools.partial(_Quiet, directory=str(topdir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def host_data(session, host_id):
    rows = session.scheduler.getHostData(host_id)
    return (rows[0]["data"] if isinstance(rows, list) else rows) if rows else None


class Checks:
    def __init__(self):
        self.failed = 0

    def check(self, ok, what):
        print(f"  {'ok    ' if ok else 'FAILED'} {what}")
        self.failed += not ok
        return ok


class Tools:
    """The koji CLI (with the Discomy CLI plugin) and discomy-builder, as an admin runs them."""

    def __init__(self, koji_src, url, work):
        conf = work / "koji.conf"
        conf.write_text(f"[koji]\nserver = {url}\nauthtype = password\n"
                        f"plugin_paths = {ROOT / 'koji-plugins' / 'cli'}\n")
        # koji's config file takes no user or password: the global options do
        self.koji_cli = [sys.executable, str(koji_src / "cli" / "koji"), "-c", str(conf),
                         "--user", "kojiadmin", "--password", "kojiadmin"]
        self.koji_env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(koji_src), str(koji_src / "cli"), str(ROOT / "orchestrator")]))
        self.builder_cli = [sys.executable, "-m", "discomy.builder.drain_cli",
                            "--flag", str(work / "state" / "drain"),
                            "--state", str(work / "state" / "state.json")]
        self.builder_env = dict(os.environ, PYTHONPATH=str(ROOT / "orchestrator"))

    def koji(self, *args):
        out = subprocess.run(self.koji_cli + list(args), env=self.koji_env, capture_output=True,
                             text=True)
        print(f"  $ koji {' '.join(args)}\n" + "".join(f"    {line}\n" for line in
                                                         (out.stdout + out.stderr).splitlines()))
        return out.stdout + out.stderr

    def builder(self, *args):
        out = subprocess.run(self.builder_cli[:3] + list(args) + self.builder_cli[3:],
                             env=self.builder_env, capture_output=True, text=True)
        print(f"  $ discomy-builder {' '.join(args)}\n" + "".join(
            f"    {line}\n" for line in (out.stdout + out.stderr).splitlines()))
        return out.stdout + out.stderr


def setup_hub(admin, hubmod, pg_port):
    """A build tag with a repo policy-free scratch build path, and the package's history."""
    admin.addHostToChannel("builder1", "createrepo")
    admin.createTag("el9-build", arches="x86_64", extra={"rebuild_srpm": False})
    admin.createTag("el9", parent=None)
    admin.createBuildTarget("el9", "el9-build", "el9")
    # a day of build history: koji's updateWeight raises the buildArch to 1.5 + 18
    build_id = admin.createEmptyBuild(PACKAGE, "0.9", "1.el9", None)
    hubmod.psql(pg_port, "UPDATE build SET extra = '{\"koji_task_id\": 1}', completion_time = "
                         "(SELECT time FROM events WHERE id = build.create_event) "
                         f"+ interval '24 hours' WHERE id = {build_id}")


def make_srpm(work):
    from discomy.orchestration.rpmtools import rpmbuild

    return rpmbuild(ROOT / "examples" / f"{PACKAGE}.spec", work / "rpmbuild").srpm


def check_jobs(koji, admin, checks, work, record):
    print("\n-jN of a buildArch (a day of build history, alone on an idle 16-cpu builder):")
    task = admin.newRepo("el9-build")
    repo = wait_for("the el9-build repo", lambda: admin.getRepo("el9-build"), seconds=180)
    if not checks.check(bool(repo), f"kojid made the el9-build repo (newRepo task {task})"):
        print(admin.getTaskInfo(task))
        return
    srpm = make_srpm(work)
    serverdir = f"cli-build/discomy-{os.getpid()}"
    admin.uploadWrapper(str(srpm), serverdir)
    build_task = admin.build(f"{serverdir}/{srpm.name}", "el9", {"scratch": True})
    configs = wait_for("the mock stand-in's record", lambda: sorted(record.glob("*.cfg")),
                       seconds=240)
    arch_tasks = [t for t in admin.getTaskChildren(build_task) if t["method"] == "buildArch"]
    if not checks.check(bool(configs) and len(arch_tasks) == 1,
                        f"build task {build_task}: a buildArch task reached mock"):
        print(json.dumps(admin.getTaskChildren(build_task), indent=2, default=str))
        return
    arch_task = arch_tasks[0]
    wait_for("the buildArch task to end", lambda: admin.getTaskInfo(arch_task["id"])["state"]
             in (koji.TASK_STATES["FAILED"], koji.TASK_STATES["CLOSED"]), seconds=60)
    weight = admin.getTaskInfo(arch_task["id"])["weight"]
    checks.check(weight == 19.5, f"koji weighs buildArch {arch_task['id']} at {weight} "
                                 f"(1.5 + 18 for a day of history)")
    opts = {"config_opts": {"macros": {}, "plugin_conf": {}, "yum.conf": "", "dnf.conf": ""}}
    exec(configs[0].read_text(), opts)     # as mock reads its config
    macros = opts["config_opts"]["macros"]
    argv = ["rpm"]
    for name, value in macros.items():
        argv += ["--define", f"{name.lstrip('%')} {value}"]
    mflags = subprocess.run(argv + ["--eval", "%{?_smp_mflags}"], capture_output=True,
                            text=True, check=True).stdout.strip()
    print(f"  mock config {configs[0].name}: %_smp_build_ncpus = "
          f"{macros.get('%_smp_build_ncpus')}, rpm --eval '%{{?_smp_mflags}}' = {mflags}")
    checks.check(mflags == "-j16", "the buildroot builds with -j16")
    log = (work / "kojid.log").read_text()
    line = next((ln for ln in log.splitlines() if f"task {arch_task['id']}, buildroot" in ln), "")
    print(f"  kojid log: {line.split('discomy_builder')[-1].strip(' :]')}")
    checks.check("-j16: weight 19.5, 16 cpus of 16 online" in line,
                 "the plugin logged its inputs: its own weight, not counted against itself")


def handed_back(admin, host_id, task_id):
    refusals = admin.scheduler.getTaskRefusals(clauses=[["task_id", "=", task_id]])
    return [r for r in refusals if r["host_id"] == host_id and r["by_host"]]


def assign_and_time_hand_back(koji, admin, host_id, checks, expect):
    task_id = admin.makeTask("sleep", [1])
    admin.assignTask(task_id, "builder1")
    started = time.time()
    refused = wait_for(f"task {task_id} to come back", lambda: handed_back(admin, host_id, task_id),
                       seconds=HANDED_BACK_WITHIN_S)
    seconds = time.time() - started
    msg = refused[0]["msg"] if refused else "-"
    checks.check(bool(refused) and expect in msg and refused[0]["soft"],
                 f"task {task_id} assigned to builder1 came back after {seconds:.1f} s: {msg}")
    free = admin.getTaskInfo(task_id)["state"] == koji.TASK_STATES["FREE"]
    checks.check(free, f"task {task_id} is free for other hosts")
    admin.cancelTask(task_id)


def ready(admin):
    return admin.getHost("builder1")["ready"]


def check_drain(koji, admin, host_id, tools, checks, work):
    state_file = work / "state" / "state.json"

    def state():
        try:
            return json.loads(state_file.read_text())
        except (OSError, ValueError):
            return {}

    print("\nDrain from the builder (discomy-builder drain):")
    tools.builder("drain")
    checks.check(bool(wait_for("draining in the host data", lambda: (host_data(admin, host_id)
                                                                     or {}).get("discomy", {})
                               .get("draining"))), "the hub sees draining in the host data")
    checks.check(bool(wait_for("builder1 not ready", lambda: not ready(admin))),
                 "kojid reports builder1 not ready")
    out = tools.koji("discomy-hosts")
    row = next((ln for ln in out.splitlines() if ln.startswith("builder1")), "")
    checks.check(" builder " in f" {row} ", "koji discomy-hosts shows who drains: builder")
    assign_and_time_hand_back(koji, admin, host_id, checks, "discomy-builder drain")
    tools.builder("undrain")
    checks.check(bool(wait_for("builder1 ready", lambda: ready(admin))),
                 "ready again after undrain")

    print("\nDrain from the hub (koji drain-host), seen on the builder:")
    tools.koji("drain-host", "builder1")
    checks.check(bool(wait_for("builder1 not ready", lambda: not ready(admin))),
                 "kojid honours the hub's drain and reports not ready")
    wait_for("the state file to show the hub's drain", lambda: state().get("drain") == ["hub"])
    out = tools.builder("status")
    checks.check(out.startswith("draining (koji drain-host)"),
                 "discomy-builder status shows the hub's drain")
    assign_and_time_hand_back(koji, admin, host_id, checks, "koji drain-host")

    print("\nBoth switches; each undrain names the one left:")
    tools.builder("drain")
    wait_for("both switches", lambda: state().get("drain") == ["hub", "builder"])
    out = tools.koji("undrain-host", "builder1")
    checks.check("still draining by its own flag" in out,
                 "koji undrain-host says the builder's own flag still holds")
    wait_for("the state file to drop the hub's drain", lambda: state().get("drain") == ["builder"])
    out = tools.builder("undrain")
    checks.check("taking tasks again" in out, "discomy-builder undrain lifts the last switch")
    checks.check(bool(wait_for("builder1 ready", lambda: ready(admin))), "builder1 ready again")

    print("\nkoji disable-host:")
    tools.koji("disable-host", "builder1")
    checks.check(bool(wait_for("builder1 not ready", lambda: not ready(admin))),
                 "a disabled builder1 reports not ready")
    assign_and_time_hand_back(koji, admin, host_id, checks, "koji disable-host")
    tools.koji("enable-host", "builder1")
    checks.check(bool(wait_for("builder1 ready", lambda: ready(admin))), "enabled: ready again")

    print("\nAfter every switch is off, builder1 runs tasks again:")
    task_id = admin.makeTask("sleep", [1])
    closed = wait_for(f"task {task_id} to close", lambda: admin.getTaskInfo(task_id)["state"]
                      == koji.TASK_STATES["CLOSED"], seconds=60)
    checks.check(bool(closed), f"sleep task {task_id} ran on builder1")


# the hub's discomy.conf: a default only the hub knows (the builder has 62.5 GiB)
HUB_DEFAULTS = '[constraints]\nbigmem* = {"memory": "100G"}\n'


def buildarch(admin, package):
    srpm = f"cli-build/none/{package}-1.0-1.el9.src.rpm"
    return admin.makeTask("buildArch", [srpm, "el9-build", "x86_64", True, {}], arch="x86_64")


def refused_when_assigned(koji, admin, host_id, checks, package, expect, why):
    task_id = buildarch(admin, package)
    admin.assignTask(task_id, "builder1")
    refused = wait_for(f"task {task_id} to be refused", lambda: handed_back(admin, host_id,
                                                                           task_id))
    msg = refused[0]["msg"] if refused else "-"
    checks.check(bool(refused) and expect in msg and refused[0]["soft"],
                 f"{why}: kojid refused task {task_id} ({package}): {msg}")
    admin.cancelTask(task_id)


def check_refusals(koji, admin, host_id, tools, checks):
    print("\nOne fit test for both ends (discomy.fitTask):")
    refused_when_assigned(koji, admin, host_id, checks, "bigmem-tool",
                          "builder1: needs 100 GiB memory, has 62.5 GiB (package bigmem-tool)",
                          "a hub default in discomy.conf")
    admin.discomy.setPackageConstraints("el9-build", "dbserver", {"memory": "32G"})
    tools.koji("discomy-host-policy", "builder1", "--max-memory", "16G")
    refused_when_assigned(koji, admin, host_id, checks, "dbserver",
                          "builder1: needs 32 GiB memory, has 16 GiB (package dbserver)",
                          "the admin's memory cap")
    tools.koji("discomy-host-policy", "builder1", "--unset", "max_memory", "--memory", "128G")
    task_id = buildarch(admin, "bigmem-tool")
    started = {koji.TASK_STATES[s] for s in ("OPEN", "CLOSED", "FAILED")}
    info = wait_for(f"task {task_id} to start", lambda: (
        lambda i: i if i["state"] in started else None)(admin.getTaskInfo(task_id)), seconds=60)
    taken = bool(info) and info["host_id"] == host_id and not handed_back(admin, host_id, task_id)
    checks.check(taken, f"the hub placed task {task_id} (bigmem-tool, 100 GiB) on builder1, "
                        f"pinned at 128 GiB, and kojid took it")
    if info and info["state"] == koji.TASK_STATES["OPEN"]:
        admin.cancelTask(task_id)
    tools.koji("discomy-host-policy", "builder1", "--clear")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("koji_src", type=Path)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/discomy-kojihub-venv"))
    args = parser.parse_args(argv)
    hubmod = hub_module()
    koji_src = args.koji_src.resolve()
    python = hubmod.ensure_venv(args.venv)
    if hubmod.run([str(python), "-c", "import Cheetah, multilib, dnf, librepo, yaml"], check=False,
                  stderr=subprocess.DEVNULL).returncode:
        hubmod.run([str(python), "-m", "pip", "install", "-q"] + KOJID_PACKAGES)
    sys.path[:0] = [str(koji_src), str(ROOT / "orchestrator")]
    import koji

    os.makedirs("/etc/mock/koji", exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="discomy-kojid-"))
    record = work / "mock-record"
    pg_data = hub = kojid = files = None
    checks = Checks()
    try:
        pg_data, pg_port = hubmod.start_postgres(work)
        hubmod.create_koji_db(pg_port, koji_src)
        conf, discomy_conf = hubmod.write_hub_config(
            work, pg_port, scheduler=hubmod.DISCOMY_SCHEDULER + HUB_DEFAULTS,
            hub_extra="RunInterval = 1\n")
        hub = hubmod.Hub(python, conf, discomy_conf, koji_src, work / "hub.log")
        url = hub.start(koji)
        admin = hubmod.login(koji, url, "kojiadmin")
        host_id = admin.addHost("builder1", ["x86_64"])
        hubmod.psql(pg_port, "UPDATE users SET password = 'builder1' WHERE name = 'builder1'")
        setup_hub(admin, hubmod, pg_port)
        print(f"kojihub on {url}; host builder1 = {host_id}")

        for sub in ("workdir", "mock", "state"):
            (work / sub).mkdir()
        files, topurl = serve_topdir(work / "koji")
        # the recorded builder, with the buildroot directory the probe measures
        tree = work / "host"
        shutil.copytree(HOST_TREE, tree)
        (tree / "var" / "lib" / "mock").mkdir(parents=True)
        plugin_conf = work / "discomy-builder.conf"
        plugin_conf.write_text(f"[discomy]\ndrain_flag = {work / 'state' / 'drain'}\n"
                               f"state_file = {work / 'state' / 'state.json'}\n"
                               f"bench_cache =\npaths = /var/lib/mock\nprobe_ttl = 1\n")
        kojid_conf = work / "kojid.conf"
        kojid_conf.write_text(
            f"[kojid]\nserver = {url}\nuser = builder1\npassword = builder1\n"
            f"topdir = {work / 'koji'}\ntopurl = {topurl}\nworkdir = {work / 'workdir'}\n"
            f"mockdir = {work / 'mock'}\nsleeptime = 1\nmaxjobs = 3\nminspace = 1\n"
            f"plugins = discomy_builder kojid_mock_standin\n"
            f"pluginpath = {ROOT / 'koji-plugins' / 'builder'}:{ROOT / 'tests' / 'standins'}\n")
        env = dict(os.environ, DISCOMY_BUILDER_CONFIG=str(plugin_conf),
                   DISCOMY_PROBE_ROOT=str(tree),
                   DISCOMY_MOCK_STANDIN=str(ROOT / "tests" / "standins" / "mock_standin"),
                   DISCOMY_MOCK_RECORD=str(record),
                   PYTHONPATH=os.pathsep.join([str(koji_src), str(ROOT / "orchestrator")]))
        log = open(work / "kojid.log", "w")
        kojid = subprocess.Popen([str(python), str(koji_src / "builder" / "kojid"), "--fg",
                                  "--force-lock", "-c", str(kojid_conf), "--debug"],
                                 env=env, stdout=log, stderr=subprocess.STDOUT)
        data = wait_for("Discomy host data", seconds=120, probe=lambda: (
            kojid.poll() is not None
            or (host_data(admin, host_id) or {}).get("discomy") and host_data(admin, host_id)))
        data = data if isinstance(data, dict) else None
        if data is None:
            print("FAILED: the hub never saw Discomy host data; kojid log tail:")
            print("".join(open(work / "kojid.log").readlines()[-30:]))
            return 1
        print("host data the hub stored for builder1:")
        print(json.dumps(data, indent=2, sort_keys=True))
        ours = data["discomy"]
        checks.check(ours.get("cpus") == 16 and ours.get("memory_mb") == 64000
                     and ours.get("load1") == 0.08
                     and "/var/lib/mock" in ours.get("disk_free_mb", {})
                     and ours.get("speed") and ours.get("arches_native") == ["x86_64"],
                     "the probe of the recorded builder reached the hub")
        checks.check(data.get("maxjobs") == 3 and "methods" in data, "koji's own keys are kept")

        check_jobs(koji, admin, checks, work, record)
        tools = Tools(koji_src, url, work)
        check_drain(koji, admin, host_id, tools, checks, work)
        check_refusals(koji, admin, host_id, tools, checks)
        print("RESULT:", "all checks passed" if not checks.failed else
              f"{checks.failed} check(s) FAILED")
        if checks.failed:
            print("kojid log tail:\n" + "".join(open(work / "kojid.log").readlines()[-40:]))
        return 1 if checks.failed else 0
    finally:
        if kojid is not None:
            kojid.terminate()
            try:
                kojid.wait(30)
            except subprocess.TimeoutExpired:
                kojid.kill()
        if hub is not None:
            hub.stop()
        if files is not None:
            files.shutdown()
        if pg_data is not None:
            hubmod.stop_postgres(pg_data)
        for recorded in record.glob("*.json"):
            written = Path(json.loads(recorded.read_text())["config"])
            if written.parent == Path("/etc/mock/koji"):
                written.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
