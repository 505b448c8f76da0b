#!/usr/bin/env python3
"""The REST API's latency under concurrent readers, on a store holding a campaign over
the whole distribution (goal: p99 <= 50 ms with 50 readers).

The campaign is recorded from the shared dataset as bench/bench_orchestrator.py does
(every package that build-requires zlib: the whole dataset), a third of it done, some
failed with their dependents quarantined, beside 30 small campaigns. A real
``discomy api`` serves it on 127.0.0.1; while a writer changes 50 nodes a second (as
a running engine does, so the API's kept counts go stale all the time), READERS
clients on keep-alive connections ask what a dashboard asks: the campaign list, the
campaign, pages of its nodes anywhere in it (by offset and by next link), nodes by
state, single nodes, small campaigns; and, MODULES of the time (0.3 unless told),
what ``koji module-builds`` and ``koji module-build-info`` ask: the module builds'
list, filtered by state, and a module build with its components: the 200-component
module of bench/bench_modules.py (submitted from its git repositories, half built)
or one of 30 small ones. Each reader waits THINK seconds on average between
requests (0: back to back, the harshest case).

Usage: .venv/bin/python bench/bench_api.py [--readers 50] [--seconds 20] [--think 0]
           [--store URL] [--dataset DIR] [--no-writes] [--modules 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def record(url: str, dataset: Path, cache: Path) -> tuple:
    """The store at ``url`` with the big campaign (id 1) and 30 small ones; its node names."""
    from discomy.orchestration import campaign as cm
    from discomy.orchestration.runner import plan_nodes
    from discomy.orchestration.store import Store
    from discomy.planning.planner import make_plan
    from discomy.planning.repodata import load_graph

    graph = load_graph([dataset / "source", dataset / "binary"], cache_dir=cache)
    plan = make_plan(graph, ["zlib"])
    nodes = plan_nodes(plan)
    store = Store(url)
    t = time.perf_counter()
    cid = store.create_campaign(plan.changed, "per-edge", "local", nodes)
    recorded = time.perf_counter() - t
    ordered = sorted(nodes, key=lambda n: (n.tier, n.name))
    done = {n.name for n in ordered[:len(ordered) // 3]}
    failed = [n.name for n in ordered[len(ordered) // 3:][:40]]
    loaded = store.nodes(cid)
    changes = {name: replace(loaded[name], state=cm.DONE, nvr=f"{name}-1-1.el9",
                             attempts=1) for name in done}
    for name in failed:
        changes.update(cm.after_failure({**loaded, **changes}, name,
                                        f"rpmbuild failed for {name} in %build", 0, cm.PACKAGE))
    store.update_nodes(cid, changes)
    for i in range(30):
        store.create_campaign([f"small{i}"], "per-tier", "local", ordered[:5])
    return store, [n.name for n in nodes], recorded


def record_modules(store, base: Path, work: Path) -> tuple:
    """In ``store``: the 200-component module (its first tiers built, a few components
    building) and 30 small module builds of the example module, 10 of them canceled;
    the big one's id and its campaign's."""
    from discomy.cli.examples import EXAMPLE_MODULE, make_git_repos
    from discomy.orchestration import campaign as cm
    from discomy.orchestration.config import DEFAULTS
    from discomy.orchestration.modules.service import cancel_module_build, submit_module_build

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_modules import make_repos

    make_repos(base, 200)
    make_git_repos(base)            # the example module's components
    config = {**DEFAULTS, "modules": {**DEFAULTS["modules"], "workdir": str(work),
                                      "rpms_repository": f"file://{base}/{{name}}.git"}}
    (big,) = submit_module_build(store, config, scmurl=f"file://{base}/bigdag.git",
                                 branch="1", owner="bench")
    nodes = store.nodes(big["campaign"])
    ordered = sorted(nodes.values(), key=lambda n: (n.tier, n.name))
    store.update_nodes(big["campaign"], {
        n.name: replace(n, state=cm.DONE if i < 100 else cm.BUILDING if i < 110 else n.state,
                        nvr=f"{n.name}-1.0-1.module+el9+1+bench" if i < 100 else None,
                        attempts=1 if i < 110 else 0, task=str(1000 + i) if i < 110 else None)
        for i, n in enumerate(ordered) if i < 110})
    text = EXAMPLE_MODULE.read_text()
    for i in range(30):
        (small,) = submit_module_build(store, config, modulemd=text.replace(
            'stream: "1"', f'stream: "s{i}"'), owner=f"packager{i % 4}")
        if i % 3 == 0:
            cancel_module_build(store, small["id"], owner="bench")
    return big["id"], big["campaign"]


MODULE_KINDS = ("module list", "modules by state", "module 200", "small module")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_api(url: str, tmp: str):
    """A real ``discomy api`` over the store at ``url`` on 127.0.0.1, once it answers; its
    port. Stopped by pid on the way out."""
    port = free_port()
    config = Path(tmp) / "orchestrator.toml"
    config.write_text(f'[api]\nlisten = "127.0.0.1:{port}"\n')
    api = subprocess.Popen([sys.executable, "-m", "discomy", "api", "--store", url,
                            "--config", str(config)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or api.poll() is not None:
                    raise SystemExit("discomy api did not start")
                time.sleep(0.2)
        yield port
    finally:
        os.kill(api.pid, signal.SIGTERM)
        api.wait(30)


async def get(reader, writer, path: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    await reader.readexactly(length)
    return status


def choose(rng: random.Random, names: list, modules: float = 0.0,
           big_module: int = 1) -> tuple:
    """A dashboard's question: (its kind, the path)."""
    if rng.random() < modules:
        roll = rng.random()
        if roll < 0.3:
            return "module list", "/api/v1/module-builds?per_page=20"
        if roll < 0.45:
            return "modules by state", (f"/api/v1/module-builds?state="
                                        f"{rng.choice(['init', 'canceled', 'build'])}"
                                        f"&name=discomy-demo")
        if roll < 0.75:
            return "module 200", f"/api/v1/module-builds/{big_module}?modulemd=false"
        return "small module", f"/api/v1/module-builds/{rng.randint(big_module + 1, big_module + 30)}"
    roll = rng.random()
    if roll < 0.3:
        return "campaign", "/api/v1/campaigns/1"
    if roll < 0.5:
        return "list", "/api/v1/campaigns?limit=20"
    if roll < 0.6:       # a jump anywhere: the deepest offsets cost the most
        return "nodes page", f"/api/v1/campaigns/1/nodes?limit=100&offset={rng.randrange(0, 34000, 100)}"
    if roll < 0.7:       # a next link, anywhere
        return "next page", f"/api/v1/campaigns/1/nodes?limit=100&after={rng.choice(names)}"
    if roll < 0.8:
        return "nodes by state", (f"/api/v1/campaigns/1/nodes?state="
                                  f"{rng.choice(['planned', 'done', 'failed', 'quarantined'])}"
                                  f"&limit=100")
    if roll < 0.9:
        return "node", f"/api/v1/campaigns/1/nodes/{rng.choice(names)}"
    return "small campaign", f"/api/v1/campaigns/{rng.randint(2, 31)}"


async def reader_loop(port: int, names: list, until: float, think: float, seed: int,
                      results: list, errors: list, modules: float = 0.0) -> None:
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if think:       # people do not all click at the same instant
        await asyncio.sleep(rng.uniform(0, 2 * think))
    try:
        while time.perf_counter() < until:
            kind, path = choose(rng, names, modules)
            start = time.perf_counter()
            status = await get(reader, writer, path)
            results.append((kind, time.perf_counter() - start))
            if status != 200:
                errors.append((status, path))
            if think:
                await asyncio.sleep(rng.uniform(0, 2 * think))
    finally:
        writer.close()


async def load(port: int, names: list, readers: int, seconds: float, think: float,
               modules: float = 0.0) -> tuple:
    results: list = []
    errors: list = []
    until = time.perf_counter() + seconds
    await asyncio.gather(*(reader_loop(port, names, until, think, i, results, errors, modules)
                           for i in range(readers)))
    return results, errors


def writer(url: str, names: list, ready, stop, module_campaign=None) -> None:
    """An engine's writes, in a process of its own as the daemon's are: 50 nodes change
    a second, and 10 of the big module's components."""
    from discomy.orchestration import campaign as cm
    from discomy.orchestration.store import Store

    store = Store(url)
    rng = random.Random(1)
    nodes = store.nodes(1)
    components = store.nodes(module_campaign) if module_campaign else {}
    ready.set()
    while not stop.wait(1.0):
        picked = rng.sample(names, 50)
        store.update_nodes(1, {n: replace(nodes[n], state=rng.choice(
            [cm.BUILDING, cm.WAITING_REPO, cm.DONE])) for n in picked})
        if components:
            store.update_nodes(module_campaign, {n: replace(components[n], state=rng.choice(
                [cm.BUILDING, cm.WAITING_REPO, cm.DONE])) for n in rng.sample(
                sorted(components), 10)})


def server_buckets(port: int) -> dict:
    """The API's own latency histogram (every route): upper bound in s -> requests."""
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    buckets: dict = {}
    for line in text.splitlines():
        if line.startswith("discomy_api_request_seconds_bucket{") and 'route="/metrics"' \
                not in line:
            bound = line.split('le="')[1].split('"')[0]
            buckets[float(bound)] = buckets.get(float(bound), 0) + float(line.rsplit(" ", 1)[1])
    return buckets


def server_p99(before: dict, after: dict) -> tuple:
    """The upper bound of the histogram bucket holding the 99th percentile, and the share
    of requests answered within 50 ms, as the server timed them."""
    counts = {b: after[b] - before.get(b, 0) for b in sorted(after)}
    total = counts[float("inf")]
    p99 = next(b for b, n in counts.items() if n >= 0.99 * total)
    return p99, counts.get(0.05, 0) / total if total else 1.0


def percentile(values: list, p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def report(results: list, errors: list, seconds: float, readers: int, think: float) -> float:
    by_kind: dict = {}
    for kind, took in results:
        by_kind.setdefault(kind, []).append(took * 1000)
    every = [took * 1000 for _, took in results]
    print(f"{readers} readers, think {think:g} s, {seconds:g} s: {len(results)} requests, "
          f"{len(results) / seconds:.0f}/s, {len(errors)} not 200")
    print(f"  {'':<16}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for kind, values in sorted(by_kind.items()) + [("all", every)]:
        print(f"  {kind:<16}{len(values):>7}{statistics.median(values):>9.1f}"
              f"{percentile(values, 95):>9.1f}{percentile(values, 99):>9.1f}{max(values):>9.1f}")
    return percentile(every, 99)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path,
                        default=ROOT.parent / "shared" / "datasets" / "debian-bookworm-main")
    parser.add_argument("--store", default=None, help="an empty store (default: SQLite)")
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a reader waits between requests (0: none)")
    parser.add_argument("--no-writes", dest="writes", action="store_false",
                        help="no engine changing nodes meanwhile")
    parser.add_argument("--modules", type=float, default=0.3,
                        help="the share of requests that read module builds (0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.store or f"sqlite:///{tmp}/bench.sqlite"
        store, names, recorded = record(url, args.dataset, Path(tmp) / "cache")
        print(f"store {store.url}: a campaign of {len(names)} nodes recorded in "
              f"{recorded:.1f} s, and 30 small ones")
        module_campaign = None
        if args.modules:
            t = time.perf_counter()
            big_module, module_campaign = record_modules(store, Path(tmp) / "git",
                                                         Path(tmp) / "modules")
            assert big_module == 1, big_module
            print(f"module builds: one of 200 components (half built) and 30 small ones, "
                  f"recorded in {time.perf_counter() - t:.1f} s")
        stop = multiprocessing.Event()
        engine = None
        with running_api(url, tmp) as port:
            try:
                if args.writes:
                    ready = multiprocessing.Event()
                    engine = multiprocessing.Process(target=writer,
                                                     args=(url, names, ready, stop,
                                                           module_campaign))
                    engine.start()
                    ready.wait(120)
                asyncio.run(load(port, names, 5, 3.0, 0.0, args.modules))     # warm up
                before = server_buckets(port)
                results, errors = asyncio.run(load(port, names, args.readers, args.seconds,
                                                   args.think, args.modules))
                server = server_p99(before, server_buckets(port))
            finally:
                stop.set()
                if engine is not None:
                    engine.join(30)
    p99 = report(results, errors, args.seconds, args.readers, args.think)
    modular = [took * 1000 for kind, took in results if kind in MODULE_KINDS]
    if modular:
        print(f"module-build reads: p99 {percentile(modular, 99):.1f} ms of {len(modular)} "
              f"(goal <= 50 ms)")
    print(f"p99 {p99:.1f} ms as the readers saw it (goal <= 50 ms); as the server timed "
          f"them: p99 <= {server[0] * 1000:g} ms, {server[1]:.1%} within 50 ms; server, "
          f"readers and writer share {os.cpu_count()} CPUs (load average "
          f"{os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
