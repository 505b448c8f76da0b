"""The koji backend: a campaign's builds through ``koji.ClientSession``.

Two modes (trade-offs in docs/orchestrator.md):

- ``scratch``: scratch builds to the target, like Koschei. Nothing reaches a
  repo, so dependents are verified against the previous builds: it proves the
  set still builds, it does not chain new ABI through it.
- ``sidetag``: real builds in a side tag made for the campaign
  (``createSideTag`` on the target's build tag, with the ``dist`` macro plus a
  release suffix through ``editSideTag``, so rebuilt NVRs never clash with the
  originals). Each round of finished builds waits for the side tag's repo
  (``repo.request``/``repo.checkRequest`` on koji 1.35+, ``newRepo`` before),
  so dependents build against them. When every node passed, the builds are
  tagged into the destination tag and the side tag is removed.

Every build carries ``custom_user_metadata`` naming the campaign, so
:meth:`KojiBackend.find_all` recognises this campaign's tasks after a restart, and a
``build`` call whose answer was lost is looked up before it is repeated. The
source of a build is the ``scm_url`` template (``{name}``), or else the source
koji recorded for the package's latest build in the destination tag. Priorities
are koji's absolute numbers; the hub takes them relative to its default (20),
and only admins may go below it.

A failed task's outcome says who is at fault from koji's own facts
(:func:`discomy.orchestration.campaign.koji_failure_class`): the task's state (a canceled or
vanished task is not the package's doing) and the class of its fault, read with
``getTaskResult(task, raise_fault=False)`` so it arrives as data: the
``BuildrootError`` of a buildroot that could not be made, or an exception on
the builder outside koji's classes, is infrastructure; a ``BuildError`` is the
package's. The failed subtask (``getTaskChildren``) gives the log: its file
under the hub's ``topurl`` (``listTaskOutput``, laid out as ``koji.PathInfo``
does), else its kojiweb ``taskinfo`` page.

Every hub call is retried with exponential backoff on network faults; a hub
that stays down raises :class:`HubUnavailable`: the campaign pauses.
"""

from __future__ import annotations

import logging
import time
import xmlrpc.client
from dataclasses import replace
from typing import Callable, Optional

import koji

from discomy.orchestration import campaign as cm
from discomy.orchestration.backends import (
    LOST,
    READY,
    WAITING,
    BackendError,
    BuildOutcome,
    HubUnavailable,
)

log = logging.getLogger(__name__)

# faults that say nothing about the request: the call is worth repeating
NETWORK_FAULTS = (OSError, ConnectionError, xmlrpc.client.ProtocolError, koji.ServerOffline,
                  koji.RetryError, xmlrpc.client.ResponseError)
TASK = koji.TASK_STATES
FINISHED = {TASK["CLOSED"], TASK["FAILED"], TASK["CANCELED"]}
LIVE = [TASK[s] for s in ("FREE", "OPEN", "ASSIGNED", "CLOSED")]
METADATA_KEY = "discomy_campaign"


class KojiBackendError(BackendError):
    """A campaign that cannot run on this hub (a missing target, a refused side tag)."""


class KojiBackend:
    name = "koji"
    # a fixed build tagged into the destination (or side) tag is in the buildroot of
    # the campaign's next builds: it counts as the node's build
    sees_outside_builds = True

    def __init__(self, session, campaign_id: int, target: str, mode: str = "scratch",
                 scm_url: str = "", sidetag: Optional[str] = None, dist: str = "",
                 release_suffix: str = ".discomy{campaign}", created_at: float = 0.0,
                 start_event: Optional[int] = None,
                 load_threshold: float = 0.8, retries: int = 5, backoff_seconds: float = 2.0,
                 load_cache_seconds: float = 30.0, weburl: str = "", topurl: str = "",
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time):
        if mode not in ("scratch", "sidetag"):
            raise ValueError(f"unknown koji mode {mode!r}: use scratch or sidetag")
        self.session, self.campaign_id, self.target, self.mode = session, campaign_id, target, mode
        self.scm_template, self.sidetag, self.dist = scm_url, sidetag, dist
        self.suffix = release_suffix.format(campaign=campaign_id)
        self.created_at, self.start_event = created_at, start_event
        self.load_threshold, self.load_cache_seconds = load_threshold, load_cache_seconds
        self.retries, self.backoff, self.sleep, self.clock = retries, backoff_seconds, sleep, clock
        self._target_info: Optional[dict] = None
        self._sources: dict = {}
        self._load: tuple = (float("-inf"), None)
        self._whoami = False                  # not asked yet
        self.weburl = weburl.rstrip("/")
        self.topurl = topurl.rstrip("/")
        self._merge_tasks: dict = {}          # nvr -> tagging task of this life's merge
        self._hosts: dict = {}                # host id -> name, as koji said

    # -- hub calls -----------------------------------------------------------------
    def call(self, method: str, *args, **kwargs):
        """One hub call, retried with backoff on network faults."""
        func = self.session
        for part in method.split("."):
            func = getattr(func, part)
        return self._retrying(method, lambda: func(*args, **kwargs))

    def call_many(self, method: str, arglist: list) -> list:
        """The same call for many arguments in koji multicalls (one round trip per 500),
        retried as a whole; a fault in any of them is raised as koji raises it."""
        if not arglist:
            return []

        def run():
            with self.session.multicall(strict=True, batch=500) as m:
                pending = [getattr(m, method)(*args) for args in arglist]
            return [p.result for p in pending]
        return self._retrying(f"multicall {method}", run)

    def _retrying(self, what: str, run: Callable, recover: Optional[Callable] = None):
        """``run()``, again after network faults with backoff. ``recover()`` is asked
        after each fault: what it returns (not None) is the answer the fault lost."""
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return run()
            except NETWORK_FAULTS as exc:
                found = recover() if recover else None
                if found is not None:
                    return found
                if attempt == self.retries:
                    raise HubUnavailable(f"koji hub unavailable: {what} failed "
                                         f"{attempt + 1} times, last: {exc}") from None
                log.warning("koji %s failed (%s); retrying in %.1f s", what, exc, delay)
                self.sleep(delay)
                delay = min(delay * 2, 300.0)

    def target_info(self) -> dict:
        if self._target_info is None:
            info = self.call("getBuildTarget", self.target)
            if not info:
                raise KojiBackendError(f"koji has no build target {self.target!r}")
            self._target_info = info
        return self._target_info

    @property
    def repo_tag(self) -> Optional[str]:
        """The tag whose repo the campaign's next builds are made in (a side tag's own)."""
        return self.sidetag

    @property
    def build_target(self) -> str:
        """Where builds go: the side tag (its target has its name) or the campaign target."""
        return self.sidetag if self.mode == "sidetag" else self.target

    # -- set-up ----------------------------------------------------------------------
    def prepare(self) -> dict:
        info = self.target_info()
        fields = {"dest_tag": info["dest_tag_name"]}
        if self.start_event is None:
            self.start_event = fields["start_event"] = int(self.call("getLastEvent")["id"])
        if self.mode != "sidetag" or self.sidetag:
            return fields
        base = info["build_tag_name"]
        dist = self.dist or self._base_dist(base)
        found, marked = self._find_sidetag(base, dist + self.suffix)
        if found is None:
            try:
                made = self.call("createSideTag", base)
            except koji.GenericError as exc:
                raise KojiBackendError(f"koji refused a side tag on {base}: {exc}") from None
            found = made["name"]
        if not marked:
            try:
                self.call("editSideTag", found, rpm_macros={"dist": dist + self.suffix})
            except koji.GenericError as exc:
                # e.g. the base tag's extra has no sidetag_rpm_macros_allowed naming dist
                raise KojiBackendError(f"koji refused the dist macro on side tag {found} "
                                       f"(base {base}): {exc}") from None
            log.info("campaign %s: side tag %s, dist %s", self.campaign_id, found, dist + self.suffix)
        self.sidetag = found
        return {**fields, "sidetag": found}

    def _base_dist(self, tag: str) -> str:
        extra = (self.call("getBuildConfig", tag) or {}).get("extra", {})
        dist = extra.get("rpm.macro.dist")
        if not dist:
            raise KojiBackendError(f"{tag} sets no rpm.macro.dist: name the dist in "
                                   f"[koji] dist, e.g. \".el9\"")
        return dist

    def _find_sidetag(self, base: str, dist: str) -> tuple:
        """A side tag this campaign made before a restart, recognised by its dist macro,
        and whether it has it: one made but not yet marked when the daemon stopped has
        no dist macro and is taken over rather than left behind."""
        try:
            user = self._user()
            tags = self.call("listSideTags", basetag=base,
                             user=user["name"] if user else None) or []
        except koji.GenericError:
            return None, False
        unmarked = None
        for tag in tags:
            extra = (self.call("getTag", tag["id"]) or {}).get("extra", {})
            if extra.get("rpm.macro.dist") == dist:
                return tag["name"], True
            if unmarked is None and "rpm.macro.dist" not in extra:
                unmarked = tag["name"]
        return unmarked, False

    def _user(self) -> Optional[dict]:
        """Who the session is logged in as (None: anonymous), asked once."""
        if self._whoami is False:
            self._whoami = self.call("getLoggedInUser") or None
        return self._whoami

    # -- builds ------------------------------------------------------------------------
    def source(self, name: str) -> str:
        if name not in self._sources:
            if self.scm_template:
                self._sources[name] = self.scm_template.format(name=name)
            else:
                builds = self.call("getLatestBuilds", self.target_info()["dest_tag_name"],
                                   package=name) or []
                build = self.call("getBuild", builds[0]["build_id"]) if builds else None
                source = (build or {}).get("source")
                if not source:
                    raise KojiBackendError(
                        f"no source for {name}: no build of it in "
                        f"{self.target_info()['dest_tag_name']} records one; set [koji] scm_url")
                self._sources[name] = source
        return self._sources[name]

    def _opts(self) -> dict:
        opts = {"custom_user_metadata": {METADATA_KEY: self.campaign_id}}
        if self.mode == "scratch":
            opts["scratch"] = True
        return opts

    def find(self, name: str) -> Optional[str]:
        """This campaign's build task for ``name`` that is running or succeeded, if any."""
        return self.find_all([name]).get(name)

    def find_all(self, names) -> dict:
        """This campaign's running or succeeded build task of each of ``names``: one
        ``listTasks`` over the build tasks since the campaign started, whatever their number."""
        wanted = {}
        for name in names:
            try:
                wanted[(self.source(name), self.build_target)] = name
            except KojiBackendError:
                continue
        if not wanted:
            return {}
        query = {"method": "build", "state": LIVE, "decode": True}
        if self.created_at:
            query["createdAfter"] = self.created_at - 60
        user = self._user()
        if user:                            # ours only: a busy hub has many build tasks
            query["owner"] = user["id"]
        found: dict = {}
        for task in sorted(self.call("listTasks", query) or [], key=lambda t: -int(t["id"])):
            request = task.get("request") or []
            if len(request) < 3:
                continue
            name = wanted.get((request[0], request[1]))
            meta = (request[2] or {}).get("custom_user_metadata") or {}
            if name and name not in found and meta.get(METADATA_KEY) == self.campaign_id:
                found[name] = str(task["id"])
        return found

    def submit(self, name: str, priority: int = koji.PRIO_DEFAULT) -> str:
        try:
            source = self.source(name)
        except KojiBackendError as exc:
            return f"error:{exc}"
        relative = priority - koji.PRIO_DEFAULT
        try:
            # the hub may have made the task before the answer was lost: look before again
            return str(self._retrying(
                "build", lambda: self.session.build(source, self.build_target, self._opts(),
                                                    priority=relative or None),
                recover=lambda: self.find(name)))
        except koji.GenericError as exc:
            return f"error:{exc}"

    def poll(self, task: str) -> Optional[BuildOutcome]:
        return self.poll_all([task])[task]

    def poll_all(self, tasks) -> dict:
        """``task -> BuildOutcome`` (None while it runs) for every task, the task states
        read in one multicall (and what failed ones left, in a few more)."""
        ids = sorted({int(t) for t in tasks if t.isdigit()})
        infos = dict(zip(ids, self.call_many("getTaskInfo", [(i,) for i in ids])))
        ran = [i for i in ids if infos[i] and infos[i]["state"] in (TASK["CLOSED"], TASK["FAILED"])]
        children = dict(zip(ran, self.call_many("getTaskChildren", [(i,) for i in ran])))
        failed = [i for i in ran if infos[i]["state"] == TASK["FAILED"]]
        facts = self._failure_facts(failed, children)
        where = self._where_ran(ran, infos, children)
        outcomes = {}
        for task in tasks:
            task_id = int(task) if task.isdigit() else None
            outcome = self._outcome(task, infos.get(task_id), facts.get(task_id))
            if outcome is not None and task_id in where:
                outcome = replace(outcome, host=where[task_id][0], seconds=where[task_id][1])
            outcomes[task] = outcome
        return outcomes

    def _where_ran(self, ran: list, infos: dict, children: dict) -> dict:
        """``task id -> (hosts, seconds)`` of finished build tasks: their buildArch
        subtasks' hosts as ``arch:host`` (the task's own host when it has none), and
        koji's start to completion of the task."""
        tasks = {i: [c for c in children.get(i) or [] if c.get("method") == "buildArch"]
                 or [infos[i]] for i in ran}
        names = self._host_names({t.get("host_id") for ts in tasks.values() for t in ts})
        where = {}
        for i, ts in tasks.items():
            hosts = sorted({(t.get("arch") or "", names.get(t.get("host_id"), ""))
                            for t in ts if t.get("host_id") in names})
            text = ", ".join(host if arch in ("", "noarch") else f"{arch}:{host}"
                             for arch, host in hosts)
            start, end = infos[i].get("start_ts"), infos[i].get("completion_ts")
            seconds = float(end) - float(start) if isinstance(start, (int, float)) \
                and isinstance(end, (int, float)) and end >= start else None
            where[i] = (text[:255], seconds)
        return where

    def _host_names(self, host_ids: set) -> dict:
        """``host id -> name``, asked of koji once per host."""
        unknown = sorted(h for h in host_ids if isinstance(h, int) and h not in self._hosts)
        if unknown:
            for host_id, info in zip(unknown, self.call_many("getHost", [(h,) for h in unknown])):
                self._hosts[host_id] = (info or {}).get("name") or f"host {host_id}"
        return {h: self._hosts[h] for h in host_ids if h in self._hosts}

    def _failure_facts(self, failed: list, children: dict) -> dict:
        """``task id -> (fault, failed subtask id or None, a subtask was canceled, its log
        files)`` of failed build tasks."""
        if not failed:
            return {}
        faults = self.call_many("getTaskResult", [(i, False) for i in failed])
        culprits = {i: _culprit(children.get(i) or []) for i in failed}
        where = [culprits[i][0] or i for i in failed]
        files = self.call_many("listTaskOutput", [(w,) for w in where]) if self.topurl else \
            [[] for _ in where]
        return {i: (fault if isinstance(fault, dict) else {}, culprits[i][0], culprits[i][1],
                    list(output or []))
                for i, fault, output in zip(failed, faults, files)}

    def _outcome(self, task: str, info: Optional[dict],
                 facts: Optional[tuple] = None) -> Optional[BuildOutcome]:
        if task.startswith("error:"):          # refused at submission: the package's fault
            return BuildOutcome(False, error=task[len("error:"):], failure=cm.PACKAGE)
        task_id = int(task)
        if not info:
            return BuildOutcome(False, error=f"koji has no task {task_id} (host died?)",
                                failure=cm.koji_failure_class(""))
        if info["state"] not in FINISHED:
            return None
        if info["state"] == TASK["CANCELED"]:
            return BuildOutcome(False, error=f"task {task_id} was canceled",
                                failure=cm.koji_failure_class("CANCELED"),
                                log=self.task_url(task))
        if info["state"] == TASK["FAILED"]:
            fault, child, child_canceled, files = facts or ({}, None, False, [])
            classes = _fault_classes(fault.get("faultCode"))
            failure = cm.koji_failure_class("FAILED", classes, child_canceled)
            text = _last_line(fault.get("faultString", "")) or f"task {task_id} failed"
            error = f"{classes[0]}: {text}" if classes else text
            return BuildOutcome(False, error=error, failure=failure,
                                log=self._log_location(child or task_id, files, classes))
        log = self.task_url(task)
        if self.mode == "scratch":
            return BuildOutcome(True, nvr=None, log=log)
        builds = self.call("listBuilds", taskID=task_id) or []
        return BuildOutcome(True, nvr=builds[0]["nvr"] if builds else None, log=log)

    def _log_location(self, task_id: int, files: list, classes: tuple) -> str:
        """Where to read why ``task_id`` failed: its log file on the hub's file server
        (the buildroot's root.log when the buildroot failed, else build.log), else its
        kojiweb page, else its number."""
        prefer = ("root.log", "mock_output.log", "build.log") if "BuildrootError" in classes \
            else ("build.log", "root.log", "mock_output.log")
        logs = [f for f in prefer if f in files] + sorted(f for f in files if f.endswith(".log"))
        if self.topurl and logs:
            return f"{koji.PathInfo(topdir=self.topurl).task(task_id)}/{logs[0]}"
        return self.task_url(str(task_id)) or f"koji task {task_id}"

    # -- for people -------------------------------------------------------------------
    def owner(self, name: str) -> Optional[str]:
        """The koji owner of ``name`` in the destination tag (who is told of its failure)."""
        try:
            config = self.call("getPackageConfig", self.target_info()["dest_tag_name"], name)
        except koji.GenericError:
            return None
        return (config or {}).get("owner_name")

    def task_url(self, task: str) -> str:
        if not self.weburl or not task.isdigit():
            return ""
        return f"{self.weburl}/taskinfo?taskID={task}"

    def cancel(self, task: str) -> None:
        """Stop a running build of a cancelled campaign (finished ones are left as they are)."""
        if task.startswith("error:"):
            return
        try:
            self.call("cancelTask", int(task))
        except koji.GenericError as exc:
            log.warning("campaign %s: task %s not cancelled: %s", self.campaign_id, task, exc)

    # -- the buildroot repo ------------------------------------------------------------
    def request_repo(self, nvrs) -> Optional[str]:
        if self.mode == "scratch":
            return None         # scratch builds reach no repo
        try:
            check = self.call("repo.request", self.repo_tag, min_event="last")
        except koji.GenericError as exc:
            if "Invalid method" not in str(exc):
                raise
            # a hub before 1.35: a newRepo task, then the tag's current repo
            try:
                return f"task:{self.call('newRepo', self.repo_tag)}"
            except koji.ActionNotAllowed as exc:
                raise KojiBackendError(f"koji before 1.35 regenerates a side tag's repo only "
                                       f"through newRepo, which needs the regen-repo "
                                       f"permission: {exc}") from None
        if check.get("repo"):
            return f"repo:{check['repo']['id']}"
        return f"request:{check['request']['id']}"

    def repo_state(self, ref: str) -> str:
        kind, _, ident = ref.partition(":")
        if kind == "repo":
            return READY
        if kind == "task":
            info = self.call("getTaskInfo", int(ident))
            if not info or info["state"] in (TASK["FAILED"], TASK["CANCELED"]):
                return LOST
            return READY if info["state"] == TASK["CLOSED"] else WAITING
        try:
            check = self.call("repo.checkRequest", int(ident))
        except koji.GenericError as exc:
            if "No such request" not in str(exc):
                raise
            # the hub deletes finished requests after RequestCleanTime (a day by default)
            return LOST
        if check.get("repo"):
            return READY
        return WAITING if (check.get("request") or {}).get("active", True) else LOST

    # -- load ------------------------------------------------------------------------
    def hold_back(self) -> Optional[str]:
        """A reason to wait while koji's load on the target's arches is above the threshold."""
        stamp, reason = self._load
        if self.clock() - stamp < self.load_cache_seconds:
            return reason
        arches = (self.call("getBuildConfig", self.target_info()["build_tag_name"]) or {}) \
            .get("arches") or ""
        hosts = self.call("listHosts", enabled=True) or []
        loads = cm.arch_loads(hosts, arches.split())
        reason = cm.hold_back_reason(loads, self.load_threshold)
        self._load = (self.clock(), reason)
        return reason

    # -- the end -----------------------------------------------------------------------
    def merge(self, nvrs) -> bool:
        """Tag every build of a passed side-tag campaign into the destination, then drop
        the side tag; True once that is done, False while tagging tasks run (ask again).

        Never blocks. A build is judged by whether it is in the destination, not by
        which task put it there, so a restart can merge again: tagging tasks of a
        merge cut short may still be running, and the second one koji fails as
        "already tagged"."""
        if self.mode != "sidetag":
            return True
        dest = self.target_info()["dest_tag_name"]
        tagged = {b["nvr"] for b in self.call("listTagged", dest) or []}
        pending = False
        for nvr in (n for n in nvrs if n not in tagged):
            task_id = self._merge_tasks.get(nvr)
            if task_id is not None:
                info = self.call("getTaskInfo", task_id)
                if info and info["state"] == TASK["FAILED"] and not self._tagged(dest, nvr):
                    raise KojiBackendError(f"tagging {nvr} into {dest} failed (task {task_id})")
                pending = True          # running, or closed since the listing above
                continue
            try:
                self._merge_tasks[nvr] = int(self.call("tagBuild", dest, nvr,
                                                       fromtag=self.sidetag))
            except koji.GenericError:
                if not self._tagged(dest, nvr):     # not tagged by an earlier task meanwhile
                    raise
                continue
            pending = True
        if pending:
            return False
        # gone already when the daemon stopped between removing it and recording the merge
        if self.sidetag and self.call("getTag", self.sidetag):
            self.call("removeSideTag", self.sidetag)
        log.info("campaign %s: %d builds merged into %s", self.campaign_id, len(nvrs), dest)
        return True

    def _tagged(self, tag: str, nvr: str) -> bool:
        name = koji.parse_NVR(nvr)["name"]
        return nvr in {b["nvr"] for b in self.call("listTagged", tag, package=name) or []}


def _culprit(children: list) -> tuple:
    """The subtask that failed a build (a buildArch before a buildSRPMFromSCM), or None;
    and whether one was canceled while none failed."""
    failed = [c for c in children if c.get("state") == TASK["FAILED"]]
    failed.sort(key=lambda c: (c.get("method") != "buildArch", c.get("id", 0)))
    canceled = any(c.get("state") == TASK["CANCELED"] for c in children)
    return (int(failed[0]["id"]) if failed else None), (canceled and not failed)


def _fault_classes(code) -> tuple:
    """The names of koji's class for a fault code and of its bases down to GenericError;
    empty for a code outside koji's classes (kojid reports any other exception as 1)."""
    if code is None:
        return ()
    exc = koji.convertFault(xmlrpc.client.Fault(code, ""))
    if not isinstance(exc, koji.GenericError):
        return ()
    return tuple(c.__name__ for c in type(exc).__mro__ if issubclass(c, koji.GenericError))


def _last_line(text: str) -> str:
    """A fault's sentence: kojid sends koji's own errors as one line and any other
    exception as its traceback, which ends with the exception."""
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def profile_urls(profile: str) -> dict:
    """The ``weburl`` and ``topurl`` of a koji CLI profile (empty when it has none)."""
    try:
        config = koji.read_config(profile)
    except koji.ConfigurationError:
        return {"weburl": "", "topurl": ""}
    return {"weburl": config.get("weburl") or "", "topurl": config.get("topurl") or ""}


def session_for(profile: str = "koji", server: str = "") -> koji.ClientSession:
    """A logged-in ClientSession from a koji CLI profile (``/etc/koji.conf.d``), or an
    anonymous one on ``server``. Retries are ours, so koji's own are switched off."""
    if server:
        return koji.ClientSession(server, {"max_retries": 0, "anon_retry": False})
    try:
        config = koji.read_config(profile)
    except koji.ConfigurationError as exc:
        raise KojiBackendError(f"koji profile {profile!r}: {exc}") from None
    opts = koji.grab_session_options(config)
    opts.update({"max_retries": 0, "anon_retry": False})
    session = koji.ClientSession(config["server"], opts)
    authtype = config.get("authtype")
    if authtype == "ssl" or (authtype is None and config.get("cert")):
        session.ssl_login(config["cert"], None, config.get("serverca"))
    elif authtype in ("kerberos", "gssapi") or authtype is None:
        session.gssapi_login(principal=config.get("principal"), keytab=config.get("keytab"))
    elif authtype == "password":
        session.login()
    return session
