"""Forge pushes against a real kojihub (koji's source tree, PostgreSQL on loopback),
through the machinery of hub_real_kojihub.py: the hub under wsgiref, no builder.

A CI push and a release push of the example ``corelib`` (a dist-git the test makes,
``file://``) go through the API as signed GitHub deliveries; the webhook service logs in
to the hub as ``discomy`` (password auth), asks for the latest build in the target's
destination tag, uploads each SRPM (koji's fast upload, ``rawUpload``) and calls
``build``. What the hub recorded is read back as an admin: a scratch build task for
the CI push and a real one for the release, each for the target, each made from the
SRPM the hub holds in its work directory, whose header has the pushed NVR. The hub's
``build_from_srpm`` policy allows it (koji's default allows only admins).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT / "orchestrator"), str(ROOT / "tests" / "webhooks")]

import hub_real_kojihub as real  # noqa: E402

TARGET, BUILD_TAG, DEST_TAG = "el9-candidate", "el9-build", "el9"
POLICY = """build_from_srpm =
    all :: allow
"""


def _header_nvr(path: Path) -> str:
    return subprocess.run(["rpm", "-qp", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}", str(path)],
                          capture_output=True, text=True, check=True).stdout


def _wait_submitted(world, build_id: int, seconds: float = 120) -> dict:
    deadline = time.time() + seconds
    while True:
        b = world.build(build_id)
        if b["state"] not in ("queued", "preparing") and (b["task"] or b["state"] != "submitted"):
            return b
        if time.time() > deadline:
            raise AssertionError(f"webhook build {build_id} still {b['state']}: {b['reason']}")
        time.sleep(0.2)


@pytest.mark.skipif(os.geteuid() != 0, reason="runs PostgreSQL as user postgres: needs root")
@pytest.mark.timeout(600)
def test_ci_and_release_pushes_make_scratch_and_real_build_tasks_on_a_real_kojihub(koji_src,
                                                                                  tmp_path):
    import koji
    from hook_world import World, commit_day

    koji_src = Path(koji_src).resolve()
    python = real.ensure_venv(Path("/tmp/discomy-kojihub-venv"))
    work = Path(tempfile.mkdtemp(prefix="discomy-hooks-kojihub-"))
    pg_data, hub, world = None, None, None
    try:
        pg_data, pg_port = real.start_postgres(work)
        real.create_koji_db(pg_port, koji_src)
        conf, discomy_conf = real.write_hub_config(
            work, pg_port, plugins="", policy=POLICY,
            scheduler="[scheduler]\nenabled = false\n")
        hub = real.Hub(python, conf, discomy_conf, koji_src, work / "hub.log")
        url = hub.start(koji)
        admin = real.login(koji, url, "kojiadmin")
        admin.createTag(DEST_TAG, arches="x86_64")
        admin.createTag(BUILD_TAG, parent=DEST_TAG, arches="x86_64",
                        extra={"rpm.macro.dist": ".el9"})
        admin.createBuildTarget(TARGET, BUILD_TAG, DEST_TAG)
        admin.packageListAdd(DEST_TAG, "corelib", owner="kojiadmin")
        admin.createUser("discomy")
        real.psql(pg_port, "UPDATE users SET password = 'discomy' WHERE name = 'discomy'")

        def session():
            s = koji.ClientSession(url, {"user": "discomy", "password": "discomy",
                                         "max_retries": 0, "anon_retry": False})
            s.login()
            return s

        world = World(tmp_path, koji_target=TARGET, session_factory=session)
        ci = world.push("github", "acme/corelib-koji", world.first)
        assert ci.status_code == 202, ci.text
        ci_build = _wait_submitted(world, ci.json()["build"])
        assert ci_build["state"] == "submitted", ci_build
        assert ci_build["previous"] == "none"         # the hub has no build of corelib yet
        release = world.push("github", "acme/corelib-koji-release", world.first)
        rel_build = _wait_submitted(world, release.json()["build"])
        assert rel_build["state"] == "submitted", rel_build

        day = commit_day(world.dist_git, world.first)
        expected = {ci_build["task"]: (True, f"corelib-1.2-0.git{day}.{world.first[:7]}.el9"),
                    rel_build["task"]: (False, "corelib-1.2-1.el9")}
        for task_id, (scratch, nvr) in expected.items():
            info = admin.getTaskInfo(int(task_id), request=True)
            assert info["method"] == "build" and info["owner"] == admin.getUser("discomy")["id"]
            src, target, opts = info["request"][:3]
            assert target == TARGET and bool(opts.get("scratch")) is scratch, info["request"]
            assert src.startswith("discomy-webhooks/") and src.endswith(f"/{nvr}.src.rpm")
            held = work / "koji" / "work" / src
            assert held.is_file(), f"the hub holds no {held}"
            assert _header_nvr(held) == nvr
            assert koji.TASK_STATES[info["state"]] == "FREE"    # no builder here
        # the forge was told both are pending, with their links
        world.service.reporter.idle(30)
        told = {(repository, body["state"]) for forge, repository, _, body
                in world.forge.received}
        assert told == {("acme/corelib-koji", "pending"),
                        ("acme/corelib-koji-release", "pending")}
        assert real.hub_log_errors(work, ("Traceback",)) == []
    finally:
        if world is not None:
            world.close()
        real.tear_down(hub, pg_data, work)
