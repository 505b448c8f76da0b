"""The ``discomy`` command line: one module per group of subcommands.

``plan`` (plan, estimate), ``campaigns`` (rebuild, campaigns, status, resume,
cancel, rejected), ``serve`` (the daemon), ``api`` (the REST API, and its tokens),
``modules`` (module-build) and ``demo`` (``make demo``, with ``examples`` and
``local_campaign``: the example packages rebuilt here, and the example module); each
exposes ``register(subparsers)`` and sets ``func`` on its parser. Errors a user
can act on are raised as :class:`CliError` and printed as one line, with exit
status 2. The command line may import every package of Discomy; none imports it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import sys
from typing import Optional, Sequence

from discomy import __version__

# Modules that add subcommands, in help order. A module that is not installed
# (an optional part) is skipped.
SUBCOMMAND_MODULES = (
    "discomy.cli.plan",
    "discomy.cli.campaigns",
    "discomy.cli.serve",
    "discomy.cli.modules",
    "discomy.cli.api",
)


class CliError(Exception):
    """An error the user can act on: printed as one line, no traceback."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a usage mistake told in one line (and where the help is),
    like every other error of the command; exit status 2, as argparse's."""

    def error(self, message: str):
        # an argument may hold a line break or other control character: shown escaped
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds (0 would spin a loop)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number from 1 to 2**63 - 1 (what the store's ids hold)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value < 2 ** 63:
        raise argparse.ArgumentTypeError(f"{text} is not a number from 1 to {2 ** 63 - 1}")
    return value


def store_option(value: str) -> str:
    """argparse type of ``--store``: an SQLite file made absolute as it is parsed."""
    from discomy.orchestration.store import absolute_store_url

    return absolute_store_url(value)


def add_config_options(parser, store: bool = True) -> None:
    """``--config`` (and ``--store``), as every command that reads the state takes them."""
    from discomy.common.paths import path_option

    parser.add_argument("--config", type=path_option, default=None,
                        help="orchestrator config (default /etc/discomy/orchestrator.toml)")
    if store:
        parser.add_argument("--store", type=store_option, default=None,
                            help="SQLAlchemy URL of the state (default: [store] url of the config)")


def read_config(args) -> dict:
    """The orchestrator config named by ``--config`` (default: /etc/discomy/orchestrator.toml,
    which may be missing), checked whole; every problem is one :class:`CliError` line."""
    from discomy.orchestration.config import ConfigError, load_config

    try:
        return load_config(args.config, missing_ok=args.config is None)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="discomy",
        description="Plan, estimate and run dependency-ordered rebuilds of a distribution on koji.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(subparsers)
    return parser


def _one_line(text: str) -> str:
    """An error as one line whatever it quotes: a name with a newline or a carriage
    return in it is shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.error("name a command")
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"discomy {args.command}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"discomy {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`discomy plan ... | head`): not an error of ours
        sys.stderr.close()
        return 0

