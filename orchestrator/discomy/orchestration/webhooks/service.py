"""The webhook service (shell): deliveries taken on the request thread, builds run by a
worker thread.

:meth:`WebhookService.accept` is what a ``POST /api/v1/webhooks/{forge}`` does,
quickly and in this order: the delivery's id and event are read, its payload
parsed, the repository it names looked up in ``[[webhooks.repos]]``, its
signature verified, the delivery recorded once (a delivery id seen before is a
replay: refused), the push read; then one build row is committed (``queued``)
and its id queued for the worker, and the answer is 202. Nothing a payload
says reaches a command line: the URLs built from are the configured ones.

The worker takes each build through ``preparing`` (warm clones updated, the
commit's tree exported into ``<workdir>/builds/<id>``, the SRPM made, the
previous version asked for and compared), then ``skipped`` or ``submitted``
(a koji task, or rpmbuild here), then ``success`` or ``failure``. Koji builds
are followed every ``[webhooks] poll_seconds`` between pushes; a successful
koji release of a repository with ``dependents = true`` starts a side-tag
campaign for its dependents (:func:`discomy.orchestration.runner.start_campaign`).
Every state is committed before what it leads to; at start the service takes
up the builds a stopped process left queued, preparing or running.

Each state change goes to the forge as a commit status (from
:class:`~discomy.orchestration.webhooks.forge_status.StatusReporter`'s own
thread), to the bus (``discomy.webhook.build.state.change``) and, when a build
ends, to chat through the notifier.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from discomy.orchestration.store.webhooks import (
    FAILURE,
    OPEN_STATES,
    PREPARING,
    QUEUED,
    SKIPPED,
    SUBMITTED,
    SUCCESS,
)
from discomy.orchestration.webhooks import decide as d
from discomy.orchestration.webhooks import git, previous, submit
from discomy.orchestration.webhooks.forge_status import Status, StatusReporter
from discomy.orchestration.webhooks.srpm import SrpmError, make_srpm

log = logging.getLogger(__name__)

FORGE_STATE = {QUEUED: "pending", PREPARING: "pending", SUBMITTED: "pending",
               SKIPPED: "success", SUCCESS: "success", FAILURE: "failure"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict


def _refusal(status: int, error: str) -> Answer:
    return Answer(status, {"status": status, "error": error})


class WebhookService:
    def __init__(self, store, config: dict, session_factory: Optional[Callable] = None,
                 notifier=None, publisher=None, reporter: Optional[StatusReporter] = None,
                 wake: Callable[[int], None] = lambda campaign_id: None, write_lock=None):
        import contextlib

        from discomy.orchestration.config import webhook_repos

        self.store, self.config = store, config
        self.builds = store.webhooks
        w = self.settings = config["webhooks"]
        self.repos = {repo.key: repo for repo in webhook_repos(config)}
        self.workdir = Path(w["workdir"])
        self.session_factory = session_factory
        self.notifier = notifier
        self.publisher = publisher
        if publisher is None and w["amqp_url"]:
            from discomy.orchestration.modules.messages import Publisher
            from discomy.orchestration.webhooks.messages import WebhookBuildStateChange

            self.publisher = Publisher(w["amqp_url"], w["exchange"], w["topic_prefix"],
                                       message_class=WebhookBuildStateChange)
        self.reporter = reporter or StatusReporter(w["status_retries"],
                                                   w["status_backoff_seconds"])
        self.wake = wake
        self.write_lock = write_lock or contextlib.nullcontext()
        self.queue: "queue.Queue[Optional[int]]" = queue.Queue(w["queue_size"])
        self._session = None
        self._busy = 0
        self._idle = threading.Condition()
        self._thread = None

    # -- the request thread ------------------------------------------------------------------
    def accept(self, forge: str, headers: dict, body: bytes) -> Answer:
        """A delivery to ``/api/v1/webhooks/<forge>`` (``headers`` with lower-case names)."""
        try:
            event = d.event_name(forge, headers)
            delivery = d.delivery_id(forge, headers)
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                raise d.Refused(400, "the payload must be sent as application/json")
            try:
                payload = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                raise d.Refused(400, "the payload is not valid JSON") from None
            name = d.payload_repository(forge, payload)
            repo = self.repos.get((forge, name.lower()))
            if repo is None:
                # no secret to verify it with: as good as unsigned
                raise d.Refused(401, f"no {forge} webhook is configured for {name[:200]}")
            d.verify(forge, headers, body, repo.secret)
        except d.Refused as exc:
            log.warning("%s webhook refused (%d): %s", forge, exc.status, exc.reason)
            return _refusal(exc.status, exc.reason)
        busy = "too many pushes are waiting; the delivery can be sent again"
        if self.queue.full():
            # before the delivery is recorded, so that the forge's redelivery is taken
            return Answer(503, {"status": 503, "error": busy})
        delivery_row = self.builds.record_delivery(forge, delivery, repo.repository, event)
        if delivery_row is None:
            log.warning("%s webhook refused: delivery %s of %s came again", forge, delivery,
                        repo.repository)
            return _refusal(400, f"delivery {delivery} was received before (a replay)")
        try:
            push = d.read_push(forge, event, payload, repo)
        except d.Refused as exc:
            self.builds.delivery_outcome(delivery_row, f"refused: {exc.reason}")
            return _refusal(exc.status, exc.reason)
        if isinstance(push, d.Ignored):
            self.builds.delivery_outcome(delivery_row, f"ignored: {push.reason}")
            return Answer(200, {"outcome": "ignored", "reason": push.reason})
        build_id = self.builds.add_build(delivery_row, forge, repo.repository, push.branch,
                                         push.commit, repo.mode, repo.backend, repo.target)
        try:
            self.queue.put_nowait(build_id)
        except queue.Full:
            self.builds.update_build(build_id, state=FAILURE, reason=busy)
            self.builds.forget_delivery(delivery_row)
            return Answer(503, {"status": 503, "error": busy})
        self.builds.delivery_outcome(delivery_row, f"build {build_id}")
        log.info("%s push of %s %s (%s) queued as webhook build %d (%s, %s)", forge,
                 repo.repository, push.branch, push.commit[:12], build_id, repo.mode,
                 repo.backend)
        self._report(repo, self.builds.build(build_id), "queued")
        return Answer(202, {"outcome": "queued", "build": build_id,
                            "url": f"/api/v1/webhooks/builds/{build_id}"})

    # -- the worker --------------------------------------------------------------------------
    def start(self) -> "WebhookService":
        """Take up what a stopped process left, then run the worker thread."""
        for row in reversed(self.builds.builds(states=OPEN_STATES, limit=10000)):
            if row.state == SUBMITTED and row.backend == "koji" and row.task:
                continue                    # followed by the worker
            if row.state == SUBMITTED and row.backend == "koji":
                self._finish(row, FAILURE, "the service stopped before koji answered the "
                                           "submission; push again")
                continue
            try:
                self.queue.put_nowait(row.id)
            except queue.Full:
                self._finish(row, FAILURE, "too many builds were left waiting at start")
        self._thread = threading.Thread(target=self._work, name="discomy-webhooks",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            try:
                self.queue.put(None, timeout=timeout)
            except queue.Full:
                pass
            self._thread.join(timeout)
        self.reporter.close()

    def idle(self, timeout: float = 120.0) -> bool:
        """Wait until no push is queued or being prepared (tests, the benchmark)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self.queue.unfinished_tasks or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def _work(self) -> None:
        next_poll = time.monotonic()
        while True:
            wait = max(0.0, next_poll - time.monotonic())
            try:
                build_id = self.queue.get(timeout=wait)
            except queue.Empty:
                build_id = ...
            if build_id is None:
                self.queue.task_done()
                return
            with self._idle:
                self._busy += 1
            try:
                if build_id is ...:
                    self._follow()
                    next_poll = time.monotonic() + self.settings["poll_seconds"]
                else:
                    self._run(build_id)
            except Exception:                   # one build's bug must not end the worker
                log.exception("webhook build %s: unexpected error", build_id)
                if build_id is not ...:
                    row = self.builds.build(build_id)
                    if row is not None and row.state in OPEN_STATES:
                        self._finish(row, FAILURE, "internal error; the service's log has "
                                                   "the details")
            finally:
                with self._idle:
                    self._busy -= 1
                    if build_id is not ...:
                        self.queue.task_done()
                    self._idle.notify_all()

    def _koji(self):
        if self._session is None:
            if self.session_factory is not None:
                self._session = self.session_factory()
            else:
                from discomy.orchestration.backends.koji import session_for

                self._session = session_for(self.config["koji"]["profile"])
        return self._session

    def _run(self, build_id: int) -> None:
        row = self.builds.build(build_id)
        if row is None or row.state not in OPEN_STATES:
            return
        repo = self.repos.get((row.forge, row.repository.lower()))
        if repo is None:
            self._finish(row, FAILURE, "the repository is no longer configured")
            return
        row = self._move(row, PREPARING, "preparing the SRPM")
        w = self.settings
        timeout = w["git_timeout_seconds"]
        work = self.workdir / "builds" / str(row.id)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        clones = self.workdir / "clones"
        try:
            if repo.upstream:
                upstream, _ = git.update(repo.upstream, row.branch, clones, w["allowed_urls"],
                                         timeout)
                if not git.has_commit(upstream, row.commit, timeout):
                    raise git.GitError(f"{row.commit[:12]} is not on {row.branch} of "
                                       f"{repo.upstream}")
                dist_git, spec_commit = git.update(repo.dist_git, repo.dist_git_branch, clones,
                                                   w["allowed_urls"], timeout)
                dated = upstream
            else:
                dist_git, _ = git.update(repo.dist_git, row.branch, clones, w["allowed_urls"],
                                         timeout)
                if not git.has_commit(dist_git, row.commit, timeout):
                    raise git.GitError(f"{row.commit[:12]} is not on {row.branch} of "
                                       f"{repo.dist_git}")
                spec_commit, upstream, dated = row.commit, None, dist_git
            tree = git.export(dist_git, spec_commit, work / "tree", timeout)
            snapshot = None
            if repo.mode == "ci":
                snapshot = d.snapshot_release(git.commit_time(dated, row.commit, timeout),
                                              row.commit)
            srpm = make_srpm(tree, work / "rpmbuild", repo.spec, snapshot, self._dist(repo),
                             (upstream, row.commit) if upstream else None,
                             w["build_timeout_seconds"])
            self.builds.update_build(row.id, package=srpm.name, nvr=srpm.nvr)
            if repo.backend == "koji":
                before = previous.from_koji(self._koji(), repo.target, srpm.name)
            else:
                before = previous.from_local_repo(self._local_repo(repo), srpm.name)
            decision = d.decide(repo.mode, srpm.evr, before)
            self.builds.update_build(row.id, previous=d.evr_text(before))
            row = self.builds.build(row.id)
            if not decision.build:
                log.info("webhook build %d of %s: not built: %s", row.id, srpm.nvr,
                         decision.reason)
                self._finish(row, SKIPPED, f"not built: {decision.reason}")
                return
            log.info("webhook build %d of %s: building: %s", row.id, srpm.nvr, decision.reason)
            if repo.backend == "koji":
                self._submit_koji(row, repo, srpm, decision.reason)
            else:
                self._build_here(row, repo, srpm, work, decision.reason)
        except (git.GitError, SrpmError, previous.PreviousError) as exc:
            self._finish(self.builds.build(row.id), FAILURE, str(exc))
        except Exception as exc:
            import koji

            if not isinstance(exc, (koji.GenericError, OSError)):
                raise
            lines = str(exc).strip().splitlines()
            said = lines[-1][:300] if lines else type(exc).__name__
            if isinstance(exc, koji.GenericError) or repo.backend == "koji":
                self._session = None            # a fresh one next time
                said = f"koji: {said}"
            self._finish(self.builds.build(row.id), FAILURE, said)

    def _dist(self, repo: d.RepoSettings) -> str:
        if repo.backend == "koji" and self.config["koji"]["dist"]:
            return self.config["koji"]["dist"]
        return self.config["local"]["dist"]

    def _local_repo(self, repo: d.RepoSettings) -> Path:
        return Path(repo.local_repo) if repo.local_repo else \
            self.workdir / "repos" / repo.slug

    def _submit_koji(self, row, repo: d.RepoSettings, srpm, why: str) -> None:
        row = self._move(row, SUBMITTED, f"{why}; submitting to koji")
        task = submit.koji_submit(self._koji(), srpm.path, repo.target,
                                  scratch=repo.mode == "ci", build_id=row.id)
        self.builds.update_build(row.id, task=task, submitted_at=time.time(),
                                 reason=f"{why}; koji task {task}")
        row = self.builds.build(row.id)
        log.info("webhook build %d of %s: koji task %s (%s)", row.id, srpm.nvr, task,
                 "scratch" if repo.mode == "ci" else "real")
        self._announce(row, repo, PREPARING, f"koji task {task}")

    def _build_here(self, row, repo: d.RepoSettings, srpm, work: Path, why: str) -> None:
        self.builds.update_build(row.id, submitted_at=time.time())
        row = self._move(row, SUBMITTED, f"{why}; building here with rpmbuild")
        target = self._local_repo(repo)
        outcome = submit.local_build(srpm.path, work / "rpmbuild", target, self._dist(repo),
                                     work / "build.log", self.settings["build_timeout_seconds"])
        self._finish(self.builds.build(row.id), SUCCESS if outcome.ok else FAILURE,
                     f"{why}; built into {target}" if outcome.ok else outcome.error,
                     log=outcome.log)

    def _follow(self) -> None:
        """The koji builds under way: those that ended are finished."""
        rows = [r for r in self.builds.builds(states=(SUBMITTED,), limit=1000)
                if r.backend == "koji" and r.task]
        if not rows:
            return
        import koji

        for row in rows:
            try:
                outcome = submit.koji_outcome(self._koji(), row.task)
            except (koji.GenericError, OSError) as exc:
                self._session = None
                log.warning("webhook build %d: koji did not say how task %s is: %s", row.id,
                            row.task, exc)
                return
            if outcome is None:
                continue
            if not outcome.ok:
                self._finish(row, FAILURE, outcome.error)
                continue
            repo = self.repos.get((row.forge, row.repository.lower()))
            reason = f"koji task {row.task} succeeded"
            campaign = None
            if repo is not None and repo.dependents and row.mode == "release":
                campaign, note = self._dependents(row, repo)
                reason += f"; {note}"
            self._finish(row, SUCCESS, reason, campaign_id=campaign)

    def _dependents(self, row, repo: d.RepoSettings) -> tuple:
        """A side-tag campaign rebuilding what depends on the package just released:
        ``(campaign id or None, what happened)``."""
        from discomy.orchestration.runner import live_conflict, plan_repos, start_campaign

        c, p = self.config["campaign"], self.config["plan"]
        try:
            with self.write_lock:
                live = live_conflict(self.store, [row.package], repo.target)
                if live is not None:
                    return live[0], f"campaign {live[0]} already rebuilds its dependents"
                campaign = start_campaign(
                    self.store, plan_repos(self.config, "koji"), [row.package], c["release"],
                    backend="koji", target=repo.target, mode="sidetag", depth=c["depth"],
                    cache_dir=Path(p["cache_dir"]), module_streams=p["module_streams"])
        except Exception as exc:          # planning's own errors: the release stands
            log.error("webhook build %d: no campaign for the dependents of %s: %s", row.id,
                      row.package, exc)
            return None, f"no campaign for its dependents: {exc}"
        self.wake(campaign)
        log.info("webhook build %d: campaign %d rebuilds the dependents of %s", row.id,
                 campaign, row.package)
        return campaign, f"campaign {campaign} rebuilds its dependents"

    # -- states and what they announce -------------------------------------------------------
    def _move(self, row, state: str, reason: str):
        old = row.state
        self.builds.update_build(row.id, state=state, reason=reason)
        row = self.builds.build(row.id)
        repo = self.repos.get((row.forge, row.repository.lower()))
        if repo is not None:
            self._announce(row, repo, old, reason)
        return row

    def _finish(self, row, state: str, reason: str, **fields) -> None:
        old = row.state
        self.builds.update_build(row.id, state=state, reason=reason, **fields)
        row = self.builds.build(row.id)
        log.info("webhook build %d (%s %s): %s: %s", row.id, row.repository, row.commit[:12],
                 state, reason)
        repo = self.repos.get((row.forge, row.repository.lower()))
        if repo is not None:
            self._announce(row, repo, old, reason)
        if self.notifier is not None and state in (SUCCESS, FAILURE):
            from discomy.orchestration.notify import Notification

            self.notifier.notify(Notification(
                kind=f"{row.mode} build {'succeeded' if state == SUCCESS else 'failed'}",
                campaign=f"webhook-{row.repository}", package=row.package or row.repository,
                nvr=row.nvr, reason=reason, url=self._url(row)))

    def _url(self, row) -> str:
        base = self.settings["public_url"].rstrip("/")
        if row.campaign_id:
            return f"{base}/campaigns/{row.campaign_id}"
        return f"{base}/pushes/{row.id}"

    def _announce(self, row, repo: d.RepoSettings, old: Optional[str], reason: str) -> None:
        self._report(repo, row, reason)
        if self.publisher is None:
            return
        body = {"id": row.id, "forge": row.forge, "repository": row.repository,
                "branch": row.branch, "commit": row.commit, "mode": row.mode,
                "backend": row.backend, "target": row.target, "state": row.state,
                "old_state": old if old != row.state else None, "reason": reason,
                "package": row.package, "nvr": row.nvr, "previous": row.previous,
                "task": row.task, "url": self._url(row), "campaign": row.campaign_id}
        try:
            self.publisher.publish(body)
        except Exception as exc:          # the bus being away costs a message, not a build
            log.warning("webhook build %d: %s not announced on the bus: %s", row.id,
                        row.state, exc)

    def _report(self, repo: d.RepoSettings, row, reason: str) -> None:
        if not self.settings["public_url"]:
            target_url = ""
        else:
            target_url = self._url(row)
        what = row.nvr or row.commit[:12]
        self.reporter.report(Status(repo, row.commit, FORGE_STATE[row.state], target_url,
                                    f"{row.mode} build {what}: {row.state}: {reason}",
                                    f"refs/heads/{row.branch}"))
