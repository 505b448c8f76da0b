"""The campaign state machine over whole campaigns: release, caps, failures, resume."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from discomy import campaign as cm
from discomy.campaign import Campaign, Limits, Node, TaskResult


def chain(release="per-edge", **limits):
    # parsekit <- alpha <- beta <- appsuite ; other is independent
    nodes = [Node("parsekit", 0, (), 400), Node("other", 0, (), 50),
             Node("alpha", 1, ("parsekit",), 300), Node("beta", 2, ("alpha",), 200),
             Node("appsuite", 3, ("alpha", "beta"), 100)]
    return cm.settle(Campaign("c1", {n.name: n for n in nodes}, release, limits=Limits(**limits)))


def build(c, name, ok=True, error=""):
    c = cm.start(c, name, task=f"t-{name}")
    return cm.build_finished(c, name, TaskResult(ok, f"{name}-1-1.discomyc1" if ok else None, error))


def finish(c, name):
    return cm.repo_ready(build(c, name), [name])


def test_nodes_whose_dependencies_are_not_done_are_waiting_for_them():
    c = chain()
    assert c.nodes["parsekit"].state == cm.PLANNED
    assert c.nodes["alpha"].state == cm.WAITING_DEPS
    c = build(c, "parsekit")
    assert c.nodes["parsekit"].state == cm.WAITING_REPO
    assert c.nodes["alpha"].state == cm.WAITING_DEPS        # built is not enough: in the repo
    c = cm.repo_ready(c, ["parsekit"])
    assert c.nodes["alpha"].state == cm.PLANNED


def test_per_tier_waits_for_the_whole_previous_tier_and_per_edge_does_not():
    edge, tier = chain("per-edge"), chain("per-tier")
    edge, tier = finish(edge, "parsekit"), finish(tier, "parsekit")
    assert "alpha" in cm.to_release(edge)
    assert cm.to_release(tier) == ["other"]                 # tier 0 still has other
    tier = finish(tier, "other")
    assert cm.to_release(tier) == ["alpha"]


def test_release_is_longest_chain_first_within_both_caps():
    c = chain(max_in_flight=1)
    assert cm.to_release(c) == ["parsekit"]
    c = chain(max_in_flight=5, max_in_flight_global=6)
    assert cm.to_release(c, global_in_flight=5) == ["parsekit"]
    assert cm.to_release(c, global_in_flight=6) == []


def test_gate_sits_between_the_repo_and_done_and_a_failed_gate_is_a_package_failure():
    c = cm.settle(Campaign("g", dict(chain().nodes), "per-edge", gate=True))
    c = cm.repo_ready(build(c, "parsekit"), ["parsekit"])
    assert c.nodes["parsekit"].state == cm.GATING
    c = cm.gate_finished(c, "parsekit", False, "rpmdeplint failed")
    assert c.nodes["parsekit"].state == cm.FAILED
    assert c.nodes["parsekit"].failure_class == cm.PACKAGE
    assert c.nodes["alpha"].state == cm.QUARANTINED


@pytest.mark.parametrize("error, kind", [
    ("BuildError: error building package (arch x86_64), mock exited with status 30", "infrastructure"),
    ("mock exited with status 1; see build.log", "package"),
    ("Task 123 failed: host builder-07 died", "infrastructure"),
    ("Timed out waiting for the buildroot", "infrastructure"),
    ("No space left on device", "infrastructure"),
    ("error: Bad exit status from /var/tmp/rpm-tmp.x (%check)", "package"),
    ("gate failed: dist.rpmdeplint", "package"),
    ("", "package"),
])
def test_failure_classes(error, kind):
    assert cm.classify_failure(error) == kind


def test_infrastructure_failures_are_retried_up_to_the_limit_then_fail():
    c = chain(max_infra_retries=2)
    for attempt in (1, 2):
        c = build(c, "parsekit", ok=False, error="host b3 died")
        assert c.nodes["parsekit"].state == cm.PLANNED
        assert c.nodes["parsekit"].attempts == attempt
    c = build(c, "parsekit", ok=False, error="host b3 died")
    assert c.nodes["parsekit"].state == cm.FAILED
    assert c.nodes["parsekit"].failure_class == cm.INFRASTRUCTURE


def test_a_package_failure_quarantines_only_dependents_and_a_newer_build_resumes_them():
    c = finish(chain(), "parsekit")
    c = build(c, "alpha", ok=False, error="%check failed")
    assert c.nodes["alpha"].state == cm.FAILED
    assert {n for n, x in c.nodes.items() if x.state == cm.QUARANTINED} == {"beta", "appsuite"}
    c = finish(c, "other")
    assert c.state == cm.FAILED                 # nothing can move: failed until fixed
    c = cm.newer_build_completed(c, "alpha", "alpha-1-2.el9")
    assert c.nodes["alpha"].state == cm.DONE and c.nodes["alpha"].nvr == "alpha-1-2.el9"
    assert c.state == cm.RUNNING
    assert cm.to_release(c) == ["beta"]
    c = finish(finish(c, "beta"), "appsuite")
    assert c.state == cm.DONE


def test_resume_by_hand_builds_the_failed_node_again():
    c = finish(chain(), "parsekit")
    c = build(c, "alpha", ok=False, error="%check failed")
    c = cm.resume(c)
    assert c.nodes["alpha"].state == cm.PLANNED and c.nodes["alpha"].attempts == 0
    assert c.nodes["beta"].state == cm.WAITING_DEPS


def test_paused_and_cancelled_campaigns_release_nothing():
    assert cm.to_release(cm.pause(chain())) == []
    assert cm.to_release(cm.cancel(chain())) == []
    assert cm.to_release(cm.resume(cm.pause(chain()))) == ["parsekit", "other"]
    with pytest.raises(cm.CampaignError):
        cm.resume(cm.cancel(chain()))


def test_a_transition_from_the_wrong_state_is_refused():
    with pytest.raises(cm.CampaignError, match="alpha is waiting-deps"):
        cm.start(chain(), "alpha")


def test_priority_goes_from_the_range_start_for_the_longest_chain_to_its_end():
    c = chain(priority_range=(5, 25))
    assert cm.priority_of(c, "parsekit") == 5
    assert cm.priority_of(c, "appsuite") == 20
    assert cm.priority_of(c, "parsekit") < cm.priority_of(c, "alpha") < cm.priority_of(c, "beta")


# ---- properties over random campaigns -------------------------------------------------------

@st.composite
def campaigns(draw):
    n = draw(st.integers(1, 12))
    names = [f"p{i}" for i in range(n)]
    deps = {}
    for i, name in enumerate(names):
        deps[name] = tuple(sorted(set(draw(st.lists(st.sampled_from(names[:i]), max_size=3)))
                                  if i else ()))
    tier = {}
    for name in names:
        tier[name] = 1 + max((tier[d] for d in deps[name]), default=-1)
    depth = {}
    for name in reversed(names):
        users = [u for u in names if name in deps[u]]
        depth[name] = 1 + max((depth[u] for u in users), default=0)
    nodes = {x: Node(x, tier[x], deps[x], float(depth[x])) for x in names}
    release = draw(st.sampled_from(cm.RELEASE_MODES))
    limits = Limits(max_in_flight=draw(st.integers(1, 4)),
                    max_in_flight_global=draw(st.integers(4, 6)),
                    max_infra_retries=draw(st.integers(0, 2)))
    broken = set(draw(st.lists(st.sampled_from(names), max_size=2)))
    flaky = set(draw(st.lists(st.sampled_from(names), max_size=3)))
    return cm.settle(Campaign("p", nodes, release, limits=limits)), broken, flaky


def ancestors(c, name):
    seen, stack = set(), list(c.nodes[name].deps)
    while stack:
        d = stack.pop()
        if d not in seen:
            seen.add(d)
            stack.extend(c.nodes[d].deps)
    return seen


def simulate(c, broken, flaky, other_in_flight, data):
    """Drive the campaign with random completions; check the invariants at every step."""
    infra_left = {name: 1 for name in flaky}
    for _ in range(500):
        released = cm.to_release(c, global_in_flight=other_in_flight + c.count(cm.BUILDING))
        for name in released:
            assert all(c.nodes[d].state == cm.DONE for d in c.nodes[name].deps), name
            if c.release == cm.PER_TIER:
                assert all(n.state in cm.SETTLED for n in c.nodes.values()
                           if n.tier < c.nodes[name].tier)
            c = cm.start(c, name)
        building = c.count(cm.BUILDING)
        assert building <= c.limits.max_in_flight
        assert building + other_in_flight <= max(c.limits.max_in_flight_global, other_in_flight)
        active = [n for n, x in c.nodes.items() if x.state in (cm.BUILDING, cm.WAITING_REPO)]
        if not active:
            break
        name = data.draw(st.sampled_from(sorted(active)))
        if c.nodes[name].state == cm.WAITING_REPO:
            c = cm.repo_ready(c, [name])
        elif name in broken:
            c = cm.build_finished(c, name, TaskResult(False, error="%check failed"))
        elif infra_left.get(name):
            infra_left[name] -= 1
            c = cm.build_finished(c, name, TaskResult(False, error="mock exited with status 30"))
        else:
            c = cm.build_finished(c, name, TaskResult(True, f"{name}-1-1"))
    return c


@settings(max_examples=200, deadline=None)
@given(campaigns(), st.integers(0, 6), st.data())
def test_random_campaigns_release_nothing_early_stay_in_caps_and_finish_the_rest(spec, other, data):
    c, broken, flaky = spec
    c = simulate(c, broken, flaky, other, data)
    if other >= c.limits.max_in_flight_global:
        assert c.count(cm.BUILDING) == 0
        return
    for name, node in c.nodes.items():
        hit = name in broken or (name in flaky and c.limits.max_infra_retries == 0)
        upstream_broken = any(a in broken or (a in flaky and c.limits.max_infra_retries == 0)
                              for a in ancestors(c, name))
        if upstream_broken:
            assert node.state in (cm.QUARANTINED, cm.DONE, cm.FAILED)
            assert node.state != cm.DONE or not any(
                c.nodes[a].state == cm.FAILED for a in ancestors(c, name))
        elif hit:
            assert node.state == cm.FAILED
        else:
            assert node.state == cm.DONE, (name, node)       # non-dependents still finish
    assert c.state == (cm.DONE if all(n.state == cm.DONE for n in c.nodes.values()) else cm.FAILED)


@settings(max_examples=150, deadline=None)
@given(campaigns(), st.data())
def test_fixed_builds_of_every_failed_package_let_the_campaign_finish(spec, data):
    c, broken, flaky = spec
    c = simulate(c, broken, set(), 0, data)
    for _ in range(len(c.nodes)):
        failed = [n for n, x in c.nodes.items() if x.state == cm.FAILED]
        if not failed:
            break
        for name in failed:
            c = cm.newer_build_completed(c, name, f"{name}-1-2")
        assert not any(x.state == cm.QUARANTINED and not any(
            c.nodes[a].state == cm.FAILED for a in ancestors(c, n)) for n, x in c.nodes.items())
        c = simulate(c, set(), set(), 0, data)
    assert c.state == cm.DONE
    assert all(n.state == cm.DONE for n in c.nodes.values())


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text("abcdef", min_size=1, max_size=4),
                       st.floats(0, 1e6, allow_nan=False), min_size=1),
       st.integers(0, 20), st.integers(0, 20))
def test_priorities_stay_in_range_and_never_favour_a_shorter_chain(remaining, a, b):
    high, low = min(a, b), max(a, b)
    nodes = {k: Node(k, 0, (), v) for k, v in remaining.items()}
    prio = cm.priorities(nodes, high, low)
    assert all(high <= p <= low for p in prio.values())
    for x in nodes:
        for y in nodes:
            if remaining[x] > remaining[y]:
                assert prio[x] <= prio[y]
