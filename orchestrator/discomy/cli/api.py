"""``discomy api`` (the REST API, :mod:`discomy.web`) and ``discomy token`` (who may
write through it).

``discomy api`` serves until SIGTERM or SIGINT (requests in hand finish), exit
status 0; 2 for a config, store or address that cannot work. ``discomy token
create NAME`` prints the new token once, on standard output alone, so it can be
piped to a file; the store keeps only its digest.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from discomy.cli import CliError, add_config_options, read_config

log = logging.getLogger("discomy.web")

STORE_RETRY_MAX_SECONDS = 60.0


def listen_option(text: str) -> tuple:
    """argparse type of ``--listen``: ``HOST:PORT`` or ``[IPV6]:PORT``."""
    from discomy.orchestration.config import parse_listen

    try:
        return parse_listen(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers) -> None:
    api = subparsers.add_parser(
        "api", help="serve the REST API",
        description="Serve the REST API (campaigns, koji's hosts, /openapi.json, /metrics) "
                    "until SIGTERM or SIGINT; see docs/api.md. Writes need a token from "
                    "discomy token create.")
    api.add_argument("--listen", type=listen_option, default=None, metavar="HOST:PORT",
                     help="address to listen on (default: [api] listen, 127.0.0.1:8080)")
    add_config_options(api)
    api.set_defaults(func=run_api)

    token = subparsers.add_parser(
        "token", help="API tokens: create, list, revoke",
        description="Tokens that may write through the REST API (Authorization: Bearer "
                    "TOKEN). The store keeps only a digest of each: a token is shown once, "
                    "when it is made.")
    actions = token.add_subparsers(dest="action", metavar="ACTION")
    create = actions.add_parser("create", help="make a token and print it once",
                                description="Make a token named NAME and print it, once, on "
                                            "standard output.")
    create.add_argument("name", metavar="NAME",
                        help="who or what holds it (letters, digits, . _ @ -; up to 64)")
    add_config_options(create)
    listing = actions.add_parser("list", help="the tokens, without their secrets")
    listing.add_argument("--all", action="store_true", help="revoked ones too")
    listing.add_argument("--json", action="store_true", help="JSON lines")
    add_config_options(listing)
    revoke = actions.add_parser("revoke", help="revoke the token named NAME",
                                description="Revoke the token named NAME: it is refused from "
                                            "now on.")
    revoke.add_argument("name", metavar="NAME", help="the token's name")
    add_config_options(revoke)
    for parser in (create, listing, revoke):
        parser.set_defaults(func=run_token)
    token.set_defaults(func=lambda args: token.error("name an action: create, list or revoke"))


def _store(args, config: dict, wait: bool = False):
    from discomy.orchestration.store import Store, StoreError, StoreUnavailable

    where = "--store" if args.store else "[store] url"
    delay = 1.0
    while True:
        try:
            return Store(args.store or config["store"]["url"])
        except StoreUnavailable as exc:
            if not wait:
                raise CliError(f"cannot open the store ({where}): {exc}") from None
            # a database that starts after the API (or restarts) is waited for
            log.warning("the store is unavailable (%s); trying again in %.0f s", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, STORE_RETRY_MAX_SECONDS)
        except StoreError as exc:
            raise CliError(f"cannot open the store ({where}): {exc}") from None


def run_api(args) -> int:
    from discomy.orchestration.config import parse_listen

    if not args.verbose:
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        from discomy.web.app import create_app
        from discomy.web.server import ApiServer
    except ModuleNotFoundError as exc:
        raise CliError(f"the API needs FastAPI and uvicorn (pip install 'discomy[api]'): "
                       f"{exc}") from None
    config = read_config(args)
    host, port = args.listen or parse_listen(config["api"]["listen"])
    store = _store(args, config, wait=True)
    from discomy.web.session import SecretError

    try:
        server = ApiServer(create_app(store, config), host, port)
    except SecretError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    shown = f"[{host}]" if ":" in host else host
    log.info("discomy api: listening on http://%s:%s (store %s)", shown, server.address[1],
             store.url)
    server.run()
    log.info("discomy api: stopped")
    return 0


def run_token(args) -> int:
    from discomy.web import tokens

    config = read_config(args)
    store = _store(args, config)
    if args.action == "create":
        problem = tokens.name_problem(args.name)
        if problem:
            raise CliError(problem)
        token, digest = tokens.new_token()
        try:
            store.add_token(args.name, digest)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        print(token)
        print(f"token {args.name}: made; it is shown this once (the store keeps a digest)",
              file=sys.stderr)
        return 0
    if args.action == "revoke":
        try:
            store.revoke_token(args.name)
        except KeyError as exc:
            raise CliError(str(exc).strip("'")) from None
        print(f"token {args.name}: revoked")
        return 0
    rows = store.tokens(revoked=args.all)
    if args.json:
        for row in rows:
            print(json.dumps({"name": row.name, "created_at": row.created_at,
                              "last_used_at": row.last_used_at, "revoked_at": row.revoked_at}))
        return 0
    print(f"{'NAME':<24}{'CREATED':<21}{'LAST USED':<21}REVOKED")
    for row in rows:
        print(f"{row.name:<24}{_when(row.created_at):<21}{_when(row.last_used_at):<21}"
              f"{_when(row.revoked_at) if row.revoked_at else ''}")
    return 0


def _when(stamp) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"

