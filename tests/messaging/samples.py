"""Message bodies shaped like what koji-fedoramessaging and protonmsg send."""

import json
import time


def fedora_build(build_id=101, name="zlib", version="1.3", release="2.el9", new=1, old=0,
                 task_id=555):
    return {
        "name": name, "version": version, "release": release, "epoch": None,
        "attribute": "state", "old": old, "new": new, "build_id": build_id,
        "task_id": task_id, "task": None, "request": None, "owner": "packager",
        "instance": "primary", "url": f"https://koji.example.org/koji/buildinfo?buildID={build_id}",
        "creation_time": "2026-11-22T09:00:00+00:00",
        "completion_time": "2026-11-22T09:30:00+00:00",
    }


def fedora_repo_done(tag="el9-build", repo_id=7):
    return {"tag": tag, "repo_id": repo_id, "tag_id": 3, "instance": "primary"}


def proton_build(build_id=101, state="COMPLETE", old="BUILDING"):
    props = {"type": "BuildStateChange", "name": "zlib", "version": "1.3", "release": "2.el9",
             "attribute": "state", "old": old, "new": state}
    body = json.dumps({"attribute": "state", "old": 0, "new": 1,
                       "info": {"id": build_id, "name": "zlib", "version": "1.3",
                                "release": "2.el9", "task_id": 555, "owner_name": "packager"}})
    return f"topic://koji.build.{state.lower()}", body, props


def wait_until(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
