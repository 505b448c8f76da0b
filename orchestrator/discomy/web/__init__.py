"""The REST API (``discomy api``, or ``[api] serve`` in ``discomy serve``); the web
dashboard will live here too.

- ``app``: the FastAPI application, its routers (``ROUTER_MODULES``), body limit,
  errors and the OpenAPI document;
- routers, one module per group of endpoints, each exposing ``router``:
  ``campaigns`` (``/api/v1/campaigns``) and ``hosts`` (``/api/v1/hosts``);
- ``auth`` (tokens and a trusted front end's user header), ``tokens`` (made and
  hashed), ``context`` (what handlers work with), ``errors`` (every error one JSON
  object), ``schemas`` (request and response bodies), ``metrics`` (Prometheus) and
  ``server`` (uvicorn, in the foreground or on a thread).

It reads and drives campaigns through :mod:`discomy.orchestration` (the store, the
runner, the engine's resume and cancel, the preview) and may import every package
but :mod:`discomy.cli`; nothing imports it but the command line.
"""
