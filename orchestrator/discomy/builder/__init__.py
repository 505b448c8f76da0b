"""The builder's side: what a contributed koji builder is and how it builds.

- ``probe`` (shell): reads /proc, /sys and the cgroup tree into
  :class:`discomy.placement.hostdata.HostData`, with a speed benchmark;
- ``buildopts`` (pure): ``-jN`` from the task's weight, the load and the other tasks,
  and the cross-build package lists;
- ``config`` (pure): ``/etc/kojid/plugins/discomy.conf``, key by key;
- ``advisor`` (pure): kojid and mock settings for a machine;
- ``drain_cli`` and ``setup_cli`` (shells): the ``discomy-builder`` and
  ``discomy-builder-setup`` commands.

With :mod:`discomy.placement` and :mod:`discomy.common`, this is all the kojid
plugin imports: the standard library and koji only. It may import those two
packages and nothing else of Discomy.
"""
