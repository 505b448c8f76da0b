"""The koji backend (skeleton): scratch builds through ``koji.ClientSession``.

What it does today:

- ``build(name)`` submits a scratch build of the package's SCM URL to the
  target, with the node's koji priority, waits for the task and returns a
  :class:`BuildOutcome` carrying koji's error text (which the campaign core
  classifies as an infrastructure or a package failure);
- ``lookup(name)`` finds a build task already submitted for that source and
  target, so a restarted engine waits for it instead of submitting again;
- every hub call is retried with exponential backoff on network faults; a hub
  that stays down raises :class:`HubUnavailable`, which the engine turns into a
  paused campaign rather than a failed one.

Not yet: side-tag mode (real builds, ``createSideTag`` and a merge at the
end) and waiting for the buildroot repo (``requestRepo`` on 1.35+ hubs,
``newRepo`` + ``getRepo`` before). Scratch builds never reach a repo, so in
scratch mode dependents are built against the previous builds (Koschei's
trade-off: it verifies, it does not chain).
"""

from __future__ import annotations

import logging
import time
import xmlrpc.client
from typing import Callable, Mapping, Optional

import koji

from . import BuildOutcome, HubUnavailable

log = logging.getLogger(__name__)

# faults that say nothing about the request: the call is worth repeating
NETWORK_FAULTS = (OSError, ConnectionError, xmlrpc.client.ProtocolError, koji.ServerOffline,
                  koji.RetryError)
FINISHED = {koji.TASK_STATES["CLOSED"], koji.TASK_STATES["FAILED"],
            koji.TASK_STATES["CANCELED"]}


class KojiBackend:
    name = "koji"

    def __init__(self, server: str, target: str, scm_url: Callable[[str], str],
                 priorities: Optional[Mapping[str, int]] = None, retries: int = 5,
                 backoff_seconds: float = 2.0, poll_seconds: float = 30.0,
                 session: Optional[koji.ClientSession] = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.session = session or koji.ClientSession(server, {"max_retries": 0,
                                                              "anon_retry": False})
        self.target, self.scm_url = target, scm_url
        self.priorities = dict(priorities or {})
        self.retries, self.backoff, self.poll = retries, backoff_seconds, poll_seconds
        self.sleep = sleep

    def call(self, method: str, *args, **kwargs):
        """One hub call, retried with backoff on network faults."""
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return getattr(self.session, method)(*args, **kwargs)
            except NETWORK_FAULTS as exc:
                if attempt == self.retries:
                    raise HubUnavailable(f"koji hub unavailable: {method} failed "
                                         f"{attempt + 1} times, last: {exc}") from None
                log.warning("koji %s failed (%s); retrying in %.1f s", method, exc, delay)
                self.sleep(delay)
                delay = min(delay * 2, 300.0)

    def submit(self, name: str) -> int:
        opts = {"scratch": True}
        priority = self.priorities.get(name)
        return int(self.call("build", self.scm_url(name), self.target, opts, priority=priority))

    def lookup_task(self, name: str) -> Optional[int]:
        """A build task for this source and target that is running or succeeded, if any."""
        source = self.scm_url(name)
        states = [koji.TASK_STATES[s] for s in ("FREE", "OPEN", "ASSIGNED", "CLOSED")]
        tasks = self.call("listTasks", {"method": "build", "state": states, "decode": True})
        for task in sorted(tasks or [], key=lambda t: -int(t["id"])):
            request = task.get("request") or []
            if len(request) >= 2 and request[0] == source and request[1] == self.target:
                return int(task["id"])
        return None

    def wait(self, task_id: int) -> BuildOutcome:
        while True:
            info = self.call("getTaskInfo", task_id)
            if info and info["state"] in FINISHED:
                break
            self.sleep(self.poll)
        if info["state"] == koji.TASK_STATES["CLOSED"]:
            return BuildOutcome(True, nvr=None)
        if info["state"] == koji.TASK_STATES["CANCELED"]:
            return BuildOutcome(False, error=f"task {task_id} was canceled")
        try:
            self.call("getTaskResult", task_id)
        except koji.GenericError as exc:
            return BuildOutcome(False, error=str(exc))
        return BuildOutcome(False, error=f"task {task_id} failed")

    # -- the backend interface the engine uses ----------------------------------------------
    def build(self, name: str) -> BuildOutcome:
        task_id = self.lookup_task(name) or self.submit(name)
        log.info("koji: %s is task %s", name, task_id)
        return self.wait(task_id)

    def lookup(self, name: str) -> Optional[str]:
        """Only finished scratch builds count as built; a running task is waited for by
        ``build``, which finds it again instead of submitting."""
        task_id = self.lookup_task(name)
        if task_id is None:
            return None
        info = self.call("getTaskInfo", task_id)
        return f"task:{task_id}" if info["state"] == koji.TASK_STATES["CLOSED"] else None

    def publish(self) -> None:
        """Scratch builds reach no repo: nothing to wait for."""
