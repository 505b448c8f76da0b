"""``discomy-builder drain|undrain|status``: take a builder out of rotation gently.

Drain creates the flag file the kojid plugin honours: no new task is taken, the
running ones finish, and the hub sees ``draining`` in the host data. ``--wait``
blocks until kojid reports no running task.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .paths import path_option

DRAIN_FLAG = Path("/var/lib/discomy-builder/drain")
STATE_FILE = Path("/var/lib/discomy-builder/state.json")


def running_tasks(state_file: Path) -> list:
    try:
        return json.loads(state_file.read_text()).get("tasks", [])
    except (OSError, ValueError, AttributeError):
        return []


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="discomy-builder", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("drain", "undrain", "status"),
                        help="drain: take no new task; undrain: take tasks again; "
                             "status: drain state and running tasks")
    parser.add_argument("--wait", action="store_true", help="with drain: wait until no task runs")
    parser.add_argument("--timeout", type=float, default=0, metavar="S",
                        help="give up waiting after S seconds (default: wait for ever)")
    parser.add_argument("--flag", type=path_option, default=DRAIN_FLAG,
                        help=f"the drain flag file the kojid plugin reads (default {DRAIN_FLAG})")
    parser.add_argument("--state", type=path_option, default=STATE_FILE,
                        help=f"the state file the kojid plugin writes (default {STATE_FILE})")
    args = parser.parse_args(argv)

    if args.action == "drain":
        args.flag.parent.mkdir(parents=True, exist_ok=True)
        args.flag.touch()
        print("draining: no new tasks; running ones finish")
        started = time.monotonic()
        while args.wait and running_tasks(args.state):
            if args.timeout and time.monotonic() - started > args.timeout:
                print(f"still running: {len(running_tasks(args.state))} task(s)", file=sys.stderr)
                return 1
            time.sleep(2)
        return 0
    if args.action == "undrain":
        try:
            os.unlink(args.flag)
        except FileNotFoundError:
            pass
        print("taking tasks again")
        return 0
    tasks = running_tasks(args.state)
    print(f"{'draining' if args.flag.exists() else 'taking tasks'}; {len(tasks)} running"
          + "".join(f"\n  task {t.get('id')} {t.get('method')} weight {t.get('weight')}" for t in tasks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
