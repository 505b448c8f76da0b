"""The REST API and the web dashboard (``discomy api``).

It reads and drives campaigns through :mod:`discomy.orchestration` (the store,
the runner) and may import every package but :mod:`discomy.cli`; nothing imports it
but the command line.
"""
