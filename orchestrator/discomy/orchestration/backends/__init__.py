"""Build backends: where a campaign's builds run (shells).

A backend is made for one campaign and offers, every call non-blocking:

- ``prepare() -> dict``: set up once (a koji side tag); returns campaign
  fields to record. Must be safe to call again after a restart;
- ``find_all(names) -> {name: task}``: the submissions of these nodes in this
  campaign that are running or succeeded. Asked for every node whose intent is
  recorded but whose submission is not (a restart, a lost answer), so nothing is
  built twice;
- ``submit(name, priority) -> task``: start a build, return its reference;
- ``poll_all(tasks) -> {task: BuildOutcome | None}``: None while it runs. An
  outcome says where the build ran and how long, as the build system tells. A
  failed outcome says who is at fault, decided from what the build system
  reports (koji's task state and fault class, rpmbuild's exit status) through
  the core's ``*_failure_class`` functions, and where the attempt's whole log is;
- ``request_repo(nvrs) -> ref | None``: make finished builds visible to the
  next ones; None when they already are;
- ``repo_state(ref) -> "ready" | "waiting" | "lost"``: "lost" asks again;
- ``hold_back() -> reason | None``: the build system is too busy for more;
- ``merge(nvrs) -> bool``: a passed campaign's builds go to their destination;
  False while that is under way (asked again at the next step);
- ``cancel(task)``: stop a running build (``discomy cancel --kill``);
- ``owner(name) -> str | None`` and ``task_url(task) -> str``: who is told of a
  package's failure, and where to read about it;
- ``sees_outside_builds``: whether a build made outside the campaign (a
  packager's fix) reaches the campaign's next builds. When it does not (local),
  a fix is built again by the campaign, and ``fix_refusal(node) -> str | None``
  says why it cannot be now.

Every failure to reach the build system after the backend's own retries is
:class:`HubUnavailable`, which pauses the campaign instead of failing it.
"""

from dataclasses import dataclass
from typing import Optional

from discomy.orchestration.campaign import PACKAGE

READY, WAITING, LOST = "ready", "waiting", "lost"


@dataclass(frozen=True)
class BuildOutcome:
    ok: bool
    nvr: Optional[str] = None
    error: str = ""
    failure: str = PACKAGE      # when not ok: "package" or "infrastructure" (retried)
    log: str = ""               # the attempt's whole log: a file or a URL
    host: str = ""              # where it ran: koji's "arch:host, ..." or this machine's name
    seconds: Optional[float] = None     # how long it ran, as the build system measured


class HubUnavailable(RuntimeError):
    """The build system did not answer after every retry: the campaign pauses, it does not fail."""


class BackendError(RuntimeError):
    """A campaign that cannot run on this build system (a missing target, a refused
    side tag): the campaign fails with this message as its note."""
