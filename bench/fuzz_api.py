#!/usr/bin/env python3
"""Fuzz the REST API from its own OpenAPI document, many cases, over HTTP against a real
``discomy api`` (uvicorn) on 127.0.0.1; goal: no input gives a 5xx.

The same harness as the bounded test (``tests/web/schema_fuzz.py``): schemathesis's
positive and negative cases for every operation, with a valid token, none and a
wrong one, half of them aimed at campaigns and packages that exist. The world is
the tests' own: the example packages (rpmbuild, createrepo_c), a stand-in koji hub
for the fleet view and koji campaigns, a store on SQLite (or ``--store``, e.g. a
PostgreSQL database).

Usage: .venv/bin/python bench/fuzz_api.py [--examples 300] [--store URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "web"), str(ROOT / "tests" / "standins")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    import requests
    import schemathesis
    from kojihub_xmlrpc import StandinKojiHub
    from schema_fuzz import fuzz, seed

    from discomy.cli.examples import build_examples
    from discomy.orchestration.store import Store
    from discomy.web import tokens

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300,
                        help="cases per operation, mode and seeding")
    parser.add_argument("--store", default=None, help="an empty store (default: SQLite)")
    args = parser.parse_args()
    hub = StandinKojiHub()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        repos = build_examples(tmp / "examples")
        url = args.store or f"sqlite:///{tmp / 'state.sqlite'}"
        token, digest = tokens.new_token()
        Store(url).add_token("fuzz", digest)
        port = free_port()
        config = tmp / "orchestrator.toml"
        config.write_text(
            f'[store]\nurl = "{url}"\n'
            f'[plan]\nrepos = ["{repos.source_repo}", "{repos.binary_repo}"]\n'
            f'cache_dir = "{tmp / "cache"}"\n[campaign]\nworkdir = "{tmp / "work"}"\n'
            f'[local]\nsource_repos = ["{repos.source_repo}"]\n[koji]\nserver = "{hub.url}"\n'
            f'[api]\nlisten = "127.0.0.1:{port}"\nplanning_slots = 4\n')
        log = (tmp / "api.log").open("w")
        api = subprocess.Popen([sys.executable, "-m", "discomy", "api", "--config",
                                str(config)], stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{base}/api/v1/health", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline or api.poll() is not None:
                    raise SystemExit("discomy api did not start")
                time.sleep(0.2)
            http = requests.Session()
            auth = {"Authorization": f"Bearer {token}"}
            seeds = seed(lambda path, body: http.post(f"{base}{path}", json=body,
                                                      headers=auth, timeout=60).status_code)
            schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
            started = time.monotonic()
            outcome = fuzz(schema, args.examples, token, seeds,
                           call=lambda case, headers: case.call(base_url=base, headers=headers,
                                                                session=http, timeout=60))
            took = time.monotonic() - started
        finally:
            os.kill(api.pid, signal.SIGTERM)
            api.wait(30)
            hub.stop()
        errors = (tmp / "api.log").read_text().count("Traceback")
    statuses: dict = {}
    for (_, status), n in outcome.statuses.items():
        statuses[status] = statuses.get(status, 0) + n
    print(f"{outcome.cases} cases in {took:.0f} s, by status: "
          f"{', '.join(f'{s}: {n}' for s, n in sorted(statuses.items()))}")
    print(f"failed checks: {len(outcome.failures)}; tracebacks in the server's log: {errors}")
    for failure in outcome.failures[:10]:
        print("  " + failure.replace("\n", "\n  "))
    return 1 if outcome.failures or errors else 0


if __name__ == "__main__":
    sys.exit(main())
