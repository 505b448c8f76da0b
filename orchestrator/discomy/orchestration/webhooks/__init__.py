"""Forge webhooks: a push to a configured repository builds its package, CI-style
(every commit, a snapshot release) or as a release, and the outcome goes back to
the forge, the message bus and chat.

- ``decide`` (pure): each forge's signature or token checked, its delivery id and
  push event read into a :class:`~discomy.orchestration.webhooks.decide.PushEvent`,
  the repository settings of ``[[webhooks.repos]]``, the snapshot release, whether
  an SRPM is built against the previous version (rpm's own EVR order), and each
  forge's commit status request;
- ``git`` and ``srpm`` (shells): the warm clones, a commit's tree in a per-build
  workdir, the SRPM made with rpmbuild and its EVR read back;
- ``previous``: the version the package database has (koji's latest build in
  the target, or the local repository through the repodata code);
- ``submit``: the build itself (koji scratch or real, or rpmbuild here);
- ``forge_status``: commit statuses sent from a thread of their own, retried;
- ``messages``: ``discomy.webhook.build.state.change`` on the bus;
- ``service``: the queue and worker that run each push off the request thread,
  every state written to the store before its side effects.

It may import :mod:`discomy.common`, :mod:`discomy.planning` and the rest of
:mod:`discomy.orchestration`; :mod:`discomy.web` receives the requests.
"""
