"""``discomy-builder drain|undrain|status``: take a builder out of rotation gently.

Drain creates the flag file the kojid plugin honours: kojid reports itself not
ready, tasks still assigned to it go back to the hub at once, the running ones
finish, and the hub sees ``draining`` in the host data. ``--wait`` blocks until
kojid reports no running task. Status shows this flag and the hub's own drain
(``koji drain-host``), which the plugin reads back from the hub (see
``discomy.placement.drain``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from discomy.common.paths import path_option
from discomy.placement.drain import BUILDER, HUB, describe, drain_sources, still_held

DRAIN_FLAG = Path("/var/lib/discomy-builder/drain")
STATE_FILE = Path("/var/lib/discomy-builder/state.json")


def read_state(state_file: Path) -> dict:
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def running_tasks(state_file: Path) -> list:
    return read_state(state_file).get("tasks") or []


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
        print("draining: no new tasks, assigned ones go back to the hub, running ones finish")
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
        state = read_state(args.state)
        held = still_held(state.get("drain") or [], BUILDER, state.get("host") or "this builder")
        print(held or "taking tasks again")
        return 0
    state = read_state(args.state)
    tasks = state.get("tasks") or []
    sources = drain_sources(builder=args.flag.exists(), hub=HUB in (state.get("drain") or []))
    status = describe(sources) if sources else "taking tasks"
    if state.get("disabled"):
        status += "; host disabled (koji disable-host)"
    print(f"{status}; {len(tasks)} running"
          + "".join(f"\n  task {t.get('id')}{' ' + t['method'] if t.get('method') else ''} "
                    f"weight {t.get('weight')}{' (waiting)' if t.get('waiting') else ''}"
                    for t in tasks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
