#!/usr/bin/env python3
"""Run the Discomy hub plugin inside a real kojihub and show where tasks land.

Usage (as root, on a machine with PostgreSQL 15 and Debian's python3-rpm):

    python3 tests/integration/hub_real_kojihub.py /path/to/koji-source-tree

``/path/to/koji-source-tree`` is a checkout of koji's upstream source
(koji-project/koji, 1.34 or later), for example
``git clone /work/.mirror/koji-project+koji/repo /tmp/koji-src``. Nothing of it
is copied into this project.

What it does, all on 127.0.0.1, all in a temporary directory:

1. a throwaway venv for the hub's Python (``--venv``, default
   /tmp/discomy-kojihub-venv: system site packages for ``rpm``, plus
   psycopg2-binary, python-dateutil, defusedxml, requests);
2. PostgreSQL: ``initdb`` as user ``postgres`` (it refuses root), ``pg_ctl``
   on a free port, koji's ``schemas/schema.sql``, an admin user;
3. the hub: ``kojihub.kojixmlrpc.application`` under the stdlib wsgiref server
   with ``Plugins = discomy_hub`` and a discomy.conf ($DISCOMY_HUB_CONFIG);
4. five hosts with different host data, sent by each host itself through
   ``host.updateHost`` on an exclusive session (``liar1`` claims speed 3.5 and
   builds at 0.8); package constraints set with ``discomy.setPackageConstraints``;
   one host drained with ``discomy.drainHost``;
5. build history, made the way builders make it: for each finished build a
   ``build`` task, its ``buildArch`` subtask (``host.subtask``), both opened and
   closed by their host, and the build itself (``host.initBuild``, an SRPM made
   with rpmbuild and uploaded, ``host.completeBuild``); only the buildArch start
   times are moved back (a three-hour build cannot be waited for). Four packages
   are built on four hosts, so the hub learns each host's speed, and
   libreoffice's last buildArch took three hours, so the history rule makes it a
   power job;
6. buildArch tasks made with ``makeTask``; the scheduler run with
   ``scheduler.doRun(force=True)``; power jobs must go to big1, not to liar1;
   then ``build`` tasks routed by a channel policy that uses ``discomy_power``;
7. prints which host got each task, the scheduler log, ``discomy.explainTask``
   for a task that cannot be placed, and the koji CLI plugin's commands
   (``discomy-hosts`` with claimed, learned and in-force speeds;
   ``discomy-host-policy``);
8. a database error in the plugin's first query (its table renamed away): the
   pass falls back to stock koji's, which still assigns (a savepoint undoes the
   aborted transaction);
9. stock equivalence: hosts without Discomy data in another channel, 30
   ``sleep`` tasks scheduled by the plugin, freed, and scheduled again by stock
   koji after a hub restart with ``enabled = false``: the two must be identical.

Exit status 0 when every check passed, 1 otherwise. Servers are
stopped by pid at the end.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEBIAN_PYTHON = "/usr/bin/python3"
HUB_PACKAGES = ["psycopg2-binary", "python-dateutil", "defusedxml", "requests"]

HOSTS = {
    # name: (capacity, discomy host data)
    "small1": (4.0, {"cpus": 4, "memory_mb": 8192, "disk_free_mb": {"/var/lib/mock": 51200},
                     "speed": 0.8, "virt": ["chroot"]}),
    "mid1": (8.0, {"cpus": 16, "memory_mb": 32768, "disk_free_mb": {"/var/lib/mock": 512000},
                   "speed": 1.2, "virt": ["chroot"]}),
    "big1": (16.0, {"cpus": 64, "memory_mb": 262144, "disk_free_mb": {"/var/lib/mock": 2097152},
                    "speed": 2.5, "virt": ["kvm", "chroot"], "features": ["ssd"]}),
    "stock1": (4.0, None),  # a builder without the Discomy builder plugin
    # claims the speed of its SHA-NI benchmark; its builds say 0.8
    "liar1": (16.0, {"cpus": 64, "memory_mb": 262144, "disk_free_mb": {"/var/lib/mock": 2097152},
                     "speed": 3.5, "virt": ["chroot"]}),
}
# what each host's builds take: package work / true speed
TRUE_SPEED = {"small1": 0.8, "mid1": 1.2, "big1": 2.5, "liar1": 0.8}
HISTORY_PACKAGES = {"gcc": 2.0, "qt5": 1.0, "firefox": 1.5, "rust": 0.75}  # hours of work
POWER_BY_HISTORY = ("libreoffice", "small1", 3 * 3600)   # one build, three hours
CONSTRAINTS = {
    "llvm*": {"memory": "32G", "cpus": 16, "power": True},
    "kernel": {"virt": "kvm"},
    "chromium": {"memory": "64G", "disk": "100G"},
    "hugepkg": {"memory": "1T"},
}
# package -> hosts it may land on ("-" = must wait)
TASKS = [
    ("llvm", {"big1"}),
    ("libreoffice", {"big1"}),
    ("bash", {"small1", "stock1", "liar1"}),
    ("kernel", {"big1"}),
    ("chromium", {"big1", "liar1"}),
    ("coreutils", {"small1", "stock1", "liar1"}),
    ("hugepkg", {"-"}),
]
DRAINED = "mid1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kwargs):
    kwargs.setdefault("check", True)
    return subprocess.run(cmd, **kwargs)


def as_postgres(cmd, **kwargs):
    return run(["runuser", "-u", "postgres", "--"] + cmd, **kwargs)


def psql(port, sql=None, db="koji", file=None):
    cmd = [str(PG_BIN / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
           "-p", str(port), "-U", "postgres", "-d", db]
    cmd += ["-f", str(file)] if file else ["-c", sql]
    return run(cmd, stdout=subprocess.DEVNULL)


def ensure_venv(path):
    python = path / "bin" / "python"
    if not python.exists():
        # Debian's python3: its dist-packages hold python3-rpm
        run([DEBIAN_PYTHON, "-m", "venv", "--system-site-packages", str(path)])
    probe = "import psycopg2, dateutil, defusedxml, requests, rpm"
    if run([str(python), "-c", probe], check=False, stderr=subprocess.DEVNULL).returncode:
        run([str(python), "-m", "pip", "install", "-q"] + HUB_PACKAGES)
    return python


WSGI_SERVER = r'''
import io, sys, wsgiref.simple_server
from kojihub.kojixmlrpc import application
conf, port = sys.argv[1], int(sys.argv[2])

def app(environ, start_response):
    # the hub reads its input to EOF; wsgiref hands over the raw keep-alive socket
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
    environ["koji.hub.ConfigFile"] = conf
    environ["koji.hub.ConfigDir"] = conf + ".d"
    return application(environ, start_response)

class Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass

wsgiref.simple_server.make_server("127.0.0.1", port, app, handler_class=Quiet).serve_forever()
'''


def start_postgres(work):
    data = work / "pg"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    os.chmod(work, 0o755)
    as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres"],
                stdout=subprocess.DEVNULL)
    port = free_port()
    as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data / "log"), "-w",
                 "-o", f"-h 127.0.0.1 -p {port} -k {data}", "start"], stdout=subprocess.DEVNULL)
    return data, port


def create_koji_db(pg_port, koji_src):
    """koji's schema from the source tree, and its first admin (kojiadmin)."""
    psql(pg_port, "CREATE DATABASE koji", db="postgres")
    psql(pg_port, file=koji_src / "schemas" / "schema.sql")
    psql(pg_port, "INSERT INTO users (name, password, status, usertype) "
                  "VALUES ('kojiadmin', 'kojiadmin', 0, 0); "
                  "INSERT INTO user_perms (user_id, perm_id, creator_id) "
                  "SELECT u.id, p.id, u.id FROM users u, permissions p "
                  "WHERE u.name = 'kojiadmin' AND p.name = 'admin'")


def stop_postgres(data):
    as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                check=False, stdout=subprocess.DEVNULL)


DISCOMY_POLICY = """channel =
    has req_channel :: req
    is_child_task :: parent
    discomy_power :: use bigiron
    all :: use default
"""
# unknown_fits off: stock1, which publishes nothing, takes no constrained task
DISCOMY_SCHEDULER = ("[scheduler]\nenabled = true\nstrong_speed = 2.0\npower_after = 2h\n"
                     "reserve_after = 30m\nlog_reasons = true\nunknown_fits = false\n")


def write_hub_config(work, pg_port, plugins="discomy_hub",
                     plugin_path=ROOT / "koji-plugins" / "hub", policy=DISCOMY_POLICY,
                     scheduler=DISCOMY_SCHEDULER, hub_extra=""):
    """hub.conf (and Discomy's plugin config) for a kojihub on the test's PostgreSQL."""
    (work / "koji").mkdir()
    conf = work / "hub.conf"
    conf.write_text(f"""[hub]
DBName = koji
DBUser = postgres
DBHost = 127.0.0.1
DBPort = {pg_port}
KojiDir = {work / 'koji'}
Plugins = {plugins}
PluginPath = {plugin_path}
LogLevel = INFO
CheckClientIP = False
{hub_extra}
[policy]
{policy}""")
    (work / "hub.conf.d").mkdir()
    discomy = work / "discomy.conf"
    discomy.write_text(scheduler)
    return conf, discomy


def sidetag_policy(tags):
    """The policies a side-tag campaign needs: side tags of ``tags`` (a space-separated
    list), tagging by admins, side-tag owners and the tag permission, builds from SCM."""
    return f"""sidetag =
    tag {tags} && compare number_of_tags <= 10 :: allow
    all :: deny
tag =
    has_perm admin :: allow
    is_sidetag_owner :: allow
    has_perm tag :: allow
    all :: deny
package_list =
    has_perm admin :: allow
    all :: deny
build_from_scm =
    all :: allow
"""


def hub_log_errors(work, marks=("Traceback", "[ERROR]")):
    """The lines of the hub's log (``work/hub.log``) holding any of ``marks``."""
    return [line for line in (work / "hub.log").read_text().splitlines()
            if any(mark in line for mark in marks)]


def tear_down(hub, pg_data, work, keep=False, out=print):
    """Stop the hub and PostgreSQL (each when started) and remove ``work`` unless kept."""
    if hub is not None:
        hub.stop()
    if pg_data is not None:
        stop_postgres(pg_data)
    if keep:
        out(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def wait_for(url, koji, seconds=60):
    deadline = time.time() + seconds
    while True:
        try:
            return koji.ClientSession(url).getAPIVersion()
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def login(koji, url, user, exclusive=False):
    session = koji.ClientSession(url, {"user": user, "password": user})
    session.login()
    if exclusive:
        session.exclusiveSession(force=True)
    return session


def make_srpm(work, name, release):
    """A source package ``name-1.0-release`` (rpmbuild -bs of a spec with nothing to build)."""
    top = work / "rpmbuild"
    spec = top / f"{name}.spec"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(f"Name: {name}\nVersion: 1.0\nRelease: {release}\nSummary: {name}\n"
                    f"License: MIT\n\n%description\n{name}\n\n%files\n")
    run(["rpmbuild", "-bs", "--define", f"_topdir {top}", str(spec)], stdout=subprocess.DEVNULL)
    return top / "SRPMS" / f"{name}-1.0-{release}.src.rpm"


def finish_build(koji, admin, hosts, work, package, release, host, seconds):
    """A complete build of ``package`` whose one buildArch ran on ``host``; its task id.

    Every row is koji's own, made through the hub's API as kojid makes them;
    the buildArch's start time is moved back afterwards to last ``seconds``.
    """
    session = hosts[host]
    parent = admin.makeTask("build", [f"git+https://git.example/rpms/{package}.git#main",
                                      "el9", {}])
    admin.assignTask(parent, host, force=True)
    session.host.openTask(parent)
    srpm = make_srpm(work, package, release)
    serverdir = koji.pathinfo.taskrelpath(parent)     # where kojid uploads a task's files
    session.uploadWrapper(str(srpm), serverdir)
    child = session.host.subtask("buildArch", [f"{serverdir}/{srpm.name}", "el9-build",
                                               "x86_64", True, {}], parent, arch="x86_64")
    admin.assignTask(child, host, force=True)
    session.host.openTask(child)
    result = koji.xmlrpcplus.dumps(({"srpms": [f"{serverdir}/{srpm.name}"]},),
                                   methodresponse=1, allow_none=1)
    session.host.closeTask(child, result)
    build_id = session.host.initBuild({"name": package, "version": "1.0", "release": release,
                                       "epoch": None, "task_id": parent})
    session.host.completeBuild(parent, build_id, f"{serverdir}/{srpm.name}", [])
    session.host.closeTask(parent, koji.xmlrpcplus.dumps((build_id,), methodresponse=1))
    return child, seconds


def build_history(koji, admin, url, pg_port, work):
    """Finished builds: every history package on every host at its true speed, and
    libreoffice once, for three hours. Returns the number of builds."""
    hosts = {name: login(koji, url, name, exclusive=True) for name in TRUE_SPEED}
    done = []
    release = 0
    for package, hours in HISTORY_PACKAGES.items():
        for host, speed in TRUE_SPEED.items():
            release += 1
            done.append(finish_build(koji, admin, hosts, work, package, str(release), host,
                                     round(hours * 3600 / speed)))
    package, host, seconds = POWER_BY_HISTORY
    done.append(finish_build(koji, admin, hosts, work, package, "1", host, seconds))
    psql(pg_port, "; ".join(f"UPDATE task SET start_time = completion_time - "
                            f"interval '{seconds} seconds' WHERE id = {task_id}"
                            for task_id, seconds in done))
    for session in hosts.values():
        session.logout()
    return len(done)


def scenario(koji, url, pg_port, hub_log, koji_src):
    admin = login(koji, url, "kojiadmin")
    admin.createTag("el9-build", arches="x86_64")
    admin.createTag("el9", arches="x86_64")
    admin.createBuildTarget("el9", "el9-build", "el9")
    admin.addChannel("bigiron")
    for name, (capacity, _) in HOSTS.items():
        admin.addHost(name, ["x86_64"])
        admin.editHost(name, capacity=capacity)
        psql(pg_port, f"UPDATE users SET password = '{name}' WHERE name = '{name}'")
    started = time.time()
    count = build_history(koji, admin, url, pg_port, hub_log.parent)
    print(f"{count} finished builds made through the hub's API in {time.time() - started:.1f} s")
    for glob, constraints in CONSTRAINTS.items():
        admin.discomy.setPackageConstraints("el9-build", glob, constraints)
    try:
        admin.discomy.setPackageConstraints("el9-build", "x", {"ram": "4G"})
        print("ERROR: invalid constraints were accepted")
        return 1
    except koji.ParameterError as exc:
        print(f"setPackageConstraints refuses bad input: {exc}")
    for name, (_, data) in HOSTS.items():
        host = login(koji, url, name, exclusive=True)
        hostdata = {"methods": ["buildArch"], "maxjobs": 4}
        if data is not None:
            hostdata["discomy"] = dict(data, version=1, draining=False, probed_at=time.time())
        host.host.updateHost(0.0, True, hostdata)
        host.logout()
    admin.discomy.drainHost(DRAINED)

    task_ids = {}
    for n, (package, _) in enumerate(TASKS):
        srpm = f"tasks/1/{n}/{package}-1.0-1.el9.src.rpm"
        task_ids[package] = admin.makeTask("buildArch", [srpm, "el9-build", "x86_64", True, {}],
                                           arch="x86_64", priority=20)
    admin.scheduler.doRun(force=True)

    hosts = {h["id"]: h["name"] for h in admin.listHosts()}
    failures = 0
    print("\nPlacement (package -> host):")
    for package, expected in TASKS:
        info = admin.getTaskInfo(task_ids[package])
        got = hosts.get(info["host_id"], "-")
        ok = got in expected
        failures += not ok
        print(f"  task {task_ids[package]:>3} {package:<10} -> {got:<7} "
              f"expected {'/'.join(sorted(expected)):<14} {'ok' if ok else 'WRONG'}")
    if any(hosts.get(admin.getTaskInfo(t)["host_id"]) == DRAINED for t in task_ids.values()):
        print(f"  WRONG: drained host {DRAINED} got a task")
        failures += 1

    print("\nScheduler log (koji scheduler-logs) of these tasks:")
    for msg in admin.scheduler.getLogMessages():
        if msg["task_id"] not in task_ids.values():
            continue
        task = f"task {msg['task_id']}" if msg["task_id"] else ""
        host = f"host {hosts.get(msg['host_id'], msg['host_id'])}" if msg["host_id"] else ""
        print(f"  {' '.join(x for x in (task, host) if x):<22} {msg['msg']}")

    print("\nchannel policy with discomy_power (build tasks, made after the pass):")
    channels = {c["id"]: c["name"] for c in admin.listChannels()}
    for package, expected in (("llvm", "bigiron"), ("bash", "default")):
        source = f"git+https://git.example/rpms/{package}.git#main"
        task_id = admin.makeTask("build", [source, "el9", {}])
        got = channels[admin.getTaskInfo(task_id)["channel_id"]]
        failures += got != expected
        print(f"  build {package:<5} -> channel {got:<8} expected {expected}")

    print(f"\ndiscomy.explainTask({task_ids['hugepkg']}) (hugepkg needs 1 TiB):")
    explained = admin.discomy.explainTask(task_ids["hugepkg"])
    for verdict in explained["hosts"]:
        print(f"  {verdict['name']:<7} {'fits' if verdict['eligible'] else 'no  '} "
              f"{'; '.join(verdict['reasons'])}")
    if any(v["eligible"] for v in explained["hosts"]):
        failures += 1

    print("\nkoji discomy-hosts (the CLI plugin):")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(koji_src), str(koji_src / "cli"), str(ROOT / "orchestrator")]))
    cli_conf = hub_log.parent / "koji.conf"
    cli_conf.write_text(f"[koji]\nserver = {url}\nauthtype = password\n"
                        f"plugin_paths = {ROOT / 'koji-plugins' / 'cli'}\n")
    # koji's config file takes no user or password: the global options do
    cli = [sys.executable, str(koji_src / "cli" / "koji"), "-c", str(cli_conf),
           "--user", "kojiadmin", "--password", "kojiadmin"]
    out = run(cli + ["discomy-hosts"], env=env, capture_output=True, text=True, check=False)
    print(out.stdout + out.stderr)
    failures += out.returncode != 0
    failures += trust_checks(admin, out.stdout)
    for command in (["list-pkg-constraints", "el9-build"],
                    ["explain-task", str(task_ids["llvm"])],
                    ["scheduler-logs", "--task", str(task_ids["llvm"])],
                    ["discomy-host-policy", "liar1", "--speed", "1.0", "--max-memory", "64G"]):
        print("koji " + " ".join(command))
        out = run(cli + command, env=env, capture_output=True, text=True, check=False)
        print(out.stdout + out.stderr)
        failures += out.returncode != 0
    settings = admin.discomy.schedulerSettings()
    expected = {"RunInterval": 60, "MaxJobs": 15, "CapacityOvercommit": 5, "MaxRepoTasks": 7}
    print(f"discomy.schedulerSettings: {settings}: {'ok' if settings == expected else 'WRONG'}")
    failures += settings != expected
    liar = admin.discomy.hostCapabilities("liar1")[0]
    ok = (liar["speed"], liar["speed_source"], liar["memory_mb"]) == (1.0, "pinned", 65536)
    print(f"after the policy, liar1 in force: speed {liar['speed']} ({liar['speed_source']}), "
          f"memory {liar['memory_mb']} MiB: {'ok' if ok else 'WRONG'}")
    failures += not ok

    errors = [line for line in hub_log.read_text().splitlines()
              if "discomy" in line and "[ERROR]" in line]
    for line in errors:
        print("hub log:", line)
    failures += len(errors)
    print("placements:", "all as expected" if not failures else f"{failures} problem(s)")
    return 1 if failures else 0


def trust_checks(admin, table):
    """liar1's claim is overridden by what its builds showed; honest hosts keep theirs."""
    failures = 0
    caps = {h["name"]: h for h in admin.discomy.hostCapabilities()}
    print("claimed / learned / in force (hostCapabilities):")
    for name in TRUE_SPEED:
        h = caps[name]
        learned = (h["learned"] or {}).get("speed")
        expected = TRUE_SPEED[name] if name == "liar1" else h["claimed"]["speed"]
        ok = learned == TRUE_SPEED[name] and h["speed"] == expected
        failures += not ok
        print(f"  {name:<7} claimed {h['claimed']['speed']}, learned {learned}, in force "
              f"{h['speed']} ({h['speed_source']}) {'ok' if ok else 'WRONG'}")
    if "liar1: speed learned 0.8 from 4 packages" not in table:
        print("  WRONG: koji discomy-hosts does not say why liar1's speed is not its claim")
        failures += 1
    return failures


def savepoint_fallback(koji, hub, pg_port):
    """A failed query in the plugin's pass: the stock pass must still assign (a savepoint)."""
    print("\nA database error in the plugin's pass (scheduler_sys_data renamed away):")
    admin = login(koji, hub.url, "kojiadmin")
    before = hub.log_path.read_text().count("placement failed")
    # hosts that have not checked in for ReadyTimeout are not ready: stock1 checks in now
    stock1 = login(koji, hub.url, "stock1", exclusive=True)
    stock1.host.updateHost(0.0, True, {"methods": ["sleep"], "maxjobs": 8})
    stock1.logout()
    task_id = admin.makeTask("sleep", [1], arch="noarch")
    psql(pg_port, "ALTER TABLE scheduler_sys_data RENAME TO discomy_renamed_away")
    try:
        admin.scheduler.doRun(force=True)
        error = None
    except Exception as exc:      # without the savepoint: InFailedSqlTransaction, a plain Fault
        error = str(exc).strip().splitlines()[-1]
    finally:
        psql(pg_port, "ALTER TABLE discomy_renamed_away RENAME TO scheduler_sys_data")
    host_id = admin.getTaskInfo(task_id)["host_id"]
    fell_back = hub.log_path.read_text().count("placement failed") == before + 1
    ok = error is None and host_id is not None and fell_back
    print(f"  scheduler.doRun: {error or 'no error'}; the plugin's pass "
          f"{'failed and was undone' if fell_back else 'DID NOT FAIL'}; stock koji's pass "
          f"assigned task {task_id}: {'yes' if host_id else 'NO'}")
    admin.cancelTask(task_id)
    return 0 if ok else 1


class Hub:
    """The kojihub process under wsgiref; restarted to re-read discomy.conf."""

    def __init__(self, python, conf, discomy_conf, koji_src, log_path):
        self.args = [str(python), "-c", WSGI_SERVER, str(conf)]
        self.env = dict(os.environ, DISCOMY_HUB_CONFIG=str(discomy_conf),
                        PYTHONPATH=os.pathsep.join([str(koji_src), str(ROOT / "orchestrator")]))
        self.discomy_conf = discomy_conf
        self.log_path = log_path
        self.proc = None
        self.url = None

    def start(self, koji):
        port = free_port()
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(self.args + [str(port)], env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}/kojihub"
        wait_for(self.url, koji)
        return self.url

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def stock_equivalence(koji, hub, admin):
    """Hosts without Discomy data: the plugin's pass must equal stock koji's.

    The same free tasks are scheduled twice from the same database state: once
    with the plugin enabled, then freed again and scheduled after a hub restart
    with ``enabled = false`` (stock ``do_schedule``).
    """
    print("\nStock equivalence (hosts without Discomy data, channel 'plain'):")
    for task in admin.listTasks(opts={"state": [koji.TASK_STATES[s] for s in
                                                ("FREE", "ASSIGNED", "OPEN")]}):
        admin.cancelTask(task["id"])
    admin.addChannel("plain")
    plain = {"plain1": (2.0, "x86_64", 3), "plain2": (3.0, "x86_64 aarch64", None),
             "plain3": (4.0, "aarch64", 2), "plain4": (1.5, "x86_64", None),
             "plain5": (6.0, "x86_64", 5)}
    for name, (capacity, arches, _) in plain.items():
        admin.addHost(name, arches.split())
        admin.editHost(name, capacity=capacity)
        admin.addHostToChannel(name, "plain")
        admin.removeHostFromChannel(name, "default")
    for name, (_, _, maxjobs) in plain.items():
        psql_set_password(hub, name)
        session = login(koji, hub.url, name, exclusive=True)
        session.host.updateHost(0.0, True, {"methods": ["sleep"], "maxjobs": maxjobs}
                                if maxjobs else None)
        session.logout()
    tasks = []
    for n in range(30):
        arch = ("x86_64", "noarch", "aarch64")[n % 3]
        tasks.append(admin.makeTask("sleep", [1], arch=arch, channel="plain",
                                    priority=(20, 10, 30, 20, 15)[n % 5]))

    def one_pass():
        admin_now = login(koji, hub.url, "kojiadmin")
        admin_now.scheduler.doRun(force=True)
        placed = [(t, admin_now.getTaskInfo(t)["host_id"]) for t in tasks]
        for t, host_id in placed:
            if host_id:
                admin_now.freeTask(t)
        return placed

    with_plugin = one_pass()
    hub.stop()
    text = hub.discomy_conf.read_text().replace("enabled = true", "enabled = false")
    hub.discomy_conf.write_text(text)
    hub.start(koji)
    stock = one_pass()
    assigned = sum(1 for _, h in with_plugin if h)
    same = with_plugin == stock
    print(f"  {len(tasks)} tasks, {assigned} assigned by the plugin's pass; "
          f"stock koji's pass from the same state: {'identical' if same else 'DIFFERENT'}")
    if not same:
        for (t, a), (_, b) in zip(with_plugin, stock):
            if a != b:
                print(f"  task {t}: plugin host {a}, stock host {b}")
    return 0 if same and assigned else 1


def psql_set_password(hub, name):
    psql(hub.pg_port, f"UPDATE users SET password = '{name}' WHERE name = '{name}'")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("koji_src", type=Path, help="a koji source tree (1.34 or later)")
    parser.add_argument("--venv", type=Path, default=Path("/tmp/discomy-kojihub-venv"),
                        help="throwaway venv for the hub's Python (created if missing)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    koji_src = args.koji_src.resolve()
    if not (koji_src / "kojihub" / "scheduler.py").is_file():
        parser.error(f"{koji_src} is not a koji source tree with kojihub/scheduler.py")
    python = ensure_venv(args.venv)
    # this process talks to the hub with the tree's own koji library
    sys.path[:0] = [str(koji_src), str(ROOT / "orchestrator")]
    import koji

    work = Path(tempfile.mkdtemp(prefix="discomy-kojihub-"))
    pg_data, hub = None, None
    try:
        pg_data, pg_port = start_postgres(work)
        create_koji_db(pg_port, koji_src)
        # completeBuild would queue buildNotification tasks
        # (MaxRepoTasks: a value of its own, read back with discomy.schedulerSettings)
        conf, discomy_conf = write_hub_config(
            work, pg_port, hub_extra="DisableNotifications = True\nMaxRepoTasks = 7\n")
        hub = Hub(python, conf, discomy_conf, koji_src, work / "hub.log")
        hub.pg_port = pg_port
        url = hub.start(koji)
        print(f"kojihub from {koji_src} on {url}, PostgreSQL on 127.0.0.1:{pg_port}")
        failed = scenario(koji, url, pg_port, hub.log_path, koji_src)
        failed |= savepoint_fallback(koji, hub, pg_port)
        failed |= stock_equivalence(koji, hub, login(koji, hub.url, "kojiadmin"))
        print("RESULT:", "all checks passed" if not failed else "some checks FAILED")
        return failed
    finally:
        tear_down(hub, pg_data, work, args.keep)


if __name__ == "__main__":
    sys.exit(main())
