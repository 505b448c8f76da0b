"""Discomy: capability-aware koji placement and dependency-ordered distribution rebuilds.

The package keeps a pure core (no I/O; decisions over typed data):

- ``units``, ``hostdata``: shared value formats (sizes, the scheduler host-data contract)
- ``graph``: the build-dependency graph, reverse closure, cycles, tiers, critical path
- ``planner``: a rebuild plan and its release rules
- ``durations``, ``fleet``, ``simulator``: campaign makespan on a fleet under a policy

and shells that talk to the world (``repodata`` over libsolv, ``cli``, ...).
"""

__version__ = "0.1.0"
