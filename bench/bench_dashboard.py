#!/usr/bin/env python3
"""The dashboard's time to render a campaign of the whole distribution (goal: <= 1 s of
server time for the campaign page, never one DOM row per node).

The store is the one bench/bench_api.py records (every package that build-requires
zlib: 34k nodes, 248k edges; a third done, 40 failed with their dependents
quarantined; 30 small campaigns). A real ``discomy api`` serves it on 127.0.0.1; each
page is asked for once cold (the first look after the server started: counts, the
critical path and the tiers' times are read then) and then REPEAT times warm, while
(with ``--writes``) a separate process changes 50 nodes a second as an engine does, so
the kept counts go stale as they do in production. The time is from the request sent
to the last byte of the page received, on a kept-alive loopback connection: the
server's time, with the network out of it.

Usage: .venv/bin/python bench/bench_dashboard.py [--repeat 20] [--writes] [--store URL]
           [--dataset DIR]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_api import record, running_api, writer  # noqa: E402


def fetch(conn: http.client.HTTPConnection, path: str) -> tuple:
    t = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    return time.perf_counter() - t, response.status, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path,
                        default=ROOT.parent / "shared" / "datasets" / "debian-bookworm-main")
    parser.add_argument("--store", default=None, help="an empty store (default: SQLite)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--writes", action="store_true",
                        help="an engine changes 50 nodes a second meanwhile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.store or f"sqlite:///{tmp}/bench.sqlite"
        store, names, recorded = record(url, args.dataset, Path(tmp) / "cache")
        print(f"store {store.url}: a campaign of {len(names)} nodes recorded in "
              f"{recorded:.1f} s, and 30 small ones")
        deep = sorted(names)[len(names) // 2]
        pages = [("campaign page", "/campaigns/1"),
                 ("campaign, failed nodes", "/campaigns/1?state=failed"),
                 ("campaign, planned nodes past the middle",
                  f"/campaigns/1?state=planned&after={deep}"),
                 ("campaign, tier 5", "/campaigns/1?tier=5"),
                 ("campaigns list", "/"),
                 ("failures", "/failures"),
                 ("statistics", "/stats")]
        stop = multiprocessing.Event()
        engine = None
        results = []
        with running_api(url, tmp) as port:
            try:
                if args.writes:
                    ready = multiprocessing.Event()
                    engine = multiprocessing.Process(target=writer, args=(url, names, ready, stop))
                    engine.start()
                    ready.wait(120)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                for label, path in pages:
                    cold, status, body = fetch(conn, path)
                    if status != 200:
                        raise SystemExit(f"{path}: HTTP {status}: {body[:300]!r}")
                    warm = [fetch(conn, path)[0] for _ in range(args.repeat)]
                    results.append((label, cold, warm, len(body), body.count(b"<tr data-node=")))
            finally:
                stop.set()
                if engine is not None:
                    engine.join(30)
    print(f"{'page':46} {'cold':>8} {'warm p50':>9} {'warm max':>9} {'bytes':>8} {'node rows':>9}")
    for label, cold, warm, size, rows in results:
        print(f"{label:46} {cold * 1000:7.0f}ms {statistics.median(warm) * 1000:8.0f}ms "
              f"{max(warm) * 1000:8.0f}ms {size:8d} {rows:9d}")
    first = results[0]
    print(f"campaign page of {len(names)} nodes: first render {first[1] * 1000:.0f} ms, then "
          f"{statistics.median(first[2]) * 1000:.0f} ms (goal <= 1000 ms), {first[4]} node rows; "
          f"{'with' if args.writes else 'without'} an engine writing; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
