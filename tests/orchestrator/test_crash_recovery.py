"""``discomy serve`` killed with SIGKILL at random points of a koji campaign of 300 nodes.

The daemon runs as its own process (``python -m discomy serve``) against the
stand-in koji hub, which lives in this process and so outlives every kill. Each
life of the daemon ends with a SIGKILL: after a seeded number of hub calls
(the hub did the work and the daemon dies before reading the answer: a build
made, a repo requested, a build tagged, a side tag made or removed), at the
n-th call of a chosen method, or after a seeded delay (anywhere, a store write
included). The next life starts from the same SQLite file. When the campaign
is over, the last life is stopped with SIGTERM.

At the end: the campaign is done (and merged, for the side-tag run), every
node is done, none is lost, and koji holds exactly one build task per package
of the campaign (looked up by the campaign id every build carries in its
``custom_user_metadata``): no kill ever led to a second submission.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import koji
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standins"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "messaging"))

from kojihub_xmlrpc import StandinKojiHub  # noqa: E402
from samples import wait_until  # noqa: E402

from discomy.orchestration.campaign import Node  # noqa: E402
from discomy.orchestration.store import Store  # noqa: E402

TARGET = "el9-candidate"
PACKAGES = 300
TIER_SIZES = (70, 60, 55, 50, 40, 25)       # six tiers, 300 packages
SCHEDULED_KILLS = 10                        # at seeded numbers of hub calls
MIN_KILLS = 15                              # with those at chosen calls and after delays
BUDGET_SECONDS = 150.0                      # one run, against a hang; it takes 20-35 s


class KillingHub(StandinKojiHub):
    """The stand-in hub, which can SIGKILL the daemon after doing what a call asked
    and before the answer reaches it. Every kill point is used by exactly one kill
    (one that comes while no life is armed waits for the next call)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.victim = None              # pid of the daemon's current life
        self.calm = False               # this life dies at at_calls points only
        self.schedule: list = []        # kill at these numbers of calls, over every life
        self.at_calls: dict = {}        # method -> [n, ...]: kill at its n-th call (or the next)
        self.seen: Counter = Counter()  # calls by method, over every life
        self.kills: list = []           # what each kill the hub made came after
        # the answer to a killed daemon goes nowhere: not worth a traceback
        self.server.handle_error = lambda request, address: None

    def arm(self, pid, calm=False):
        with self.lock:
            self.victim, self.calm = pid, calm

    def disarm(self):
        with self.lock:
            self.victim = None

    def _dispatch(self, method, params):
        try:
            return super()._dispatch(method, params)
        finally:
            self._after(method)

    def _after(self, method):
        with self.lock:
            self.seen[method] += 1
            if self.victim is None:
                return
            why = None
            points = self.at_calls.get(method)
            if points and self.seen[method] >= points[0]:
                points.pop(0)
                if not points:
                    del self.at_calls[method]
                why = f"{method} #{self.seen[method]}"
            elif not self.calm and self.schedule and sum(self.seen.values()) >= self.schedule[0]:
                self.schedule.pop(0)
                why = f"{method} (call {sum(self.seen.values())})"
            if why:
                os.kill(self.victim, signal.SIGKILL)
                self.kills.append(why)
                self.victim = None


def package_of(source: str) -> str:
    return source.rsplit("/", 1)[-1].split(".git")[0]


def random_dag(rng: random.Random) -> list:
    """Six tiers; every node of tier t > 0 needs one of tier t - 1 and up to two earlier."""
    tiers, serial = [], 0
    for size in TIER_SIZES:
        tiers.append([f"pkg-{serial + i:03d}" for i in range(size)])
        serial += size
    deps, tier_of, own = {}, {}, {}
    for t, names in enumerate(tiers):
        earlier = [n for tier in tiers[:t] for n in tier]
        for name in names:
            chosen = set()
            if t:
                chosen.add(rng.choice(tiers[t - 1]))
                chosen.update(rng.sample(earlier, rng.randint(0, 2)))
            deps[name], tier_of[name] = tuple(sorted(chosen)), t
            own[name] = float(rng.randint(60, 3600))
    users: dict = {}
    for name, ds in deps.items():
        for d in ds:
            users.setdefault(d, []).append(name)
    remaining: dict = {}
    for name in sorted(deps, key=lambda n: -tier_of[n]):
        remaining[name] = own[name] + max((remaining[u] for u in users.get(name, ())), default=0.0)
    nodes = [Node(n, tier_of[n], deps[n], remaining[n]) for n in deps]
    assert len(nodes) == PACKAGES
    return nodes


def write_config(path: Path, store_url: str, hub_url: str, mode: str, release: str) -> Path:
    path.write_text(f"""
[store]
url = "{store_url}"

[campaign]
backend = "koji"
target = "{TARGET}"
mode = "{mode}"
release = "{release}"
max_in_flight = 60
max_in_flight_global = 100

[koji]
server = "{hub_url}"
retries = 8
retry_backoff_seconds = 0.02
poll_seconds = 0.2
""")
    return path


def drive(hub: KillingHub, store: Store, campaign_id: int, config: Path, log: Path,
          rng: random.Random) -> dict:
    """Lives of the daemon, each killed at a seeded point, until the campaign is over;
    then the last life is stopped cleanly. What happened, in figures."""
    started = time.monotonic()
    lives, kills, by_time = 0, 0, 0
    with open(log, "ab") as out:
        while True:
            if time.monotonic() - started > BUDGET_SECONDS:
                states = Counter(n.state for n in store.nodes(campaign_id).values())
                pytest.fail(f"the campaign is not over after {BUDGET_SECONDS:.0f} s and "
                            f"{kills} kills: {dict(states)}\n{tail(log)}")
            over = store.campaign(campaign_id).state != "running"
            out.flush()
            offset = log.stat().st_size
            proc = subprocess.Popen([sys.executable, "-m", "discomy", "-v", "serve",
                                     "--config", str(config), "--tick", "0.02"],
                                    stdout=out, stderr=out)
            lives += 1
            try:
                if over:
                    stop_cleanly(proc, log, offset)
                    break
                deadline, delay = None, None
                if hub.kills and hub.kills[-1].startswith("tagBuild #"):
                    # killed in the middle of the merge: this life merges again while the
                    # tagging tasks of the last one still run, and lives to see them end
                    hub.arm(proc.pid, calm=True)
                else:
                    hub.arm(proc.pid)
                    chance = rng.random()
                    if chance < 0.05:       # while it starts: imports, the store's migrations
                        deadline = time.monotonic() + rng.uniform(0.05, 0.5)
                    elif chance < 0.25:     # anywhere: between two calls, in a store write
                        delay = rng.uniform(0.05, 1.5)      # from when it serves
                while proc.poll() is None:
                    if delay is not None and serving(log, offset):
                        deadline, delay = time.monotonic() + delay, None
                    if store.campaign(campaign_id).state != "running":
                        hub.disarm()
                        if proc.poll() is None:
                            stop_cleanly(proc, log, offset)
                        break
                    if deadline is not None and time.monotonic() >= deadline:
                        hub.disarm()
                        proc.send_signal(signal.SIGKILL)
                        by_time += 1
                        break
                    time.sleep(0.05)
                rc = proc.wait(30)
                hub.disarm()
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if rc == 0:         # stopped cleanly: the campaign is over
                break
            if rc != -signal.SIGKILL:
                pytest.fail(f"the daemon exited by itself with status {rc}\n{tail(log)}")
            kills += 1
    return {"lives": lives, "kills": kills, "by_time": by_time,
            "seconds": time.monotonic() - started}


def serving(log: Path, offset: int) -> bool:
    """The life that started writing the log at ``offset`` serves: its signal handlers
    are in place and its first tick is next."""
    with open(log, "rb") as f:
        f.seek(offset)
        return b"discomy serve: store" in f.read()


def stop_cleanly(proc: subprocess.Popen, log: Path, offset: int) -> None:
    """SIGTERM once the life is serving: it must exit 0."""
    deadline = time.monotonic() + 30
    while not serving(log, offset):
        assert proc.poll() is None and time.monotonic() < deadline, tail(log)
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, tail(log)


def tag_tasks(hub: StandinKojiHub) -> str:
    states = Counter(t["state"] for t in hub.tasks.values() if t["method"] == "tagBuild")
    return (f"{sum(states.values())} tagBuild, "
            f"{states[koji.TASK_STATES['FAILED']]} failed as already tagged")


def tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace").splitlines()
    return "\n".join([line for line in text if " alembic." not in line][-lines:])


# least_calls: fewer hub calls than any run of the campaign makes (per node at least a
# source lookup of two calls, a look for an earlier task, the build, a poll; in side-tag
# mode also its NVR, a tagging and a poll of it): the scheduled kills all come.
@pytest.mark.parametrize("mode,release,seed,least_calls", [
    ("scratch", "per-tier", 20240611, 5 * PACKAGES),
    ("sidetag", "per-edge", 20240612, 8 * PACKAGES),
])
def test_a_campaign_survives_sigkill_at_random_points(tmp_path, mode, release, seed, least_calls):
    rng = random.Random(seed)
    hub = KillingHub(seed=seed)
    try:
        hub.task_seconds = 0.3
        hub.repo_checks = 2
        hub.fault_rate = 0.02               # and the odd dropped connection or lost answer
        # kills spread over the whole campaign, and at the moments that matter most
        hub.schedule = sorted(rng.sample(range(1, int(least_calls * 0.9)), SCHEDULED_KILLS))
        hub.at_calls = {"build": sorted(rng.sample(range(1, PACKAGES + 1), 5))}
        if mode == "sidetag":
            hub.tag_seconds = 2.0           # a restart finds tagging tasks still running
            hub.at_calls.update({"createSideTag": [1], "editSideTag": [1],
                                 "tagBuild": [rng.randint(10, 80)], "removeSideTag": [1]})

        url = f"sqlite:///{tmp_path / 'orchestrator.sqlite'}"
        store = Store(url)
        nodes = random_dag(rng)
        campaign_id = store.create_campaign([n.name for n in nodes if n.tier == 0][:3], release,
                                            "koji", nodes, target=TARGET, mode=mode)
        first_event = hub.event
        config = write_config(tmp_path / "orchestrator.toml", url, hub.url, mode, release)

        figures = drive(hub, store, campaign_id, config, tmp_path / "daemon.log", rng)
        print(f"\n{mode}/{release}: {figures['kills']} kills in {figures['lives']} lives "
              f"({figures['by_time']} after a delay; the hub's: {', '.join(hub.kills)}), "
              f"{len(hub.tasks)} koji tasks ({tag_tasks(hub)}), "
              f"{sum(hub.seen.values())} hub calls, {figures['seconds']:.1f} s")

        row = store.campaign(campaign_id)
        final = store.nodes(campaign_id)
        assert row.state == "done", (row.state, row.note)
        assert len(final) == PACKAGES
        assert {n: node.state for n, node in final.items()} == {n.name: "done" for n in nodes}
        # released once each: a restart went on with a node, it never started it again
        assert {node.attempts for node in final.values()} == {1}
        assert figures["kills"] >= MIN_KILLS
        assert not hub.at_calls and not hub.schedule, \
            f"kill points never reached: {hub.at_calls} {hub.schedule}"
        # the campaign started at its first life, not at its last
        assert row.start_event == first_event

        # exactly one build task per package, and each node's is the one it recorded
        builds = [t for t in hub.tasks.values() if t["method"] == "build"
                  and (t["request"][2].get("custom_user_metadata") or {})
                  .get("discomy_campaign") == campaign_id]
        per_package = Counter(package_of(t["request"][0]) for t in builds)
        twice = {p: c for p, c in per_package.items() if c > 1}
        assert not twice, f"built more than once: {twice}"
        assert set(per_package) == set(final)
        task_of = {package_of(t["request"][0]): str(t["id"]) for t in builds}
        assert {n: node.task for n, node in final.items()} == task_of
        assert all(t["state"] == koji.TASK_STATES["CLOSED"] for t in builds)

        if mode == "sidetag":
            assert row.merged and row.dest_tag == "el9"
            expected = {n: f"{n}-1.0-1.el9.discomy{campaign_id}" for n in final}
            assert {n: node.nvr for n, node in final.items()} == expected
            in_dest = Counter(nvr for nvr, _ in hub.tagged["el9"])
            assert all(in_dest[nvr] == 1 for nvr in expected.values())
            # the campaign's side tag is gone, and no side tag was left behind by a kill
            assert row.sidetag and row.sidetag not in hub.tags
            assert not [t for t in hub.tags.values() if t["extra"].get("sidetag")]
    finally:
        hub.stop()


def test_a_merge_cut_short_is_finished_by_the_next_life():
    """Killed after tagging some builds and again after removing the side tag: the
    next lives finish the merge, whatever the tagging tasks still running do."""
    from discomy.orchestration.backends.koji import KojiBackend, session_for

    hub = StandinKojiHub()
    try:
        hub.task_seconds, hub.tag_seconds = 0.0, 0.3

        def life():
            return KojiBackend(session_for(server=hub.url), 1, TARGET, "sidetag",
                               sidetag=sidetag, backoff_seconds=0.01)

        sidetag = None
        sidetag = life().prepare()["sidetag"]
        nvrs = [hub.add_build(n, "1.0", "1.el9.discomy1", sidetag)["nvr"]
                for n in ("alpha", "beta", "gamma")]
        # the first life made two tagging tasks and died
        session = session_for(server=hub.url)
        for nvr in nvrs[:2]:
            session.tagBuild("el9", nvr, fromtag=sidetag)
        merging = life()             # its own tasks for them fail: "already tagged"
        assert merging.merge(nvrs) is False      # never blocks: asked again until done
        assert wait_until(lambda: merging.merge(nvrs), 10)
        tagging = [t for t in hub.tasks.values() if t["method"] == "tagBuild"]
        assert sorted(t["state"] for t in tagging) == [koji.TASK_STATES["CLOSED"]] * 3 + \
            [koji.TASK_STATES["FAILED"]] * 2
        assert sorted(nvr for nvr, _ in hub.tagged["el9"] if "discomy" in nvr) == nvrs
        assert sidetag not in hub.tags
        # the side tag was removed, the merge not yet recorded: merging again is a no-op
        assert life().merge(nvrs) is True
        assert len([t for t in hub.tasks.values() if t["method"] == "tagBuild"]) == 5
    finally:
        hub.stop()
