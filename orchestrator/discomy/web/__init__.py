"""The REST API and the web dashboard (``discomy api``, or ``[api] serve`` in
``discomy serve``).

- ``app``: the FastAPI application, its routers (``ROUTER_MODULES``), body limit,
  errors and the OpenAPI document;
- routers, one module per group of endpoints, each exposing ``router``:
  ``campaigns`` (``/api/v1/campaigns``), ``hosts`` (``/api/v1/hosts``),
  ``modules`` (``/api/v1/module-builds``) and
  ``webhooks`` (``/api/v1/webhooks``: forge pushes in, the builds they started);
- ``auth`` (tokens and a trusted front end's user header), ``tokens`` (made and
  hashed), ``context`` (what handlers work with), ``errors`` (every error one JSON
  object), ``schemas`` (request and response bodies), ``metrics`` (Prometheus) and
  ``server`` (uvicorn, in the foreground or on a thread);
- the dashboard at ``/``: ``dashboard`` (the pages and their actions), ``render``
  (a campaign as pages and live events show it), ``live`` (server-sent events),
  ``session`` (the login cookie and its CSRF token), and the pure ``views`` (what
  is shown, decided over plain data) and ``charts`` (SVG), with ``templates`` and
  ``static``.

It reads and drives campaigns through :mod:`discomy.orchestration` (the store, the
runner, the engine's resume and cancel, the preview) and module builds through
:mod:`discomy.orchestration.modules.service`. It may import every package but
:mod:`discomy.cli`; nothing imports it but the command line.
"""
