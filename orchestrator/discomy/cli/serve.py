"""``discomy serve``: run the orchestrator daemon (:mod:`discomy.orchestration.daemon`),
and with ``[api] serve`` the REST API beside it, until SIGTERM or SIGINT, which finish
the step in hand; exit status 0 then, 1 when a listener could not go on (systemd
restarts it), 2 for a config, store or address that cannot work.
"""

from __future__ import annotations

import logging
import signal
import threading

from discomy.cli import CliError, add_config_options, positive_seconds, read_config

log = logging.getLogger("discomy.orchestration.daemon")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the orchestrator daemon",
        description="Run the orchestrator daemon: listen to koji's messages, start, resume "
                    "and advance campaigns (see docs/orchestrator.md).")
    add_config_options(parser, store=False)
    parser.add_argument("--tick", type=positive_seconds, default=2.0,
                        help="seconds between campaign steps")
    parser.set_defaults(func=run_serve)


def run_serve(args) -> int:
    from discomy.orchestration.daemon import open_service
    from discomy.orchestration.metrics import Metrics
    from discomy.orchestration.store import StoreError

    if not args.verbose:
        # a daemon's journal tells what it decided: campaigns started, resumed, paused;
        # not how Alembic found the schema at every start
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("alembic").setLevel(logging.WARNING)
    config = read_config(args)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: _stopping(stop, signum))
    metrics = Metrics.create()
    if config["metrics"]["port"]:
        try:
            metrics.serve(config["metrics"]["port"], config["metrics"]["address"])
        except OSError as exc:
            raise CliError(f"cannot serve metrics on {config['metrics']['address']}:"
                           f"{config['metrics']['port']}: {exc.strerror or exc}") from None
    try:
        service = open_service(config, metrics, stop)
    except StoreError as exc:
        raise CliError(f"the store: {exc}") from None
    if service is None:
        return 0
    log.info("discomy serve: store %s", service.store.url)
    api = _api(config, service) if config["api"]["serve"] else None
    try:
        status = service.serve(stop, args.tick)
    finally:
        if api is not None:
            api.stop()
    log.info("discomy serve: stopped")
    return status


def _api(config: dict, service):
    """The REST API on a thread, over the daemon's store; its writes take the daemon's
    lock and wake the campaign or module builds they touch."""
    from discomy.orchestration.config import parse_listen

    try:
        from discomy.web.app import create_app
        from discomy.web.server import ApiServer
    except ModuleNotFoundError as exc:
        raise CliError(f"[api] serve needs FastAPI and uvicorn (pip install 'discomy[api]'): "
                       f"{exc}") from None
    host, port = parse_listen(config["api"]["listen"])
    from discomy.web.session import SecretError

    try:
        app = create_app(service.store, config, session_factory=None, write_lock=service.lock,
                         wake=service.wake, wake_modules=service.modules.wake)
    except SecretError as exc:
        raise CliError(str(exc)) from None
    try:
        server = ApiServer(app, host, port).start()
    except OSError as exc:
        raise CliError(f"[api] listen: cannot listen on {host}:{port}: "
                       f"{exc.strerror or exc}") from None
    log.info("discomy serve: the API listens on %s:%s", host, server.address[1])
    return server


def _stopping(stop: threading.Event, signum: int) -> None:
    if not stop.is_set():
        log.info("%s: stopping after the step in hand", signal.Signals(signum).name)
    stop.set()

