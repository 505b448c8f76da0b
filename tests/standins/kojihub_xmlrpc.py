"""A stand-in koji hub over XML-RPC: exactly the calls the koji backend makes.

Shaped from koji's hub API (method names, arguments, return shapes, fault
codes), not from its code:

- builds: ``build(src, target, opts, priority=)`` returns a task id (priority
  relative to 20, as koji's hub takes it); ``listTasks``, ``getTaskInfo``,
  ``getTaskResult`` (the task's fault when it failed: raised, or with
  ``raise_fault=False`` returned as a ``faultCode``/``faultString`` dict),
  ``getTaskChildren`` (a failed build has the buildArch subtask that failed it,
  with the same fault), ``listTaskOutput`` (its log files), ``cancelTask``,
  ``listBuilds`` (by task, or a package's newest COMPLETE builds);
- targets and tags: ``getBuildTarget``, ``getBuildConfig``, ``getTag``,
  ``getLatestBuilds``, ``listTagged``, ``tagBuild`` (a task), ``getLoggedInUser``;
- the sidetag plugin: ``createSideTag``, ``editSideTag(rpm_macros=)``,
  ``listSideTags``, ``removeSideTag``;
- repos: ``repo.request`` / ``repo.checkRequest`` (1.35+), ``newRepo``;
- ``uploadFile`` (the upload ``ClientSession.uploadWrapper`` makes when fast upload
  is off; chunks kept in ``uploads`` by ``path/name``, the last call with offset
  -1 checking the whole file's sha256);
- ``getPackageConfig`` with the package's ``owner_name``; ``multiCall`` (what
  ``ClientSession.multicall`` sends);
- ``listHosts`` rows with ``arches``, ``capacity``, ``task_load``, ``ready``;
  ``scheduler.getHostData`` (koji 1.34+) rows of ``host_id`` and ``data``;
- what module builds set up: ``createTag`` (with ``extra``), ``editTag2``,
  ``getInheritanceData`` / ``setInheritanceData``, ``listPackages`` /
  ``packageListAdd``, ``createBuildTarget``, ``listBuildRPMs`` (one rpm per arch of
  the build tag, and the source), ``distRepo`` (a task whose request is
  ``[tag, repo_id, keys, opts]``; with ``topdir`` set, it writes an empty rpm-md
  repository per arch under ``repos-dist/<tag>/<repo_id>/`` as kojid would).

A build task finishes after ``polls_to_finish`` looks at it or, with
``task_seconds`` set, that long after it was made, whether anyone looks or not,
as on a hub with builders (``tag_seconds``, when set, is the time of a
``tagBuild`` task instead); a real (non-scratch) build gets an NVR with its
target's ``dist`` and is tagged into the side tag. A ``tagBuild`` task fails
when it runs if the build is in the tag by then (koji's "already tagged"). Faults
on demand: ``offline`` (the next N calls answer koji's ServerOffline, code
1014), ``lose_build_answers`` (the task is made, the answer is lost), ``legacy_repos``
(no ``repo.*`` calls, as before koji 1.35), ``regen_repo`` (False: ``newRepo``
answers ActionNotAllowed, code 1004, as for a user without the regen-repo
permission) and ``fault_rate`` (that share of calls, at random, fail as a dropped
connection would; half of the failing ``build`` calls make the task first, as
when only the answer is lost). As koji does, ``repo.checkRequest`` of a request
no longer held (koji deletes finished ones after ``RequestCleanTime``) is a
GenericError "No such request", and ``build`` above the default priority for a
non-admin is ActionNotAllowed. Serves on 127.0.0.1 only; stop it with ``stop()``.
"""

from __future__ import annotations

import random
import threading
import time
from socketserver import ThreadingMixIn
from xmlrpc.client import Fault
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

FREE, OPEN, CLOSED, CANCELED, ASSIGNED, FAILED = 0, 1, 2, 3, 4, 5
GENERIC, NOT_ALLOWED, SERVER_OFFLINE, BUILD_ERROR = 1000, 1004, 1014, 1005


class StandinKojiHub:
    def __init__(self, dist: str = ".el9", seed: int = 7):
        self.lock = threading.RLock()
        self.tasks: dict = {}
        self.builds: dict = {}          # nvr -> build info
        self.tagged: dict = {}          # tag name -> [nvr]
        self.tags: dict = {"el9-build": {"id": 1, "name": "el9-build", "arches": "x86_64 aarch64",
                                         "extra": {"rpm.macro.dist": dist,
                                                   "sidetag_rpm_macros_allowed": "dist"}},
                           "el9": {"id": 2, "name": "el9", "arches": "", "extra": {}}}
        self.targets: dict = {"el9-candidate": {"id": 1, "name": "el9-candidate",
                                                "build_tag": 1, "build_tag_name": "el9-build",
                                                "dest_tag": 2, "dest_tag_name": "el9"}}
        self.hosts: list = [
            {"id": 1, "name": "b1", "arches": "x86_64 i686", "capacity": 10.0, "task_load": 0.0,
             "enabled": True, "ready": True},
            {"id": 2, "name": "b2", "arches": "aarch64", "capacity": 10.0, "task_load": 0.0,
             "enabled": True, "ready": True}]
        self.owners: dict = {}          # package -> koji owner name (getPackageConfig)
        self.host_data: dict = {}       # host id -> what its kojid sent with host.updateHost
        self.drained: set = set()       # host ids drained with discomy.drainHost
        # hub.conf as discomy.schedulerSettings answers it; None: the hub runs no discomy_hub
        self.scheduler_settings = None
        self.repo_requests: dict = {}
        self.event = 1000
        # source -> outcomes of its builds in order: "" succeeds, a text fails the task
        # with a BuildError of that text, (fault code, text) with that fault
        self.outcomes: dict = {}
        self.children: dict = {}        # build task id -> its subtasks (only failed ones)
        self.polls_to_finish = 1
        self.task_seconds = None
        self.tag_seconds = None         # tagBuild tasks' time (None: task_seconds)
        self.repo_checks = 1            # checkRequest calls until a requested repo is ready
        self.offline = 0
        self.fault_rate = 0.0
        self.lose_build_answers = 0     # the next N build calls make the task, then fail
        self.legacy_repos = False       # a hub before 1.35: no repo.request
        self.regen_repo = True          # the user holds regen-repo (newRepo needs it)
        self.random = random.Random(seed)
        self.calls: list = []
        self.inheritance: dict = {}     # tag name -> inheritance rows
        self.packages: dict = {}        # tag name -> {package: owner}
        self.topdir = None              # where dist repos are written (a Path), if anywhere
        self.first_build_at = None      # time.perf_counter() of the first build call
        self.uploads: dict = {}         # "path/name" -> bytes uploaded
        self.server = _Server(("127.0.0.1", 0), requestHandler=_Quiet, allow_none=True,
                              logRequests=False)
        self.server.register_instance(self)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/kojihub"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _dispatch(self, method, params):
        with self.lock:
            self.calls.append(method)
            if self.offline > 0:
                self.offline -= 1
                raise Fault(SERVER_OFFLINE, "server is offline")
            if self.task_seconds is not None:
                self._run_due()
            func, params, kwargs = self._method(method, params)
            flaky = self.fault_rate and self.random.random() < self.fault_rate
            if method == "build" and self.lose_build_answers > 0:
                self.lose_build_answers -= 1
                func(*params, **kwargs)
                raise Fault(SERVER_OFFLINE, "answer lost (injected)")
            if flaky and not (method == "build" and self.random.random() < 0.5):
                raise Fault(SERVER_OFFLINE, "connection dropped (injected)")
            result = func(*params, **kwargs)
            if flaky:       # the work was done; only the answer is lost
                raise Fault(SERVER_OFFLINE, "answer lost (injected)")
            return result

    def _method(self, method, params):
        """The hub function of ``method`` and its arguments (koji sends keyword arguments
        as a trailing ``__starstar`` dict); an unknown method is koji's fault."""
        params = list(params)
        kwargs = {}
        if params and isinstance(params[-1], dict) and params[-1].pop("__starstar", False):
            kwargs = params.pop()
        func = getattr(self, "hub_" + method.replace(".", "_"), None)
        if func is None or (self.legacy_repos and method.startswith("repo.")):
            raise Fault(GENERIC, f"Invalid method: {method}")
        return func, params, kwargs

    # -- uploads ----------------------------------------------------------------------------
    def hub_uploadFile(self, path, name, size, md5sum, offset, data, volume=None,
                       checksum=None):
        import base64
        import hashlib

        key = f"{path}/{name}"
        if offset == -1:
            whole = self.uploads.get(key, b"")
            kind, digest = md5sum
            if len(whole) != size or hashlib.new(kind, whole).hexdigest() != digest:
                raise Fault(GENERIC, f"upload of {key} is damaged")
            return True
        chunk = base64.b64decode(data)
        held = self.uploads.setdefault(key, b"")
        self.uploads[key] = held[:offset] + chunk
        return True

    # -- builds -----------------------------------------------------------------------------
    def hub_build(self, src, target, opts=None, priority=None, channel=None):
        if target not in self.targets:
            raise Fault(GENERIC, f"No such build target: {target}")
        if priority is not None and priority < 0:
            raise Fault(NOT_ALLOWED, "only admins may create high-priority tasks")
        if self.first_build_at is None:
            self.first_build_at = time.perf_counter()
        task_id = 1000 + len(self.tasks)
        queue = self.outcomes.get(src, [])
        error = queue.pop(0) if queue else ""
        self.tasks[task_id] = {"id": task_id, "method": "build", "state": OPEN,
                               "priority": 20 + (priority or 0),
                               "request": [src, target, opts or {}], "error": error,
                               "polls": 0, "created": time.time(), "create_ts": time.time()}
        return task_id

    def _run_due(self):
        """Builders run tasks whether anyone looks or not: every open task that is due ends."""
        for task in list(self.tasks.values()):
            if task["state"] == OPEN:
                self._advance(task, look=False)

    def _advance(self, task, look=True):
        if task["state"] != OPEN:
            return
        if look:
            task["polls"] += 1
        if self.task_seconds is not None:
            seconds = self.task_seconds
            if task["method"] == "tagBuild" and self.tag_seconds is not None:
                seconds = self.tag_seconds
            due = time.time() - task["created"] >= seconds
        else:
            due = task["polls"] >= self.polls_to_finish
        if not due:
            return
        if task["method"] == "distRepo":
            self._dist_repo(task)
            return
        if task["method"] == "tagBuild":
            tag, nvr = task["request"]
            if any(n == nvr for n, _ in self.tagged.get(tag, [])):
                task["state"], task["error"] = FAILED, f"build {nvr} already tagged ({tag})"
                return
            self.event += 1
            self.tagged.setdefault(tag, []).append((nvr, self.event))
            task["state"] = CLOSED
            return
        task["state"] = FAILED if task["error"] else CLOSED
        if task["error"]:
            # as kojid: the buildArch subtask fails, the build task fails with its fault
            child = {"id": 100000 + task["id"], "method": "buildArch", "state": FAILED,
                     "parent": task["id"], "error": task["error"]}
            self.children[task["id"]] = [child]
        src, target, opts = task["request"]
        if task["state"] == CLOSED and not opts.get("scratch"):
            name = src.rsplit("/", 1)[-1].split(".git")[0]
            info = self.targets[target]
            tag = self.tags[info["dest_tag_name"]]
            # the buildroot's macros are the build tag's (its own, or inherited)
            dist = self.hub_getBuildConfig(info["build_tag_name"])["extra"].get(
                "rpm.macro.dist", "")
            self.add_build(name, "1.0", f"1{dist}", tag["name"], task_id=task["id"], source=src)

    def hub_listTasks(self, opts=None, queryOpts=None):
        opts = opts or {}
        out = []
        for task in self.tasks.values():
            if opts.get("method") and task["method"] != opts["method"]:
                continue
            if "state" in opts and task["state"] not in opts["state"]:
                continue
            if "createdAfter" in opts and task["create_ts"] <= float(opts["createdAfter"]):
                continue
            if "owner" in opts and task.get("owner", 1) != opts["owner"]:
                continue
            out.append(self._public(task))
        return out

    def hub_getTaskInfo(self, task_id, request=False):
        task = self.tasks.get(task_id)
        if task is None:
            return None
        self._advance(task)
        return self._public(task)

    def hub_cancelTask(self, task_id, recurse=True):
        task = self.tasks.get(task_id)
        if task is None:
            raise Fault(GENERIC, f"No such task id: {task_id}")
        if task["state"] in (FREE, OPEN, ASSIGNED):
            task["state"] = CANCELED

    def hub_getTaskResult(self, task_id, raise_fault=True):
        task = self.tasks[task_id]
        if task["state"] == CANCELED:
            raise Fault(GENERIC, f"Task {task_id} is canceled")
        if task["state"] == FAILED:
            code, text = task["error"] if isinstance(task["error"], (list, tuple)) \
                else (BUILD_ERROR, task["error"])
            if raise_fault:
                raise Fault(code, text)
            return {"faultCode": code, "faultString": text}
        return {"srpms": [], "rpms": []}

    def hub_getTaskChildren(self, task_id, request=False, strict=False):
        return [self._public(c) for c in self.children.get(task_id, [])]

    def hub_listTaskOutput(self, task_id, stat=False, all_volumes=False, strict=False):
        if any(c["id"] == task_id for kids in self.children.values() for c in kids):
            return ["build.log", "mock_output.log", "root.log", "state.log"]
        return []

    def hub_listBuilds(self, packageID=None, taskID=None, state=None, queryOpts=None, **kw):
        rows = [{**b, "id": b["build_id"], "state": 1} for b in self.builds.values()
                if (taskID is None or b["task_id"] == taskID)
                and (packageID is None or b["name"] == packageID)
                and state in (None, 1)]
        opts = queryOpts or {}
        if opts.get("order") in ("build_id", "-build_id"):
            rows.sort(key=lambda b: b["build_id"], reverse=opts["order"].startswith("-"))
        return rows[:opts["limit"]] if opts.get("limit") else rows

    @staticmethod
    def _public(task):
        return {k: v for k, v in task.items() if k not in ("error", "polls", "created")}

    # -- targets and tags ---------------------------------------------------------------------
    def hub_getLoggedInUser(self):
        return {"id": 1, "name": "discomy"}

    def hub_getBuildTarget(self, name, event=None, strict=False):
        return self.targets.get(name)

    def _tag(self, ref):
        for tag in self.tags.values():
            if ref in (tag["id"], tag["name"]):
                return tag
        raise Fault(GENERIC, f"No such tagInfo: {ref!r}")

    def hub_getTag(self, ref, strict=False, event=None, blocked=False):
        if not strict and not any(ref in (t["id"], t["name"]) for t in self.tags.values()):
            return None                 # koji: no such tag is None unless strict
        return self._tag(ref)

    def hub_getBuildConfig(self, ref, event=None):
        tag = self._tag(ref)
        extra = dict(self.tags[tag["parent"]]["extra"]) if tag.get("parent") else {}
        for row in reversed(self.inheritance.get(tag["name"], [])):    # first parent wins
            extra.update(self._tag(row["parent_id"])["extra"])
        extra.update(tag["extra"])
        arches = tag["arches"] or (self.tags[tag["parent"]]["arches"] if tag.get("parent") else "")
        return {**tag, "extra": extra, "arches": arches}

    def add_build(self, name, version, release, tag, task_id=None, source=None):
        """A COMPLETE build tagged into ``tag`` (what a packager's build would leave)."""
        nvr = f"{name}-{version}-{release}"
        self.builds[nvr] = {"nvr": nvr, "name": name, "version": version, "release": release,
                            "build_id": 100 + len(self.builds), "task_id": task_id,
                            "source": source or f"git+https://src.example.org/rpms/{name}.git#main"}
        self.event += 1
        self.tagged.setdefault(tag, []).append((nvr, self.event))
        return self.builds[nvr]

    def _listing(self, tag, package=None):
        rows = []
        for nvr, event in self.tagged.get(self._tag(tag)["name"], []):
            build = self.builds.get(nvr)
            if build and (package is None or build["name"] == package):
                rows.append({**build, "id": build["build_id"], "create_event": event,
                             "tag_name": tag})
        return rows

    def hub_getLatestBuilds(self, tag, event=None, package=None, type=None, draft=None):
        rows = self._listing(tag, package)
        if not rows and self._tag(tag)["name"] == "el9" and package:
            # every package has a first build in the destination tag
            self.add_build(package, "1.0", "1.el9", "el9")
            rows = self._listing(tag, package)
        return rows[-1:]

    def hub_getBuild(self, ref, strict=False):
        for build in self.builds.values():
            if ref in (build["build_id"], build["nvr"]):
                return {**build, "id": build["build_id"]}
        return None

    def hub_getLastEvent(self, before=None, strict=True):
        return {"id": self.event, "ts": time.time()}

    def hub_listTagged(self, tag, event=None, inherit=False, prefix=None, latest=False,
                       package=None, **kw):
        return self._listing(tag, package)

    def hub_tagBuild(self, tag, build, force=False, fromtag=None):
        if any(nvr == build for nvr, _ in self.tagged.get(tag, [])):
            raise Fault(GENERIC, f"build {build} already tagged ({tag})")
        task_id = 1000 + len(self.tasks)
        self.tasks[task_id] = {"id": task_id, "method": "tagBuild", "state": OPEN,
                               "request": [tag, build], "error": "", "polls": 0,
                               "created": time.time(), "create_ts": time.time()}
        return task_id

    # -- sidetags -------------------------------------------------------------------------------
    def hub_createSideTag(self, basetag, debuginfo=False, suffix=None):
        base = self._tag(basetag)
        tag_id = len(self.tags) + 1
        name = f"{base['name']}-side-{tag_id}"
        self.tags[name] = {"id": tag_id, "name": name, "arches": "", "parent": base["name"],
                           "extra": {"sidetag": True, "sidetag_user": "discomy"}}
        self.targets[name] = {"id": len(self.targets) + 1, "name": name, "build_tag": tag_id,
                              "build_tag_name": name, "dest_tag": tag_id, "dest_tag_name": name}
        return {"name": name, "id": tag_id, "task_id": None, "request": None}

    def hub_editSideTag(self, sidetag, debuginfo=None, rpm_macros=None, **kw):
        tag = self._tag(sidetag)
        # koji's sidetag plugin: the parent's extra names the macros a side tag may set
        allowed = self.tags[tag["parent"]]["extra"].get("sidetag_rpm_macros_allowed") or ""
        if rpm_macros and not allowed.split():
            raise Fault(GENERIC, "RPM macros change is not allowed in parent tag.")
        for macro, value in (rpm_macros or {}).items():
            tag["extra"][f"rpm.macro.{macro}"] = value

    def hub_listSideTags(self, basetag=None, user=None, queryOpts=None):
        # koji answers user_id as text: it is a tag_extra value
        return [{"id": t["id"], "name": t["name"], "user_id": "1", "user_name": "discomy"}
                for t in self.tags.values() if t["extra"].get("sidetag")]

    def hub_removeSideTag(self, sidetag):
        tag = self._tag(sidetag)
        del self.tags[tag["name"]]
        self.targets.pop(tag["name"], None)

    # -- repos ----------------------------------------------------------------------------------
    def hub_repo_request(self, tag, min_event=None, at_event=None, opts=None, priority=None,
                         force=False):
        tag = self._tag(tag)
        req_id = len(self.repo_requests) + 1
        self.repo_requests[req_id] = {"id": req_id, "tag_id": tag["id"], "min_event": self.event,
                                      "active": True, "checks": 0}
        return {"repo": None, "request": dict(self.repo_requests[req_id]), "duplicate": False}

    def hub_repo_checkRequest(self, req_id):
        if req_id not in self.repo_requests:     # koji drops finished ones (RequestCleanTime)
            raise Fault(GENERIC, "No such request")
        req = self.repo_requests[req_id]
        req["checks"] += 1
        if req["checks"] >= self.repo_checks:
            req["active"] = False
            return {"request": dict(req), "repo": {"id": 5000 + req_id, "tag_id": req["tag_id"],
                                                   "create_event": self.event}}
        return {"request": dict(req), "repo": None}

    def hub_newRepo(self, tag, event=None, src=False, debuginfo=False, separate_src=False):
        if not self.regen_repo:
            raise Fault(NOT_ALLOWED, "regen-repo permission required (logged in as discomy)")
        task_id = 1000 + len(self.tasks)
        self.tasks[task_id] = {"id": task_id, "method": "newRepo", "state": CLOSED,
                               "request": [tag], "error": "", "polls": 0,
                               "created": time.time(), "create_ts": time.time()}
        return task_id

    # -- module builds: tags, inheritance, package lists, targets, dist repos -------------------
    def hub_createTag(self, name, parent=None, arches=None, perm=None, locked=False,
                      maven_support=False, maven_include_all=False, extra=None):
        if name in self.tags:
            raise Fault(GENERIC, f"A tag with the name {name!r} already exists")
        tag_id = max(t["id"] for t in self.tags.values()) + 1
        self.tags[name] = {"id": tag_id, "name": name, "arches": arches or "",
                           "extra": dict(extra or {}), "locked": False, "perm": None}
        self.event += 1
        return tag_id

    def hub_editTag2(self, tagInfo, **kwargs):
        tag = self._tag(tagInfo)
        if "arches" in kwargs:
            tag["arches"] = kwargs["arches"]
        tag["extra"].update(kwargs.get("extra") or {})
        for key in kwargs.get("remove_extra") or ():
            tag["extra"].pop(key, None)
        self.event += 1

    def hub_getInheritanceData(self, tag, event=None):
        name = self._tag(tag)["name"]
        return [dict(row) for row in self.inheritance.get(name, [])]

    def hub_setInheritanceData(self, tag, data, clear=False):
        name = self._tag(tag)["name"]
        rows = [] if clear else list(self.inheritance.get(name, []))
        for row in data:
            parent = self._tag(row["parent_id"])
            rows = [r for r in rows if r["parent_id"] != parent["id"]]
            rows.append({**row, "child_id": self._tag(name)["id"], "name": parent["name"]})
        self.inheritance[name] = sorted(rows, key=lambda r: r["priority"])
        self.event += 1

    def hub_listPackages(self, tagID=None, userID=None, pkgID=None, prefix=None,
                         inherited=False, with_dups=False, event=None, queryOpts=None,
                         with_owners=True, with_blocked=True):
        name = self._tag(tagID)["name"]
        return [{"package_name": p, "owner_name": o, "tag_id": self._tag(name)["id"],
                 "blocked": False} for p, o in sorted(self.packages.get(name, {}).items())]

    def hub_packageListAdd(self, taginfo, pkginfo, owner=None, block=None, extra_arches=None,
                           force=False, update=False):
        self.packages.setdefault(self._tag(taginfo)["name"], {})[pkginfo] = owner

    def hub_createBuildTarget(self, name, build_tag, dest_tag):
        if name in self.targets:
            raise Fault(GENERIC, f"A build target with the name {name!r} already exists")
        build, dest = self._tag(build_tag), self._tag(dest_tag)
        self.targets[name] = {"id": len(self.targets) + 1, "name": name,
                              "build_tag": build["id"], "build_tag_name": build["name"],
                              "dest_tag": dest["id"], "dest_tag_name": dest["name"]}

    def hub_listBuildRPMs(self, build):
        info = self.hub_getBuild(build)
        if info is None:
            raise Fault(GENERIC, f"No such build: {build}")
        arches = ["src"] + (self.hub_getBuildConfig(
            self._tag_of_build(info["nvr"]))["arches"] or "x86_64").split()
        return [{"name": info["name"], "version": info["version"], "release": info["release"],
                 "epoch": None, "arch": arch, "build_id": info["build_id"]} for arch in arches]

    def _tag_of_build(self, nvr):
        for tag, rows in self.tagged.items():
            if any(n == nvr for n, _ in rows):
                return tag
        return "el9"

    def hub_distRepo(self, tag, keys, **task_opts):
        info = self._tag(tag)
        repo_id = 7000 + len(self.tasks)
        task_id = 1000 + len(self.tasks)
        self.tasks[task_id] = {"id": task_id, "method": "distRepo", "state": OPEN,
                               "request": [info["name"], repo_id, keys, task_opts], "error": "",
                               "polls": 0, "created": time.time(), "create_ts": time.time()}
        return task_id

    def _dist_repo(self, task):
        tag, repo_id, _, opts = task["request"]
        if self.topdir is not None:
            import subprocess

            for arch in opts.get("arch") or []:
                where = self.topdir / "repos-dist" / tag / str(repo_id) / arch
                where.mkdir(parents=True, exist_ok=True)
                subprocess.run(["createrepo_c", "--quiet", "--general-compress-type=gz",
                                "--no-database", str(where)], check=True)
        task["state"] = CLOSED

    def hub_getPackageConfig(self, tag, pkg, event=None):
        owner = self.owners.get(pkg)
        return {"tag_id": self._tag(tag)["id"], "package_id": 1, "owner_name": owner,
                "blocked": False} if owner else None

    def hub_multiCall(self, calls):
        """koji's multicall: every call in one request, each answered with ``[result]``
        or a fault dict, as the hub's ``multiCall`` does."""
        results = []
        for call in calls:
            self.calls.append(call["methodName"])
            try:
                func, params, kwargs = self._method(call["methodName"], call["params"])
                results.append([func(*params, **kwargs)])
            except Fault as fault:
                results.append({"faultCode": fault.faultCode, "faultString": fault.faultString})
        return results

    def hub_listHosts(self, arches=None, channelID=None, ready=None, enabled=None, **kw):
        return [dict(h) for h in self.hosts if enabled is None or h["enabled"] == enabled]

    # stand-in of the discomy hub plugin's drain calls (koji-plugins/hub/discomy_hub.py)
    def _host(self, host):
        for h in self.hosts:
            if host in (h["id"], h["name"]):
                return h
        raise Fault(GENERIC, f"No such host: {host}")

    def hub_discomy_drainHost(self, host):
        self.drained.add(self._host(host)["id"])
        return True

    def hub_discomy_undrainHost(self, host):
        self.drained.discard(self._host(host)["id"])
        return True

    def hub_discomy_getDrainState(self, host):
        h = self._host(host)
        return {"host_id": h["id"], "name": h["name"], "enabled": h["enabled"],
                "drained": h["id"] in self.drained}

    def hub_system_listMethods(self):
        methods = [name[4:].replace("_", ".", 1) for name in dir(self)
                   if name.startswith("hub_") and not name.startswith("hub_discomy_")]
        if self.scheduler_settings is not None:
            methods += ["discomy.hostCapabilities", "discomy.schedulerSettings"]
        return sorted(methods)

    def hub_discomy_schedulerSettings(self):
        if self.scheduler_settings is None:
            raise Fault(GENERIC, "Invalid method: discomy.schedulerSettings")
        return dict(self.scheduler_settings)

    def hub_scheduler_getHostData(self, hostID=None):
        return [{"host_id": h, "data": d} for h, d in sorted(self.host_data.items())
                if hostID is None or h == hostID]


class _Server(ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True


class _Quiet(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/kojihub",)
