"""Orchestration: campaigns that rebuild what a change affects, run to the end.

- pure core: ``campaign`` (the state machine: release per tier or per edge,
  failure classes, quarantine, resume) and ``events`` (koji's messages as typed
  events);
- shells: ``engine`` (one non-blocking step, transitions written before their side
  effects), ``runner`` (plan → recorded campaign → backend and engine), ``daemon``
  (the service behind ``discomy serve``), ``config`` (orchestrator.toml),
  ``backends`` (koji, local rpmbuild), ``listeners`` (AMQP 0-9-1 and 1.0),
  ``store`` and ``migrations`` (SQLAlchemy, Alembic), ``notify``, ``gating``,
  ``metrics``, ``rpmtools``.

It may import :mod:`discomy.common`, :mod:`discomy.placement` and
:mod:`discomy.planning`; never :mod:`discomy.cli` or :mod:`discomy.web`.
"""
