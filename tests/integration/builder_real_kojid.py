#!/usr/bin/env python3
"""Run the Discomy builder plugin inside a real kojid against a real kojihub.

Usage (as root):

    python3 tests/integration/builder_real_kojid.py /path/to/koji-source-tree

It reuses ``hub_real_kojihub.py`` to start PostgreSQL and a kojihub (with the
Discomy hub plugin) on 127.0.0.1 from a koji source tree, adds a host
``builder1``, then starts ``builder/kojid`` from the same tree in the foreground
with ``plugins = discomy_builder``. It prints the scheduler host data the hub
stored for the builder, drains the builder with the flag file that
``discomy-builder drain`` writes and checks the hub sees ``draining``.

kojid needs Debian's python3-dnf and python3-librepo and, from PyPI, CT3 and
python-multilib in the hub's throwaway venv (added when missing). kojid scans
``/etc/mock/koji`` at start, so that directory is created if missing. Exit
status 0 when every check passed; servers are stopped by pid.
"""

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
KOJID_PACKAGES = ["CT3", "python-multilib"]


def hub_module():
    spec = importlib.util.spec_from_file_location("hub_real_kojihub", HERE / "hub_real_kojihub.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_host_data(session, host_id, predicate, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        data = session.scheduler.getHostData(host_id)
        if data and predicate(data[0]["data"] if isinstance(data, list) else data):
            return data[0]["data"] if isinstance(data, list) else data
        time.sleep(1)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("koji_src", type=Path)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/discomy-kojihub-venv"))
    args = parser.parse_args(argv)
    hubmod = hub_module()
    koji_src = args.koji_src.resolve()
    python = hubmod.ensure_venv(args.venv)
    if hubmod.run([str(python), "-c", "import Cheetah, multilib, dnf, librepo"], check=False,
                  stderr=subprocess.DEVNULL).returncode:
        hubmod.run([str(python), "-m", "pip", "install", "-q"] + KOJID_PACKAGES)
    sys.path[:0] = [str(koji_src), str(ROOT / "orchestrator")]
    import koji

    os.makedirs("/etc/mock/koji", exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="discomy-kojid-"))
    pg_data = hub = kojid = None
    failed = False
    try:
        pg_data, pg_port = hubmod.start_postgres(work)
        hubmod.create_koji_db(pg_port, koji_src)
        conf, discomy_conf = hubmod.write_hub_config(work, pg_port)
        hub = hubmod.Hub(python, conf, discomy_conf, koji_src, work / "hub.log")
        url = hub.start(koji)
        admin = hubmod.login(koji, url, "kojiadmin")
        host_id = admin.addHost("builder1", ["x86_64"])
        hubmod.psql(pg_port, "UPDATE users SET password = 'builder1' WHERE name = 'builder1'")
        print(f"kojihub on {url}; host builder1 = {host_id}")

        for sub in ("topdir", "workdir", "mock", "state"):
            (work / sub).mkdir()
        plugin_conf = work / "discomy-builder.conf"
        plugin_conf.write_text(f"[discomy]\ndrain_flag = {work / 'state' / 'drain'}\n"
                               f"state_file = {work / 'state' / 'state.json'}\n"
                               f"bench_cache = {work / 'state' / 'speed.json'}\n"
                               f"paths = {work / 'mock'} {work / 'workdir'}\nprobe_ttl = 1\n")
        kojid_conf = work / "kojid.conf"
        kojid_conf.write_text(f"[kojid]\nserver = {url}\nuser = builder1\npassword = builder1\n"
                              f"topdir = {work / 'topdir'}\nworkdir = {work / 'workdir'}\n"
                              f"mockdir = {work / 'mock'}\nsleeptime = 1\nmaxjobs = 3\n"
                              f"topurl = http://127.0.0.1/kojifiles\n"
                              f"minspace = 1\nplugins = discomy_builder\n"
                              f"pluginpath = {ROOT / 'koji-plugins' / 'builder'}\n")
        env = dict(os.environ, DISCOMY_BUILDER_CONFIG=str(plugin_conf),
                   PYTHONPATH=os.pathsep.join([str(koji_src), str(ROOT / "orchestrator")]))
        log = open(work / "kojid.log", "w")
        kojid = subprocess.Popen([str(python), str(koji_src / "builder" / "kojid"), "--fg",
                                  "--force-lock", "-c", str(kojid_conf), "--debug"],
                                 env=env, stdout=log, stderr=subprocess.STDOUT)
        data = wait_host_data(admin, host_id, lambda d: d and "discomy" in d)
        if data is None:
            print("FAILED: the hub never saw Discomy host data; kojid log tail:")
            print("".join(open(work / "kojid.log").readlines()[-30:]))
            return 1
        print("host data the hub stored for builder1:")
        print(json.dumps(data, indent=2, sort_keys=True))
        ours = data["discomy"]
        for key in ("cpus", "memory_mb", "disk_free_mb", "speed", "virt", "arches_native"):
            if key not in ours:
                print(f"FAILED: {key} missing")
                failed = True
        if data.get("maxjobs") != 3 or "methods" not in data:
            print("FAILED: koji's own keys were not kept")
            failed = True
        (work / "state" / "drain").touch()
        drained = wait_host_data(admin, host_id, lambda d: d and d.get("discomy", {}).get("draining"))
        print("after `discomy-builder drain`: draining =",
              bool(drained and drained["discomy"].get("draining")))
        failed |= not drained
        print("RESULT:", "all checks passed" if not failed else "some checks FAILED")
        return 1 if failed else 0
    finally:
        if kojid is not None:
            kojid.terminate()
            try:
                kojid.wait(30)
            except subprocess.TimeoutExpired:
                kojid.kill()
        if hub is not None:
            hub.stop()
        if pg_data is not None:
            hubmod.stop_postgres(pg_data)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
