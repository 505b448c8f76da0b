"""Planning: from rpm-md repositories to a rebuild plan and its estimate.

- shells: ``rpmmd`` (repomd.xml entries and checksums), ``repodata`` (libsolv:
  repositories to a build-dependency graph), ``remote_repos`` (HTTP mirrors),
  ``cache`` (the data-only graph cache);
- pure core: ``graph`` (reverse closure, cycles, tiers, critical path),
  ``planner`` (a campaign's plan), ``durations``, ``fleet``, ``simulator``
  (makespan under a policy, and the lower bound), ``timeline`` (an SVG).

It may import :mod:`discomy.common` and :mod:`discomy.placement`; the pure modules
import no I/O library (no libsolv, no network, no database).
"""
