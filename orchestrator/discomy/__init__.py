"""Discomy: capability-aware koji placement and dependency-ordered distribution rebuilds.

The packages, from the bottom up (each imports only those above it in this list):

- ``common``: sizes, counts, paths and settings every part shares;
- ``placement``: the pure placement core the koji hub plugin runs (host data,
  package constraints, fit, the scheduling pass, explanations);
- ``builder``: the builder's side (probe, -jN and cross lists, its config and
  commands), which with ``placement`` is all the kojid plugin needs;
- ``planning``: rpm-md repositories to a build graph, plans and estimates;
- ``orchestration``: campaigns, the engine, backends, listeners, store, daemon;
- ``web``: the REST API and dashboard;
- ``cli``: the ``discomy`` command.

``common``, ``placement`` and ``builder`` use the standard library and koji only,
and ship alone as python3-discomy-core.
"""

__version__ = "0.1.0"
