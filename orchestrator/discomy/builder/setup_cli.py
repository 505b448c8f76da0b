"""``discomy-builder-setup``: recommend kojid and mock settings for this builder.

Reads the machine with the probe, asks the advisor, and prints (or writes with
``--output``) the kojid.conf lines, the ``koji edit-host`` command for the hub
admin, the mock site-defaults and the number of kojid instances. Interactive by
default: each value can be accepted with Enter or changed.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from dataclasses import asdict, replace

from discomy.builder.advisor import Advice, recommend
from discomy.builder.probe import probe
from discomy.common.paths import path_option
from discomy.common.units import format_size_mb


def _ask(prompt: str, default, kind):
    while True:
        answer = input(f"{prompt} [{default}]: ").strip()
        if not answer:
            return default
        try:
            return kind(answer)
        except ValueError:
            print(f"  not a {kind.__name__}: {answer!r}")


def host_name() -> str:
    """The name koji knows this builder by: the FQDN, unless the resolver only knows it
    as localhost (a hosts file mapping the hostname to 127.0.0.1), then the hostname."""
    fqdn = socket.getfqdn()
    if fqdn.split(".", 1)[0] in ("localhost", "localhost6") or fqdn.startswith("localhost."):
        return socket.gethostname()
    return fqdn


def render(advice: Advice, hostname: str) -> str:
    parts = [
        f"# discomy-builder-setup for {hostname}",
        *[f"# {reason}" for reason in advice.reasons],
        "",
        f"# /etc/kojid/kojid.conf ({advice.instances} "
        f"instance{'s' if advice.instances != 1 else ''})",
        advice.kojid_conf(),
        "# for the hub admin",
        advice.edit_host(hostname),
        "",
        "# /etc/mock/site-defaults.cfg",
        advice.mock_site_defaults(),
    ]
    return "\n".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="discomy-builder-setup", description=__doc__.splitlines()[0])
    parser.add_argument("--non-interactive", action="store_true", help="accept every recommendation")
    parser.add_argument("--output", type=path_option, help="write the result here instead of stdout")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--hostname", default=None,
                        help="the builder's name in koji (default: this host's FQDN)")
    parser.add_argument("--root", default="/", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.hostname = args.hostname or host_name()

    host = probe(args.root, paths=("/var/lib/mock", "/var/lib/koji", "/"))
    advice = recommend(host)
    if not args.non_interactive:
        if not sys.stdin.isatty():
            print("discomy-builder-setup: not a terminal; use --non-interactive", file=sys.stderr)
            return 2
        print(f"{args.hostname}: {host.cpus} cpus, {format_size_mb(host.memory_mb)} memory, "
              f"{format_size_mb(host.buildroot_free_mb())} free for buildroots, speed {host.speed}")
        for reason in advice.reasons:
            print(f"  {reason}")
        advice = replace(advice,
                         instances=_ask("kojid instances", advice.instances, int),
                         maxjobs=_ask("maxjobs per instance", advice.maxjobs, int))
        advice = replace(advice, capacity=_ask("koji capacity", round(advice.maxjobs * 2.0, 1), float))
    text = json.dumps({"host": args.hostname, **asdict(advice)}, indent=2) + "\n" if args.json \
        else render(advice, args.hostname)
    if args.output:
        args.output.write_text(text)
        print(f"written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
