"""Module builds: a modulemd's components built in order into a module repo.

- pure core: ``core`` (the states ``init``, ``wait``, ``build``, ``done``,
  ``ready``, ``failed``, ``canceled``; koji tag and dist names; which components
  are reused; what the end of the components' campaign means);
- shells: ``scm`` (git: SCM URLs, refs to commits, files, exports), ``backends``
  (the koji and local campaign backends, with the buildroot and the module repo
  around them), ``driver`` (one step of a module build at a time: the same
  engine as campaigns builds the components), ``service`` (submit, list, get,
  cancel: what the REST API and the command line call), ``messages`` (the
  ``discomy.module.state.change`` message and its publisher).

The modulemd itself is read and written in :mod:`discomy.planning.modulemd` and
ordered in :mod:`discomy.planning.modules`. Like the rest of
:mod:`discomy.orchestration`, this may import :mod:`discomy.common`,
:mod:`discomy.placement` and :mod:`discomy.planning`.
"""
