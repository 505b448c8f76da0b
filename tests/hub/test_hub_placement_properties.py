"""Property tests of one placement pass over random fleets and queues."""

from hypothesis import given, settings, strategies as st

from discomy.placement import (ActiveTask, FreeTask, HostCapabilities, NO_REQUIREMENTS,
                               PlacementConfig, TaskRequirements, fits, schedule)

from stock_schedule import stock_do_schedule

ARCHES = ["x86_64", "aarch64", "noarch", "x86_64 x86_64", "x86_64 i686", "ppc64le noarch"]
TASK_ARCHES = ["x86_64", "aarch64", "noarch", "i686", "ppc64le"]
weights = st.sampled_from([0.2, 0.5, 1.0, 1.5, 2.0, 3.0, 6.0, 7.5])


@st.composite
def koji_world(draw, with_data=False):
    n_hosts = draw(st.integers(1, 8))
    hosts = []
    for hid in range(1, n_hosts + 1):
        data = None
        if draw(st.booleans()):
            data = {"methods": ["buildArch"]}
            if draw(st.booleans()):
                data["maxjobs"] = draw(st.integers(0, 4))
        if with_data and draw(st.integers(0, 3)) > 0:
            data = dict(data or {})
            data["discomy"] = {
                "cpus": draw(st.integers(1, 64)),
                "memory_mb": draw(st.sampled_from([4096, 16384, 65536])),
                "disk_free_mb": {"/var/lib/mock": draw(st.sampled_from([10240, 102400]))},
                "speed": draw(st.sampled_from([0.5, 1.0, 2.0])),
                "virt": draw(st.sampled_from([["chroot"], ["kvm", "chroot"]])),
                "features": draw(st.sampled_from([[], ["ssd"]])),
            }
        hosts.append({
            "id": hid, "name": f"b{hid}", "update_ts": 0.0, "task_load": 0.0,
            "ready": draw(st.booleans()) or draw(st.booleans()),
            "arches": draw(st.sampled_from(ARCHES)),
            "capacity": float(draw(st.sampled_from([1, 2, 4, 8]))),
            "data": data,
            "channels": draw(st.lists(st.integers(1, 2), min_size=0, max_size=2)),
        })
    active = [{"task_id": 1000 + n, "host_id": draw(st.integers(1, n_hosts + 1)),
               "weight": draw(weights), "waiting": draw(st.booleans())}
              for n in range(draw(st.integers(0, 8)))]
    free = [{"task_id": n, "channel_id": draw(st.integers(1, 2)),
             "arch": draw(st.sampled_from(TASK_ARCHES)), "weight": draw(weights),
             "priority": 20, "create_ts": float(n)}
            for n in range(draw(st.integers(0, 20)))]
    refusals = {}
    for task in free:
        if draw(st.integers(0, 4)) == 0:
            refusals[task["task_id"]] = {draw(st.integers(1, n_hosts)): {}}
    return hosts, active, free, refusals


def to_core(hosts, active, free, reqs=None, drained=frozenset()):
    core_hosts = [HostCapabilities.from_koji(h, drained=h["id"] in drained)[0] for h in hosts]
    core_active = [ActiveTask(a["task_id"], a["host_id"], a["weight"], a["waiting"]) for a in active]
    core_free = [FreeTask(t["task_id"], t["channel_id"], t["arch"], t["weight"], t["priority"],
                          t["create_ts"], "buildArch",
                          (reqs or {}).get(t["task_id"], NO_REQUIREMENTS)) for t in free]
    return core_hosts, core_active, core_free


CFG = PlacementConfig(maxjobs=3, capacity_overcommit=1)


def pairs(result):
    return [(a.task_id, a.host_id) for a in result.assignments]


@settings(max_examples=300, deadline=None)
@given(koji_world())
def test_without_discomy_data_the_decision_is_stock_kojis(world):
    hosts, active, free, refusals = world
    expected = stock_do_schedule(free, active, hosts, refusals, CFG.maxjobs, CFG.capacity_overcommit)
    core = to_core(hosts, active, free)
    assert pairs(schedule(core[2], core[1], core[0], refusals, CFG, now=0)) == expected


@settings(max_examples=200, deadline=None)
@given(koji_world(with_data=True))
def test_host_data_without_speeds_or_requirements_changes_nothing(world):
    # speed ranks hosts (fastest first for work); every other value only constrains
    hosts, active, free, refusals = world
    for host in hosts:
        if host["data"] and "discomy" in host["data"]:
            host["data"]["discomy"].pop("speed", None)
    expected = stock_do_schedule(free, active, hosts, refusals, CFG.maxjobs, CFG.capacity_overcommit)
    core = to_core(hosts, active, free)
    assert pairs(schedule(core[2], core[1], core[0], refusals, CFG, now=0)) == expected


requirements = st.builds(
    TaskRequirements,
    memory_mb=st.sampled_from([None, 8192, 32768]),
    disk_mb=st.sampled_from([None, 20480]),
    cpus=st.sampled_from([None, 8, 32]),
    virt=st.sampled_from([(), ("kvm",)]),
    features=st.sampled_from([(), ("ssd",)]),
    power=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(koji_world(with_data=True), st.lists(requirements, min_size=20, max_size=20),
       st.frozensets(st.integers(1, 8)), st.integers(0, 3), st.floats(0, 100), st.booleans())
def test_constrained_pass_keeps_every_hard_rule(world, req_list, drained, max_res, now,
                                                unknown_fits):
    hosts, active, free, refusals = world
    reqs = {t["task_id"]: req_list[n] for n, t in enumerate(free)}
    core_hosts, core_active, core_free = to_core(hosts, active, free, reqs, drained)
    cfg = PlacementConfig(maxjobs=3, capacity_overcommit=1, reserve_after_s=10,
                          reserve_max_s=50, reserve_max_hosts=max_res,
                          unknown_fits=unknown_fits)
    result = schedule(core_free, core_active, core_hosts, refusals, cfg, now=now)

    by_id = {h.host_id: h for h in core_hosts}
    tasks = {t.task_id: t for t in core_free}
    load = {h.host_id: 0.0 for h in core_hosts}
    ntasks = {h.host_id: 0 for h in core_hosts}
    for a in core_active:
        if a.host_id in by_id:
            load[a.host_id] += 0.0 if a.waiting else a.weight
            ntasks[a.host_id] += 1
    assert len(result.reserved) <= max_res
    for host_id, task_id in result.reserved.items():
        assert tasks[task_id].req.power
        assert 10 <= now - tasks[task_id].create_ts < 60
    seen = set()
    for a in result.assignments:
        h, t = by_id[a.host_id], tasks[a.task_id]
        assert a.task_id not in seen
        seen.add(a.task_id)
        assert fits(h, t.req).ok, a.reason
        assert unknown_fits or fits(h, t.req).unknown == 0
        assert h.ready and not h.draining
        assert a.host_id not in refusals.get(a.task_id, {})
        assert (t.channel_id in h.channels) and (t.arch in h.arches or t.arch == "noarch")
        assert h.capacity - load[a.host_id] > max(0, t.weight - cfg.capacity_overcommit)
        assert ntasks[a.host_id] < (h.maxjobs or cfg.maxjobs)
        if a.host_id in result.reserved:
            assert t.req.power
        load[a.host_id] += t.weight
        ntasks[a.host_id] += 1
    for t in core_free:
        assert t.task_id in result.reasons


def shipped_config():
    """koji-plugins/hub/discomy.conf as the hub plugin reads it."""
    import configparser
    from pathlib import Path

    from discomy.placement import parse_config

    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(Path(__file__).resolve().parents[2] / "koji-plugins" / "hub" / "discomy.conf")
    return parse_config({name: dict(parser.items(name)) for name in parser.sections()})


@settings(max_examples=300, deadline=None)
@given(koji_world(), st.lists(st.booleans(), min_size=20, max_size=20),
       st.floats(0, 3 * 3600))
def test_with_the_shipped_config_hosts_without_discomy_data_decide_as_stock_koji(
        world, slow, now):
    # power jobs by history (power_after 2h) waiting past reserve_after (30m) must not
    # reserve a host that publishes nothing: such a fleet is scheduled as stock koji
    hosts, active, free, refusals = world
    for host in hosts:
        host["data"] = {k: v for k, v in (host["data"] or {}).items() if k != "discomy"} or None
    # and every other task's history weighed against speeds (wait_for_faster 5m)
    history = TaskRequirements(power=True, why="last buildArch took 3h00m", seconds=10800.0)
    reqs = {t["task_id"]: history if slow[n] else TaskRequirements(seconds=1800.0)
            for n, t in enumerate(free)}
    config = shipped_config()
    cfg = PlacementConfig(**{**config.__dict__, "maxjobs": 3, "capacity_overcommit": 1})
    expected = stock_do_schedule(free, active, hosts, refusals, cfg.maxjobs,
                                 cfg.capacity_overcommit)
    core_hosts, core_active, core_free = to_core(hosts, active, free, reqs)
    result = schedule(core_free, core_active, core_hosts, refusals, cfg, now=now)
    assert result.reserved == {}
    assert pairs(result) == expected
