"""Trust: what the hub believes of a builder's claims (core), and the hub plugin's use of it."""

import math
import random

import koji
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kojihub_world
from kojihub import scheduler

import discomy_hub
from discomy.placement import trust
from discomy.placement.config import ConfigError, TrustConfig, parse_config
from discomy.placement.hostdata import HostData
from discomy.placement.hosts import HostCapabilities

TRUST = TrustConfig(learn_min_build_s=600, learn_min_packages=3)
HOUR = 3600.0


def host(name="b1", hid=1, **data):
    return HostCapabilities(host_id=hid, name=name, data=HostData(**data))


def samples(speeds, packages=("gcc", "llvm", "qt5", "firefox"), arch="x86_64", work=4 * HOUR):
    """Builds of every package on every host, each taking work / true speed."""
    out = []
    for n, package in enumerate(packages):
        for hid, speed in speeds.items():
            out.append(trust.BuildSample(hid, package, arch, work * (1 + n) / speed))
    return out


# -- bounds, policy, learned: the host in force ----------------------------------------

def test_a_claim_beyond_the_bounds_is_ignored_not_believed():
    t = trust.in_force(host(speed=40.0, memory_mb=64 * 1024 ** 3, cpus=16), config=TRUST)
    assert t.host.data.speed is None and t.host.data.memory_mb is None
    assert t.host.data.cpus == 16 and t.speed_source is None
    assert any("claims speed 40, outside the bounds 0.1..4; ignored" in n for n in t.notes)


def test_a_pinned_speed_wins_over_claim_and_learned():
    t = trust.in_force(host(speed=3.5), trust.HostPolicy(speed=1.0),
                       trust.LearnedSpeed(0.8, 5, 9), TRUST)
    assert t.host.data.speed == 1.0 and t.speed_source == trust.PINNED


def test_caps_bound_memory_cpus_disk_and_speed():
    t = trust.in_force(host(speed=3.0, memory_mb=262144, memory_available_mb=200000, cpus=64,
                            disk_free_mb={"/var/lib/mock": 2_000_000}),
                       trust.parse_policy({"max_memory": "64G", "max_cpus": 16,
                                           "max_disk": "500G", "max_speed": 1.5}),
                       config=TRUST)
    d = t.host.data
    assert (d.memory_mb, d.memory_available_mb, d.cpus, d.disk_free_mb["/var/lib/mock"],
            d.speed) == (65536, 65536, 16, 512000, 1.5)
    assert t.speed_source == trust.CAPPED and t.claimed.memory_mb == 262144


def test_learned_speed_replaces_a_claim_only_beyond_the_tolerance():
    close = trust.in_force(host(speed=1.1), learned=trust.LearnedSpeed(1.0, 4, 4), config=TRUST)
    assert close.host.data.speed == 1.1 and close.speed_source == trust.CLAIMED
    far = trust.in_force(host(speed=3.5), learned=trust.LearnedSpeed(0.8, 4, 4), config=TRUST)
    assert far.host.data.speed == 0.8 and far.speed_source == trust.LEARNED
    assert "speed learned 0.8 from 4 packages" in far.notes[0]


def test_a_host_that_publishes_no_speed_gets_its_learned_one_but_a_stock_host_stays_stock():
    t = trust.in_force(host(cpus=8), learned=trust.LearnedSpeed(1.7, 4, 4), config=TRUST)
    assert t.host.data.speed == 1.7 and t.speed_source == trust.LEARNED
    stock = trust.in_force(host(), learned=trust.LearnedSpeed(1.7, 4, 4), config=TRUST)
    assert stock.host == host() and stock.learned.speed == 1.7 and stock.notes == ()


def test_no_policy_and_no_learning_change_nothing():
    h = host(speed=1.2, memory_mb=32768, cpus=8, features=("ssd",))
    t = trust.in_force(h, config=TRUST)
    assert t.host == h and t.notes == ()


def test_policies_are_validated_with_one_sentence():
    with pytest.raises(trust.PolicyError, match="ram: unknown policy key"):
        trust.parse_policy({"ram": "4G"})
    with pytest.raises(trust.PolicyError, match="speed: -1 is not a speed above 0"):
        trust.parse_policy({"speed": -1})
    with pytest.raises(trust.PolicyError, match="speed: the pinned value is above max_speed"):
        trust.parse_policy({"speed": 3, "max_speed": 2})
    assert trust.policy_to_json(trust.parse_policy({"max_memory": "64G", "speed": "1"})) == {
        "speed": 1.0, "max_memory": "65536M"}


def test_trust_section_of_discomy_conf():
    cfg = parse_config({"trust": {"max_speed": "3", "learn_min_build": "20m",
                                  "max_memory": "4T", "learn_tolerance": "0.5"}})
    assert (cfg.trust.max_speed, cfg.trust.learn_min_build_s, cfg.trust.max_memory_mb,
            cfg.trust.learn_tolerance) == (3.0, 1200.0, 4 * 1024 ** 2, 0.5)
    with pytest.raises(ConfigError, match=r"\[trust\] learn_tolerance"):
        parse_config({"trust": {"learn_tolerance": "lots"}})
    with pytest.raises(ConfigError, match=r"\[trust\] min_speed: 5 is above max_speed 4"):
        parse_config({"trust": {"min_speed": "5"}})


# -- learning --------------------------------------------------------------------------

def test_a_host_that_overclaims_is_found_out_by_its_build_times():
    true = {1: 0.8, 2: 1.2, 3: 2.5, 4: 0.8}
    claimed = {1: 0.8, 2: 1.2, 3: 2.5, 4: 3.5}        # host 4 lies
    learned = trust.learn_speeds(samples(true), claimed, {}, TRUST)
    assert {h: s.speed for h, s in learned.items()} == true
    assert learned[4].packages == 4 and learned[4].builds == 4


def test_the_scale_comes_from_the_claims_of_hosts_whose_speed_is_not_pinned():
    true = {1: 1.0, 2: 2.0, 3: 1.0}
    claimed = {1: 1.0, 2: 2.0, 3: 4.0}
    # host 3's admin pinned it: its claim is out of the scale, which stays honest
    learned = trust.learn_speeds(samples(true), claimed, {3: 0.5}, TRUST)
    assert {h: s.speed for h, s in learned.items()} == true
    # no claims at all: the median host is 1.0
    learned = trust.learn_speeds(samples({1: 1.0, 2: 2.0, 3: 4.0}), {}, {}, TRUST)
    assert {h: s.speed for h, s in learned.items()} == {1: 0.5, 2: 1.0, 3: 2.0}


def test_hosts_compare_only_through_packages_they_both_built_for_the_same_arch():
    x86 = samples({1: 1.0, 2: 2.0})
    arm = samples({3: 1.0, 4: 0.5}, arch="aarch64", work=9 * HOUR)
    learned = trust.learn_speeds(x86 + arm, {1: 1.0, 2: 2.0, 3: 1.0, 4: 0.5}, {}, TRUST)
    assert {h: s.speed for h, s in learned.items()} == {1: 1.0, 2: 2.0, 3: 1.0, 4: 0.5}


def test_short_builds_and_few_shared_packages_teach_nothing():
    short = samples({1: 1.0, 2: 2.0}, work=60.0)        # buildroot setup, not compiling
    assert trust.learn_speeds(short, {1: 1.0, 2: 1.0}, {}, TRUST) == {}
    few = samples({1: 1.0, 2: 2.0}, packages=("gcc", "llvm"))
    assert trust.learn_speeds(few, {1: 1.0, 2: 1.0}, {}, TRUST) == {}


def test_packages_built_on_different_hosts_are_weighed_by_the_package():
    # power jobs land on fast hosts: the fast host builds heavier packages, and is still fast
    rng = random.Random(3)
    true = {1: 1.0, 2: 1.0, 3: 3.0}
    out = []
    for n in range(30):
        work = rng.uniform(1, 20) * HOUR
        hosts = (3, rng.choice((1, 2))) if work > 10 * HOUR else (1, 2)
        out += [trust.BuildSample(h, f"p{n}", "x86_64", work / true[h]) for h in hosts]
    learned = trust.learn_speeds(out, {1: 1.0, 2: 1.0, 3: 3.0}, {}, TRUST)
    assert {h: s.speed for h, s in learned.items()} == true


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.integers(1, 8), st.floats(0.2, 4.0), min_size=2, max_size=6),
       st.floats(0.5, 8.0))
def test_learned_speeds_are_true_speeds_when_claims_are_honest_whatever_the_time_scale(
        true, scale):
    true = {h: round(s, 2) for h, s in true.items()}
    learned = trust.learn_speeds(samples(true, work=scale * HOUR), true, {}, TRUST)
    for h, s in true.items():
        assert math.isclose(learned[h].speed, s, abs_tol=0.011)


# -- the hub plugin ------------------------------------------------------------------------

def host_row(hid, name, discomy, capacity=8.0):
    return {"id": hid, "name": name, "update_ts": 0.0, "task_load": 0.0, "ready": True,
            "arches": "x86_64", "capacity": capacity, "channels": [1],
            "data": {"methods": ["buildArch"], "discomy": dict(discomy, version=1)}}


@pytest.fixture
def world(tmp_path):
    w = kojihub_world.reset()
    conf = tmp_path / "discomy.conf"
    conf.write_text("[scheduler]\npower_after = 2h\nstrong_speed = 2\n"
                    "[trust]\nlearn_min_build = 10m\n")
    discomy_hub.CONFIG = discomy_hub.read_config(str(conf))
    discomy_hub._history_cache.clear()
    discomy_hub._learned.clear()
    discomy_hub._warned.clear()
    w.add_tag("el9-build")
    w.hosts = [host_row(1, "honest", {"speed": 2.5, "memory_mb": 65536}),
               host_row(2, "mid", {"speed": 1.0, "memory_mb": 65536}),
               host_row(3, "liar", {"speed": 3.5, "memory_mb": 65536})]
    true = {1: 2.5, 2: 1.0, 3: 0.9}
    w.samples = [{"host_id": s.host_id, "name": s.package, "arch": s.arch, "seconds": s.seconds}
                 for s in samples(true)]
    w.history = [{"name": "libreoffice", "build_id": 9, "seconds": 3 * HOUR}]
    return w


def test_a_power_job_from_history_goes_to_the_truly_fast_host_not_the_loudest(world):
    world.add_buildarch(10, "tasks/1/1/libreoffice-7.6-1.el9.src.rpm", "el9-build")
    scheduler.TaskScheduler().run(force=True)
    assert world.assigned == [(10, 1)]
    caps = {h["name"]: h for h in discomy_hub.hostCapabilities()}
    liar = caps["liar"]
    assert (liar["speed"], liar["claimed"]["speed"], liar["learned"]["speed"],
            liar["speed_source"]) == (0.9, 3.5, 0.9, "learned")
    assert caps["honest"]["speed_source"] == "claimed" and caps["honest"]["speed"] == 2.5


def test_an_admin_pins_and_caps_a_host_and_placement_follows(world):
    out = discomy_hub.setHostPolicy("honest", {"speed": 0.5, "max_memory": "16G"})
    assert out["policy"] == {"speed": 0.5, "max_memory": "16384M"}
    assert world.sys_data["discomy.host_policy"] == {"1": {"speed": 0.5, "max_memory": "16384M"}}
    assert any("host policy set by kojiadmin" in m for m, _, h in world.log if h == 1)
    world.tags["el9-build"]["extra"]["discomy.constraints"] = {"llvm": {"memory": "32G"}}
    world.add_buildarch(10, "tasks/1/1/libreoffice-7.6-1.el9.src.rpm", "el9-build")
    world.add_buildarch(11, "tasks/1/2/llvm-17-1.el9.src.rpm", "el9-build")
    scheduler.TaskScheduler().run(force=True)
    assigned = dict(world.assigned)
    assert assigned[10] == 2 and assigned[11] != 1   # mid (1.0) is now the fastest
    caps = {h["name"]: h for h in discomy_hub.hostCapabilities()}
    assert caps["honest"]["memory_mb"] == 16384 and caps["honest"]["claimed"]["memory_mb"] == 65536
    discomy_hub.setHostPolicy("honest", unset=["speed"])
    assert discomy_hub.getHostPolicy(1)["policy"] == {"max_memory": "16384M"}
    discomy_hub.setHostPolicy("honest", clear=True)
    assert world.sys_data["discomy.host_policy"] == {}


def test_host_policy_is_for_admins_and_refuses_nonsense(world):
    with pytest.raises(koji.ParameterError, match="Invalid policy for host honest: max_memory"):
        discomy_hub.setHostPolicy("honest", {"max_memory": "plenty"})
    world.perms = set()
    with pytest.raises(koji.ActionNotAllowed):
        discomy_hub.setHostPolicy("honest", {"speed": 1})
    assert discomy_hub.getHostPolicy("honest")["policy"] == {}


def test_a_damaged_stored_policy_is_ignored_with_one_warning(world, caplog):
    world.sys_data["discomy.host_policy"] = {"3": {"speed": "fast"}, "1": {"speed": 0.5}}
    world.add_buildarch(10, "tasks/1/1/libreoffice-7.6-1.el9.src.rpm", "el9-build")
    with caplog.at_level("WARNING", logger="koji.plugin.discomy"):
        for _ in range(3):
            scheduler.TaskScheduler().run(force=True)
    warned = [r.getMessage() for r in caplog.records if "host policy of host 3" in r.getMessage()]
    assert len(warned) == 1
    assert dict(world.assigned)[10] == 2      # honest pinned to 0.5; liar learned 0.9; mid 1.0


def test_learning_can_be_turned_off(world, tmp_path):
    conf = tmp_path / "off.conf"
    conf.write_text("[trust]\nlearn = false\n")
    discomy_hub.CONFIG = discomy_hub.read_config(str(conf))
    caps = {h["name"]: h for h in discomy_hub.hostCapabilities()}
    assert caps["liar"]["speed"] == 3.5 and caps["liar"]["learned"] is None
    assert "task" not in world.queries


def test_fit_task_answers_with_the_hub_defaults_and_the_policy(world, tmp_path):
    conf = tmp_path / "defaults.conf"
    conf.write_text('[constraints]\nbigmem* = {"memory": "48G"}\n')
    discomy_hub.CONFIG = discomy_hub.read_config(str(conf))
    world.add_buildarch(10, "tasks/1/1/bigmem-app-1-1.el9.src.rpm", "el9-build")
    ok = discomy_hub.fitTask(10, "mid")
    assert ok["refuse"] is None and ok["requirements"]["constraints"] == {"memory": "49152M"}
    discomy_hub.setHostPolicy("mid", {"max_memory": "32G"})
    world.perms = set()              # a builder's own session asks
    verdict = discomy_hub.fitTask(10, 2)
    assert verdict["refuse"] == "mid: needs 48 GiB memory, has 32 GiB (package bigmem-app)"
