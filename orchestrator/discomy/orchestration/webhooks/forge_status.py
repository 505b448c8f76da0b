"""Commit statuses back to the forge (shell), from a thread of their own.

:meth:`StatusReporter.report` only queues and returns, so a forge that is slow
or down never holds up a build or the engine. The thread sends each status with
the repository's token (:func:`~discomy.orchestration.webhooks.decide.status_request`
shapes the call for GitHub, GitLab or Forgejo); an answer of 5xx or 429, or no
answer, is tried again after a backoff that doubles (``[webhooks]
status_retries``, ``status_backoff_seconds``). A later state of the same commit
supersedes one still waiting for its retry, so a late ``pending`` never covers
``success``. Other 4xx answers (a wrong token, an unknown repository) are logged
and dropped: sending them again would change nothing.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from dataclasses import dataclass

from discomy.orchestration.webhooks.decide import RepoSettings, backoff, status_request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Status:
    repo: RepoSettings
    commit: str
    state: str               # pending | success | failure | error
    target_url: str
    description: str
    ref: str = ""


class StatusReporter:
    def __init__(self, retries: int = 6, backoff_seconds: float = 2.0,
                 timeout_seconds: float = 10.0, queue_size: int = 10000):
        self.retries, self.base = retries, backoff_seconds
        self.timeout, self.queue_size = timeout_seconds, queue_size
        self.sent, self.dropped, self.attempts = 0, 0, 0
        self._due: list = []          # (when, seq, attempt, Status)
        self._latest: dict = {}       # (forge, repository, commit, context) -> seq
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closing = False
        self._busy = 0
        self._thread = threading.Thread(target=self._work, name="discomy-forge-status",
                                        daemon=True)
        self._thread.start()

    def report(self, status: Status) -> bool:
        """Queue ``status``; never blocks. False when the repository has no token (nothing
        to send) or the queue is full."""
        if not status.repo.token or not status.repo.api_url:
            return False
        with self._cond:
            if len(self._due) >= self.queue_size:
                self.dropped += 1
                log.warning("forge status queue full; dropped %s of %s", status.state,
                            status.commit[:12])
                return False
            seq = next(self._seq)
            self._latest[_key(status)] = seq
            heapq.heappush(self._due, (time.monotonic(), seq, 1, status))
            self._cond.notify()
        return True

    def idle(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is queued or being sent (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._due or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)

    # -- the thread -----------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._closing and (not self._due
                                             or self._due[0][0] > time.monotonic()):
                    wait = self._due[0][0] - time.monotonic() if self._due else None
                    self._cond.wait(wait)
                if self._closing:
                    return
                when, seq, attempt, status = heapq.heappop(self._due)
                if self._latest.get(_key(status), seq) > seq:
                    continue          # a later state of this commit is on its way
                self._busy += 1
            try:
                again = self._send(status, attempt)
            finally:
                with self._cond:
                    self._busy -= 1
                    if again and attempt < self.retries \
                            and self._latest.get(_key(status), seq) == seq:
                        heapq.heappush(self._due, (time.monotonic() + backoff(
                            attempt, self.base), seq, attempt + 1, status))
                    elif again:
                        self.dropped += 1
                        log.warning("gave up setting %s of %s on %s after %d attempts",
                                    status.state, status.commit[:12], status.repo.repository,
                                    attempt)
                    self._cond.notify_all()

    def _send(self, status: Status, attempt: int) -> bool:
        """Send once; whether to try again."""
        import requests

        r = status_request(status.repo, status.commit, status.state, status.target_url,
                           status.description, status.ref)
        name, form = r.token_header
        headers = {**r.headers, name: form.format(token=status.repo.token)}
        self.attempts += 1
        try:
            answer = requests.post(r.url, data=json.dumps(r.body), headers=headers,
                                   timeout=self.timeout)
        except requests.RequestException as exc:
            log.warning("setting %s of %s on %s failed (attempt %d): %s", status.state,
                        status.commit[:12], status.repo.repository, attempt, exc)
            return True
        if answer.status_code < 300:
            self.sent += 1
            log.info("%s %s: status %s", status.repo.repository, status.commit[:12],
                     status.state)
            return False
        if answer.status_code >= 500 or answer.status_code == 429:
            log.warning("setting %s of %s on %s: the forge answered %d (attempt %d)",
                        status.state, status.commit[:12], status.repo.repository,
                        answer.status_code, attempt)
            return True
        self.dropped += 1
        log.error("setting %s of %s on %s: the forge refused it with %d: %s", status.state,
                  status.commit[:12], status.repo.repository, answer.status_code,
                  answer.text[:200])
        return False


def _key(status: Status) -> tuple:
    return (status.repo.forge, status.repo.repository, status.commit, status.repo.context)
