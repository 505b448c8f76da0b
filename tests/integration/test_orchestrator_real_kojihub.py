"""The orchestrator's koji backend against a real kojihub (koji's source tree,
PostgreSQL on loopback), through the same machinery as hub_real_kojihub.py.

It runs on koji's upstream tree (the ``koji_src`` fixture: the shared
tarball, or DISCOMY_KOJI_SRC; 1.35 or later, for ``repo.request``), as root
(PostgreSQL runs as ``postgres``). Also runnable by hand with the project's venv, printing each check
and writing every hub call the backend made, with the shape of its answer:

    .venv/bin/python tests/integration/test_orchestrator_real_kojihub.py \
        /path/to/koji-src [--calls calls.json] [--keep]

The hub loads koji's own ``sidetag_hub`` plugin. There is no kojid: a builder
thread does, through koji's host API on a host session, what kojid's tasks
would do, without building anything:

- ``build``: ``host.openTask``; a scratch build is closed; a real build gets
  ``host.initBuild`` (release ``1`` plus the build tag's ``rpm.macro.dist``,
  the side tag's own ``dist`` included), is marked COMPLETE with one SQL update
  (``host.completeBuild`` wants real rpms), tagged with ``host.tagBuild`` into
  the target's destination and the task closed. A package listed in
  ``FAILING`` fails the task with a koji BuildError fault, as kojid sends it;
- ``newRepo`` (made by ``repo.checkQueue``, kojira's call): ``host.repoInit``,
  ``host.repoDone`` with no repodata, the task closed with ``[repo_id, event]``;
- ``tagBuild`` (a merge): ``host.tagBuild`` with the task's own arguments.

Tags: ``el9`` (destination), ``el9-build`` (inherits it; extra
``rpm.macro.dist = .el9`` and ``sidetag_rpm_macros_allowed = dist``), target
``el9-candidate``; a ``sidetag`` policy allowing side tags of ``el9-build``; the
campaign user ``discomy`` holds only the ``tag`` permission (the merge). Every
package first gets a build in ``el9`` through the builder, recording its source.

Campaigns and checks: a side-tag campaign of four packages in three tiers (an
unmarked side tag left by a crash taken over, ``editSideTag`` dist, builds,
repo waits, merge into the destination, side tag removed); single calls (find,
poll of an unknown task, a refused priority, a repo request the hub has cleaned
up, hold-back with no ready host, a build found again while FREE); then a
scratch campaign where one package fails. The two tests at the end keep what
the real hub showed as checks on the stand-in, and always run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT / "orchestrator")]

import hub_real_kojihub as real  # noqa: E402
from realkoji import Problems  # noqa: E402

TARGET, BUILD_TAG, DEST_TAG = "el9-candidate", "el9-build", "el9"
SCM = "git+https://src.example.org/rpms/{name}.git#main"
PACKAGES = ("parsekit", "alpha", "beta", "other", "broken")
# the rebuild after parsekit changed: alpha needs parsekit, beta needs alpha
# (name, tier, deps, remaining seconds of its chain)
SIDETAG_NODES = [("parsekit", 0, (), 300.0), ("alpha", 1, ("parsekit",), 200.0),
                 ("beta", 2, ("alpha",), 100.0), ("other", 0, (), 50.0)]
SCRATCH_NODES = [("parsekit", 0, (), 300.0), ("broken", 1, ("parsekit",), 200.0),
                 ("beta", 2, ("broken",), 100.0), ("other", 0, (), 50.0)]
# campaign builds (those with custom_user_metadata) of these fail
FAILING = {"broken": "error building package (arch x86_64), mock exited with status 1; "
                     "see build.log for more information"}
BUILD_ERROR = 1005      # koji.BuildError's fault code


def hub_config(work, pg_port):
    """koji's own sidetag plugin, and the policies a side-tag campaign needs."""
    return real.write_hub_config(
        work, pg_port, plugins="sidetag_hub", plugin_path="{koji_src}/plugins/hub",
        hub_extra="MissingPolicyOk = False\n", scheduler="[scheduler]\nenabled = false\n",
        policy=real.sidetag_policy(f"{BUILD_TAG} el8-build"))


class Recorded:
    """A ClientSession whose every call and answer (or fault) is noted."""

    def __init__(self, target, calls, name=""):
        self._target, self._calls, self._name = target, calls, name

    def __getattr__(self, part):
        return Recorded(getattr(self._target, part), self._calls,
                        f"{self._name}.{part}" if self._name else part)

    def __call__(self, *args, **kwargs):
        try:
            result = self._target(*args, **kwargs)
        except Exception as exc:
            self._calls.append({"method": self._name, "args": args, "kwargs": kwargs,
                                "fault": f"{type(exc).__name__}: {exc}"})
            raise
        if hasattr(type(result), "__next__"):       # a generator (not a multicall session)
            result = list(result)
        self._calls.append({"method": self._name, "args": args, "kwargs": kwargs,
                            "result": result})
        return result


class Builder(threading.Thread):
    """What kojid (and kojira's queue check) would do, through koji's host API."""

    def __init__(self, koji, url, pg_port, host="builder1"):
        super().__init__(daemon=True)
        self.koji, self.pg_port = koji, pg_port
        self.host = real.login(koji, url, host, exclusive=True)
        self.admin = real.login(koji, url, "kojiadmin")     # kojira's repo.checkQueue
        self.stop_event = threading.Event()
        self.errors: list = []
        self.done: list = []         # (task id, method, outcome)
        self.paused = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            if not self.paused.is_set():
                try:
                    self.step()
                except Exception:
                    self.errors.append(traceback.format_exc())
            self.stop_event.wait(0.3)

    def stop(self):
        self.stop_event.set()
        self.join(timeout=30)

    def step(self):
        koji = self.koji
        self.host.host.updateHost(0.0, True)
        self.admin.repo.checkQueue()
        free = self.admin.listTasks({"state": [koji.TASK_STATES["FREE"]], "decode": True},
                                    {"order": "id"})
        for task in free:
            if task["parent"] is not None or not self.host.host.openTask(task["id"]):
                continue
            handler = getattr(self, "do_" + task["method"], None)
            if handler is None:
                self.fail(task["id"], koji.GenericError(f"no handler for {task['method']}"))
                continue
            handler(task)

    def close(self, task_id, result, method):
        response = self.koji.xmlrpcplus.dumps((result,), methodresponse=1, allow_none=1)
        self.host.host.closeTask(task_id, response)
        self.done.append((task_id, method, "closed"))

    def fail(self, task_id, fault, method=""):
        response = self.koji.xmlrpcplus.dumps(self.koji.xmlrpcplus.Fault(fault.faultCode,
                                                                         str(fault)))
        self.host.host.failTask(task_id, response)
        self.done.append((task_id, method, "failed"))

    def do_build(self, task):
        koji = self.koji
        src, target, opts = task["request"][:3]
        name = src.rsplit("/", 1)[-1].split(".git")[0]
        if name in FAILING and opts.get("custom_user_metadata"):
            return self.fail(task["id"], koji.BuildError(FAILING[name]), "build")
        if opts.get("scratch"):
            return self.close(task["id"], {"srpms": [], "rpms": [], "logs": []}, "build")
        info = self.host.getBuildTarget(target, strict=True)
        dist = self.host.getBuildConfig(info["build_tag"])["extra"].get("rpm.macro.dist", "")
        data = {"name": name, "version": "1.0", "release": f"1{dist}", "epoch": None,
                "task_id": task["id"], "source": src,
                "extra": {"source": {"original_url": src}}}
        build_id = self.host.host.initBuild(data)
        # host.completeBuild imports real rpms: the build is only marked complete
        real.psql(self.pg_port, "UPDATE build SET state = 1, completion_time = NOW() "
                                f"WHERE id = {int(build_id)}")
        self.host.host.tagBuild(task["id"], info["dest_tag"], build_id)
        self.close(task["id"], {"srpms": [], "rpms": [], "logs": []}, "build")

    def do_newRepo(self, task):
        args, kwargs = self.koji.decode_args(*task["request"])
        tag = args[0]["id"] if isinstance(args[0], dict) else args[0]
        repo_id, event_id = self.host.host.repoInit(tag, task_id=task["id"],
                                                   opts=kwargs.get("opts"))
        self.host.host.repoDone(repo_id, {})
        self.close(task["id"], [repo_id, event_id], "newRepo")

    def do_tagBuild(self, task):
        tag, build, force, fromtag = task["request"][:4]
        self.host.host.tagBuild(task["id"], tag, build, force, fromtag)
        self.close(task["id"], None, "tagBuild")


def set_up(koji, url, pg_port):
    """Tags, target, the campaign user, the builder host, a first build of every package."""
    admin = real.login(koji, url, "kojiadmin")
    admin.createTag(DEST_TAG, arches="x86_64")
    admin.createTag(BUILD_TAG, parent=DEST_TAG, arches="x86_64",
                    extra={"rpm.macro.dist": ".el9", "sidetag_rpm_macros_allowed": "dist"})
    admin.createBuildTarget(TARGET, BUILD_TAG, DEST_TAG)
    for name in PACKAGES:
        admin.packageListAdd(DEST_TAG, name, owner="kojiadmin")
    # side tags allowed by policy but no dist macro allowed (el8), refused by policy (el7)
    for old in ("el8", "el7"):
        admin.createTag(f"{old}-build", parent=DEST_TAG, arches="x86_64",
                        extra={"rpm.macro.dist": f".{old}"})
        admin.createBuildTarget(f"{old}-candidate", f"{old}-build", DEST_TAG)
    admin.createUser("discomy")
    admin.grantPermission("discomy", "tag")         # merges into the destination tag
    admin.addHost("builder1", ["x86_64"])
    admin.addHostToChannel("builder1", "createrepo")
    for user in ("discomy", "builder1"):
        real.psql(pg_port, f"UPDATE users SET password = '{user}' WHERE name = '{user}'")
    return admin


def wait(predicate, seconds=60, what="condition"):
    deadline = time.time() + seconds
    while not predicate():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def campaign_session(koji, url, calls):
    session = koji.ClientSession(url, {"user": "discomy", "password": "discomy",
                                       "max_retries": 0, "anon_retry": False})
    session.login()
    return Recorded(session, calls)


def scenario(koji, url, pg_port, work, calls, out=print):
    """Both campaigns and the single-call checks; a list of problems (empty: all good)."""
    from discomy.orchestration.backends import LOST, READY
    from discomy.orchestration.backends.koji import KojiBackend
    from discomy.orchestration.campaign import Node
    from discomy.orchestration.engine import Engine, EngineSettings
    from discomy.orchestration.store import Store

    problems = Problems(out)
    check = problems.check

    admin = set_up(koji, url, pg_port)
    builder = Builder(koji, url, pg_port)
    builder.start()
    try:
        # first builds in the destination: what getLatestBuilds finds the sources from
        for name in PACKAGES:
            admin.build(SCM.format(name=name), TARGET, {})
        wait(lambda: len(builder.done) >= len(PACKAGES), what="the first builds")
        latest = {n: admin.getLatestBuilds(DEST_TAG, package=n) for n in PACKAGES}
        check(all(latest.values()),
              "first builds tagged into el9: " +
              ", ".join(r[0]["nvr"] for r in latest.values() if r))
        store = Store(f"sqlite:///{work / 'campaigns.sqlite'}")

        def backend(cid, mode, sidetag=None, **kw):
            row = store.campaign(cid)
            return KojiBackend(campaign_session(koji, url, calls), cid, TARGET, mode,
                               sidetag=sidetag, created_at=row.created_at,
                               start_event=row.start_event, backoff_seconds=0.2,
                               load_cache_seconds=0, **kw)

        def run_engine(cid, b, seconds=180):
            settings = EngineSettings(poll_seconds=0.3)
            e = Engine(store, b, cid, settings=settings)
            deadline = time.time() + seconds
            while e.step() != "finished":
                if time.time() > deadline:
                    raise AssertionError(f"campaign {cid} did not finish: " + ", ".join(
                        f"{n}={v.state}" for n, v in sorted(store.nodes(cid).items())) +
                        "; builder: " + "".join(builder.errors[-1:]))
                time.sleep(0.3)
            return store.campaign(cid).state

        # -- side tags koji refuses: the campaign fails with koji's reason -----------------
        for old, why in (("el7", "policy"), ("el8", "RPM macros change is not allowed")):
            rid = store.create_campaign(["parsekit"], "per-edge", "koji",
                                        [Node("parsekit", 0)], target=f"{old}-candidate",
                                        mode="sidetag")
            refused = KojiBackend(campaign_session(koji, url, calls), rid, f"{old}-candidate",
                                  "sidetag", backoff_seconds=0.2)
            state = run_engine(rid, refused)
            note = store.campaign(rid).note or ""
            check(state == "failed" and why in note,
                  f"side tag on {old}-build refused: campaign {state}, note {note!r}")
        # the el8 side tag made before editSideTag was refused: removed by hand here
        for tag in admin.listSideTags(basetag="el8-build"):
            admin.removeSideTag(tag["id"])

        # -- the side-tag campaign --------------------------------------------------------
        nodes = [Node(*n) for n in SIDETAG_NODES]
        cid = store.create_campaign(["parsekit"], "per-edge", "koji", nodes, target=TARGET,
                                    mode="sidetag")
        # a daemon that stopped between createSideTag and editSideTag left this one
        orphan = campaign_session(koji, url, []).createSideTag(BUILD_TAG)["name"]
        b = backend(cid, "sidetag")
        fields = b.prepare()
        check(fields.get("sidetag") == orphan,
              f"prepare() takes over the unmarked side tag {orphan}: {fields.get('sidetag')}")
        out(f"prepare() -> {fields}")
        sidetag = fields.get("sidetag")
        tag = admin.getTag(sidetag) if sidetag else None
        check(bool(tag) and tag["extra"].get("rpm.macro.dist") == f".el9.discomy{cid}",
              f"side tag {sidetag} carries dist .el9.discomy{cid}")
        again = backend(cid, "sidetag").prepare()
        check(again.get("sidetag") == sidetag,
              f"a restarted backend finds its side tag again: {again.get('sidetag')}")
        store.update_campaign(cid, **fields)
        hold = b.hold_back()
        check(hold is None, f"hold_back() with the builder ready: {hold!r}")
        state = run_engine(cid, b)
        nodes_now = store.nodes(cid)
        check(state == "done", f"side-tag campaign {cid}: {state}; " + ", ".join(
            f"{n}={v.state}/{v.nvr}" for n, v in sorted(nodes_now.items())))
        nvrs = sorted(v.nvr or "" for v in nodes_now.values())
        check(nvrs == sorted(f"{n[0]}-1.0-1.el9.discomy{cid}" for n in SIDETAG_NODES),
              f"NVRs carry the side tag's dist: {nvrs}")
        tagged = {r["nvr"] for r in admin.listTagged(DEST_TAG)}
        check(set(nvrs) <= tagged, "merged into el9: " + ", ".join(sorted(set(nvrs) & tagged)))
        check(admin.getTag(sidetag) is None, f"side tag {sidetag} removed after the merge")
        check(store.campaign(cid).merged, "campaign recorded as merged")
        ran = {n: (v.host, v.build_seconds, v.started_at) for n, v in sorted(nodes_now.items())}
        check(all(h == "builder1" and s is not None and s >= 0 and t
                  for h, s, t in ran.values()),
              f"each node records its host, koji's task time and its submission: {ran}")
        # every dependent was submitted only after a repo holding its dependency was ready
        order = [c["method"] for c in calls]
        check("repo.request" in order and "repo.checkRequest" in order,
              f"repo.request x{order.count('repo.request')}, "
              f"repo.checkRequest x{order.count('repo.checkRequest')}")

        # -- single calls on the finished campaign ---------------------------------------
        task = nodes_now["alpha"].task
        check(b.find("alpha") == task, f"find('alpha') -> {task} (listTasks, decoded request)")
        out_ = b.poll("999999")
        check(out_ is not None and not out_.ok, f"poll() of a task koji never had: {out_}")
        refused = b.submit("parsekit", priority=10)
        check(refused.startswith("error:") and "admin" in refused,
              f"submit() above the default priority as a non-admin: {refused!r}")

        # a fulfilled repo request the hub has cleaned up (RequestCleanTime): asked again
        side = backend(cid, "sidetag")
        side.sidetag = BUILD_TAG
        ref = side.request_repo([])
        wait(lambda: side.repo_state(ref) == READY, what=f"repo {ref} of {BUILD_TAG}")
        if ref.startswith("request:"):
            real.psql(pg_port, f"DELETE FROM repo_queue WHERE id = {int(ref.split(':')[1])}")
            try:
                gone = side.repo_state(ref)
            except Exception as exc:
                gone = f"{type(exc).__name__}: {exc}"
            check(gone == LOST, f"repo_state() of a request the hub cleaned up: {gone!r}")
        again_ref = side.request_repo([])
        check(again_ref.startswith("repo:"),
              f"request_repo() when a current repo exists: {again_ref}")

        # the legacy path: newRepo wants the repo permission
        try:
            side.call("newRepo", BUILD_TAG)
            legacy = "allowed"
        except koji.GenericError as exc:
            legacy = f"{type(exc).__name__}: {exc}"
        out(f"newRepo (the pre-1.35 path) as the campaign user: {legacy}")

        # -- hold-back: the only builder stops reporting ready ----------------------------
        builder.paused.set()
        time.sleep(0.5)
        host_session = real.login(koji, url, "builder1", exclusive=True)
        host_session.host.updateHost(0.0, False)
        reason = b.hold_back()
        check(bool(reason) and "x86_64" in reason,
              f"hold_back() with no ready x86_64 host: {reason!r}")
        host_session.logout()
        builder.host = real.login(koji, url, "builder1", exclusive=True)
        builder.paused.clear()

        # -- a build in flight: found again by a restarted backend, polled while FREE -----
        builder.paused.set()
        time.sleep(0.5)
        fid = store.create_campaign(["other"], "per-edge", "koji", [Node("other", 0)],
                                    target=TARGET, mode="scratch")
        task = backend(fid, "scratch").submit("other", priority=25)
        restarted = backend(fid, "scratch")
        check(restarted.find("other") == task, f"a restarted backend finds task {task} "
                                               f"while it is FREE: {restarted.find('other')}")
        check(backend(cid, "scratch").find("other") is None,
              "another campaign does not claim it")
        check(restarted.poll(task) is None, "poll() of a FREE task: None")
        check(admin.getTaskInfo(int(task))["priority"] == 25, "priority 25 reached the hub")
        builder.paused.clear()
        wait(lambda: restarted.poll(task) is not None, what=f"task {task}")
        check(restarted.poll(task).ok, f"poll() of closed scratch task {task}: ok")

        # -- the scratch campaign with a failing package ----------------------------------
        nodes = [Node(*n) for n in SCRATCH_NODES]
        sid = store.create_campaign(["parsekit"], "per-edge", "koji", nodes, target=TARGET,
                                    mode="scratch")
        s = backend(sid, "scratch")
        state = run_engine(sid, s)
        nodes_now = store.nodes(sid)
        check(state == "failed", f"scratch campaign {sid}: {state}; " + ", ".join(
            f"{n}={v.state}" for n, v in sorted(nodes_now.items())))
        broken = nodes_now["broken"]
        check(broken.state == "failed" and broken.failure_class == "package"
              and "mock exited with status 1" in broken.reason,
              f"broken: {broken.state}, {broken.failure_class}, reason {broken.reason!r}")
        check(nodes_now["beta"].state == "quarantined", "beta quarantined behind broken")
        check(nodes_now["parsekit"].state == "done" and nodes_now["parsekit"].nvr is None,
              "scratch parsekit done without an NVR")
        scratch = [c for c in calls if c["method"] == "build" and c["args"][2].get("scratch")]
        marks = sorted({c["args"][2]["custom_user_metadata"]["discomy_campaign"]
                        for c in scratch})
        check(marks == [fid, sid], f"scratch builds carry their campaign: {marks}")
        info = admin.getTaskInfo(int(nodes_now["parsekit"].task), request=True)
        check(info["request"][2].get("custom_user_metadata") == {"discomy_campaign": sid},
              f"the hub kept custom_user_metadata in the task request: {info['request'][2]}")
        check(info["priority"] == 20, f"priority of the longest chain's build: {info['priority']}")
        low = admin.getTaskInfo(int(nodes_now["other"].task))["priority"]
        check(low > 20, f"priority of the shortest chain's build: {low}")
        check(not builder.errors, "builder thread: " + (builder.errors[-1] if builder.errors
                                                         else "no errors"))
    finally:
        builder.stop()
    return problems


def summary(value, depth=0):
    """The shape of an answer: keys of dicts, first row of lists."""
    if isinstance(value, dict):
        if depth > 1:
            return "{" + ", ".join(sorted(map(str, value))) + "}"
        return {k: summary(v, depth + 1) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [f"{len(value)} rows"] + ([summary(value[0], depth + 1)] if value else [])
    return repr(value)[:80]


def run(koji_src, venv, keep=False, calls_file=None, out=print):
    koji_src = Path(koji_src).resolve()
    python = real.ensure_venv(Path(venv))
    import koji

    work = Path(tempfile.mkdtemp(prefix="discomy-orch-kojihub-"))
    pg_data, hub, calls = None, None, []
    try:
        pg_data, pg_port = real.start_postgres(work)
        real.create_koji_db(pg_port, koji_src)
        conf, discomy_conf = hub_config(work, pg_port)
        conf.write_text(conf.read_text().replace("{koji_src}", str(koji_src)))
        hub = real.Hub(python, conf, discomy_conf, koji_src, work / "hub.log")
        url = hub.start(koji)
        found = re.search(r"__version_info__ = \(([^)]*)\)",
                          (koji_src / "koji" / "_version.py").read_text())
        version = ".".join(found.group(1).replace(" ", "").split(",")) if found else "?"
        out(f"kojihub {version} from {koji_src} on {url} (client: koji "
            f"{getattr(koji, '__version__', '?')} from {Path(koji.__file__).parent})")
        problems = scenario(koji, url, pg_port, work, calls, out=out)
        for line in real.hub_log_errors(work)[:20]:
            out("hub log: " + line)
        return problems, calls
    finally:
        if calls_file:
            Path(calls_file).write_text(json.dumps(
                [{**c, "result": summary(c["result"])} if "result" in c else c for c in calls],
                indent=1, default=repr))
        real.tear_down(hub, pg_data, work, keep, out)


@pytest.mark.skipif(os.geteuid() != 0, reason="runs PostgreSQL as user postgres: needs root")
@pytest.mark.timeout(900)
def test_koji_backend_runs_side_tag_and_scratch_campaigns_on_a_real_kojihub(koji_src):
    problems, calls = run(koji_src, "/tmp/discomy-kojihub-venv")
    assert not problems, problems
    # the faults the scenario provokes, and no other
    faults = sorted((c["method"], c["fault"].split(":")[0]) for c in calls if "fault" in c)
    # a failed task's fault is read as data (getTaskResult with raise_fault=False)
    assert faults == [("build", "ActionNotAllowed"), ("createSideTag", "ActionNotAllowed"),
                      ("editSideTag", "GenericError"), ("newRepo", "ActionNotAllowed"),
                      ("repo.checkRequest", "GenericError")], faults


# -- what the real hub showed, kept as checks on the stand-in (these always run) ----------

@pytest.fixture
def standin():
    sys.path.insert(0, str(ROOT / "tests" / "standins"))
    from kojihub_xmlrpc import StandinKojiHub

    hub = StandinKojiHub()
    yield hub
    hub.stop()


def standin_backend(hub):
    from discomy.orchestration.backends.koji import KojiBackend, session_for

    b = KojiBackend(session_for(server=hub.url), 1, TARGET, "sidetag", scm_url=SCM,
                    retries=1, sleep=lambda s: None)
    b.prepare()
    return b


def test_a_repo_request_the_hub_has_cleaned_up_is_asked_again(standin):
    from discomy.orchestration.backends import LOST, READY

    b = standin_backend(standin)
    ref = b.request_repo(["x-1-1"])
    assert b.repo_state(ref) == READY
    # koji deletes finished requests after RequestCleanTime; checkRequest: "No such request"
    standin.repo_requests.clear()
    assert b.repo_state(ref) == LOST


def test_newrepo_without_the_regen_repo_permission_fails_the_campaign_clearly(standin):
    from discomy.orchestration.backends.koji import KojiBackendError

    b = standin_backend(standin)
    standin.legacy_repos, standin.regen_repo = True, False
    with pytest.raises(KojiBackendError, match="regen-repo"):
        b.request_repo(["x-1-1"])


def test_a_base_tag_that_allows_no_dist_macro_fails_the_campaign_clearly(standin):
    from discomy.orchestration.backends.koji import KojiBackend, KojiBackendError, session_for

    del standin.tags[BUILD_TAG]["extra"]["sidetag_rpm_macros_allowed"]
    b = KojiBackend(session_for(server=standin.url), 1, TARGET, "sidetag", scm_url=SCM,
                    retries=1, sleep=lambda s: None)
    with pytest.raises(KojiBackendError, match="RPM macros change is not allowed"):
        b.prepare()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("koji_src", type=Path)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/discomy-kojihub-venv"))
    parser.add_argument("--calls", type=Path, help="write every backend call here (JSON)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    problems, calls = run(args.koji_src, args.venv, args.keep, args.calls)
    print(f"{len(calls)} backend calls; " + (f"{len(problems)} problem(s)" if problems
                                             else "all checks passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
