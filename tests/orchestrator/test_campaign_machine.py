"""The campaign state machine over whole campaigns, through the transitions the engine
uses (``releasable`` and ``after_*``): release, caps, gates, failures, resume."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from discomy.orchestration import campaign as cm
from discomy.orchestration.campaign import Node


def chain():
    # parsekit <- alpha <- beta <- appsuite ; other is independent
    nodes = [Node("parsekit", 0, (), 400), Node("other", 0, (), 50),
             Node("alpha", 1, ("parsekit",), 300), Node("beta", 2, ("alpha",), 200),
             Node("appsuite", 3, ("alpha", "beta"), 100)]
    return {n.name: n for n in nodes}


def apply(nodes, changes):
    return {**nodes, **changes}


def build(nodes, name, ok=True, error="", retries=3, failure=cm.PACKAGE):
    nodes = apply(nodes, cm.after_claim(nodes, [name]))
    return apply(nodes, cm.after_build(nodes, name, ok, f"{name}-1-1.discomyc1" if ok else None,
                                       error, retries, failure))


def finish(nodes, name, gated=False):
    nodes = build(nodes, name)
    return apply(nodes, cm.after_repo(nodes, [name], gated, now=100.0))


def test_built_is_not_enough_the_dependency_must_be_in_the_repo():
    nodes = build(chain(), "parsekit")
    assert nodes["parsekit"].state == cm.WAITING_REPO
    assert "alpha" not in cm.releasable(nodes, "per-edge", 10)
    nodes = apply(nodes, cm.after_repo(nodes, ["parsekit"], False, 0.0))
    assert "alpha" in cm.releasable(nodes, "per-edge", 10)


def test_per_tier_waits_for_the_whole_previous_tier_and_per_edge_does_not():
    nodes = finish(chain(), "parsekit")
    assert cm.releasable(nodes, "per-edge", 10) == ["alpha", "other"]
    assert cm.releasable(nodes, "per-tier", 10) == ["other"]
    assert cm.releasable(finish(nodes, "other"), "per-tier", 10) == ["alpha"]


def test_release_is_longest_chain_first_within_the_cap_counting_repo_waits_and_gates():
    assert cm.releasable(chain(), "per-edge", 1) == ["parsekit"]
    nodes = build(chain(), "parsekit")                   # waiting for the repo: in flight
    assert cm.releasable(nodes, "per-edge", 1) == []
    nodes = apply(nodes, cm.after_repo(nodes, ["parsekit"], True, 0.0))   # gating
    assert cm.releasable(nodes, "per-edge", 1) == []
    assert cm.releasable(nodes, "per-edge", 2) == ["other"]


def test_a_claim_is_the_intent_one_more_attempt_and_no_task_yet():
    nodes = apply(chain(), {"parsekit": Node("parsekit", 0, (), 400, cm.PLANNED, attempts=1,
                                             task="old", nvr="x")})
    claimed = cm.after_claim(nodes, ["parsekit"])["parsekit"]
    assert (claimed.state, claimed.attempts, claimed.task, claimed.nvr) == \
        (cm.BUILDING, 2, None, None)


def test_gate_sits_between_the_repo_and_done_and_a_failed_gate_is_a_package_failure():
    nodes = finish(chain(), "parsekit", gated=True)
    assert nodes["parsekit"].state == cm.GATING and nodes["parsekit"].gate_since == 100.0
    nodes = apply(nodes, cm.after_gate(nodes, "parsekit", False, "rpmdeplint failed"))
    assert nodes["parsekit"].state == cm.FAILED
    assert nodes["parsekit"].failure_class == cm.PACKAGE
    assert nodes["parsekit"].reason == "gate failed: rpmdeplint failed"
    assert {n for n, x in nodes.items() if x.state == cm.QUARANTINED} == {"alpha", "beta",
                                                                          "appsuite"}


@pytest.mark.parametrize("state, faults, child_canceled, kind", [
    # koji's fault classes with their bases, as the koji backend reads them
    ("FAILED", ("BuildrootError", "BuildError", "GenericError"), False, cm.INFRASTRUCTURE),
    ("FAILED", ("RetryError", "AuthError", "GenericError"), False, cm.INFRASTRUCTURE),
    ("FAILED", ("AuthExpired", "AuthError", "GenericError"), False, cm.INFRASTRUCTURE),
    ("FAILED", ("ServerOffline", "GenericError"), False, cm.INFRASTRUCTURE),
    ("FAILED", (), False, cm.INFRASTRUCTURE),          # an OSError on the builder: code 1
    ("FAILED", ("BuildError", "GenericError"), False, cm.PACKAGE),
    ("FAILED", ("PostBuildError", "BuildError", "GenericError"), False, cm.PACKAGE),
    ("FAILED", ("GenericError",), False, cm.PACKAGE),  # e.g. not in the tag's package list
    ("FAILED", ("GenericError",), True, cm.INFRASTRUCTURE),   # a subtask canceled by hand
    ("CANCELED", (), False, cm.INFRASTRUCTURE),
    ("", (), False, cm.INFRASTRUCTURE),               # the hub no longer knows the task
])
def test_koji_failure_classes_come_from_the_task_state_and_fault_class(state, faults,
                                                                     child_canceled, kind):
    assert cm.koji_failure_class(state, faults, child_canceled) == kind


def test_failure_text_alone_never_makes_a_failure_infrastructure():
    nodes = build(chain(), "parsekit", ok=False, error="error: File not found: /home/b/rpmbuild/"
                  "BUILDROOT/parsekit-1-1.x86_64/usr/share/x (timed out, no space left)")
    assert nodes["parsekit"].state == cm.FAILED and nodes["parsekit"].attempts == 1


def test_infrastructure_failures_are_retried_up_to_the_limit_then_fail():
    nodes = chain()
    for attempt in (1, 2, 3):      # the first try and two retries
        nodes = build(nodes, "parsekit", ok=False, error="host b3 died", retries=2,
                      failure=cm.INFRASTRUCTURE)
        assert nodes["parsekit"].attempts == attempt
        assert nodes["parsekit"].state == (cm.PLANNED if attempt <= 2 else cm.FAILED)
    assert nodes["parsekit"].failure_class == cm.INFRASTRUCTURE


def test_a_package_failure_quarantines_only_dependents_and_a_fixed_build_releases_them():
    nodes = finish(chain(), "parsekit")
    nodes = build(nodes, "alpha", ok=False, error="%check failed")
    assert nodes["alpha"].state == cm.FAILED and nodes["alpha"].attempts == 1
    assert {n for n, x in nodes.items() if x.state == cm.QUARANTINED} == {"beta", "appsuite"}
    nodes = finish(nodes, "other")
    assert cm.campaign_state(nodes.values()) == cm.FAILED     # nothing moves until fixed
    nodes = apply(nodes, cm.after_resume(nodes, "alpha"))
    assert nodes["alpha"].state == cm.DONE
    assert cm.campaign_state(nodes.values()) == cm.RUNNING
    assert cm.releasable(nodes, "per-edge", 10) == ["beta"]
    nodes = finish(finish(nodes, "beta"), "appsuite")
    assert cm.campaign_state(nodes.values()) == cm.DONE


def test_a_dependent_of_two_failures_stays_quarantined_until_both_are_fixed():
    nodes = {"a": Node("a", 0), "b": Node("b", 0), "c": Node("c", 1, ("a", "b"))}
    nodes = build(build(nodes, "a", ok=False, error="x"), "b", ok=False, error="y")
    nodes = apply(nodes, cm.after_resume(nodes, "a"))
    assert nodes["c"].state == cm.QUARANTINED
    nodes = apply(nodes, cm.after_resume(nodes, "b"))
    assert nodes["c"].state == cm.PLANNED


def test_a_requeue_by_hand_builds_the_failed_node_again_from_a_fresh_budget():
    nodes = finish(chain(), "parsekit")
    nodes = build(nodes, "alpha", ok=False, error="%check failed")
    nodes = apply(nodes, cm.after_requeue(nodes, "alpha"))
    alpha = nodes["alpha"]
    assert (alpha.state, alpha.attempts, alpha.task, alpha.failure_class) == \
        (cm.PLANNED, 0, None, None)
    assert cm.releasable(nodes, "per-edge", 10) == ["alpha", "other"]   # beta waits for it


def test_an_unknown_release_mode_is_refused():
    with pytest.raises(ValueError, match="per-tier or per-edge"):
        cm.releasable(chain(), "sometimes", 1)


def test_priority_goes_from_high_for_the_longest_chain_to_low():
    prio = cm.priorities(chain(), high=20, low=30)
    assert prio["parsekit"] == 20 and prio["appsuite"] == 28
    assert prio["parsekit"] < prio["alpha"] < prio["beta"] < prio["appsuite"]


def test_koji_load_holds_back_above_the_threshold_and_names_the_arch():
    hosts = [{"arches": "x86_64 i686", "capacity": 10.0, "task_load": 9.0},
             {"arches": "aarch64", "capacity": 10.0, "task_load": 1.0},
             {"arches": "aarch64", "capacity": 10.0, "task_load": 9.0, "ready": False}]
    loads = cm.arch_loads(hosts, ["x86_64", "aarch64", "s390x"])
    assert loads["x86_64"] == 0.9 and loads["aarch64"] == 0.1 and loads["s390x"] == float("inf")
    reason = cm.hold_back_reason(loads, 0.8)
    assert "x86_64 at 90% of capacity" in reason and "s390x has no ready host" in reason
    assert cm.hold_back_reason({"x86_64": 0.5}, 0.8) is None


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
    cap = draw(st.integers(1, 4))
    retries = draw(st.integers(0, 2))
    gated = draw(st.booleans())
    broken = set(draw(st.lists(st.sampled_from(names), max_size=2)))
    flaky = set(draw(st.lists(st.sampled_from(names), max_size=3)))
    return nodes, release, cap, retries, gated, broken, flaky


def ancestors(nodes, name):
    seen, stack = set(), list(nodes[name].deps)
    while stack:
        d = stack.pop()
        if d not in seen:
            seen.add(d)
            stack.extend(nodes[d].deps)
    return seen


def simulate(nodes, release, cap, retries, gated, broken, flaky, data):
    """Drive a campaign as the engine does, with completions in a random order; check
    the invariants at every step."""
    flaky_left = {name: 1 for name in flaky}
    for _ in range(1000):
        released = cm.releasable(nodes, release, cap)
        for name in released:
            assert all(nodes[d].state == cm.DONE for d in nodes[name].deps), name
            if release == cm.PER_TIER:
                assert all(n.state in cm.SETTLED for n in nodes.values()
                           if n.tier < nodes[name].tier)
        nodes = apply(nodes, cm.after_claim(nodes, released))
        assert sum(1 for n in nodes.values() if n.state in cm.IN_FLIGHT) <= cap
        active = sorted(n for n, x in nodes.items() if x.state in cm.IN_FLIGHT)
        if not active:
            return nodes
        name = data.draw(st.sampled_from(active))
        node = nodes[name]
        if node.state == cm.WAITING_REPO:
            changes = cm.after_repo(nodes, [name], gated, 0.0)
        elif node.state == cm.GATING:
            changes = cm.after_gate(nodes, name, True, "")
        elif name in broken:
            changes = cm.after_build(nodes, name, False, None, "%check failed", retries)
        elif flaky_left.get(name):
            flaky_left[name] -= 1
            changes = cm.after_build(nodes, name, False, None, "could not init mock buildroot",
                                     retries, cm.INFRASTRUCTURE)
        else:
            changes = cm.after_build(nodes, name, True, f"{name}-1-1", "", retries)
        for changed in changes.values():
            assert changed.attempts <= retries + 1
        nodes = apply(nodes, changes)
    raise AssertionError("the campaign did not settle")


@settings(max_examples=200, deadline=None)
@given(campaigns(), st.data())
def test_random_campaigns_release_nothing_early_stay_in_the_cap_and_finish_the_rest(spec, data):
    nodes, release, cap, retries, gated, broken, flaky = spec
    nodes = simulate(nodes, release, cap, retries, gated, broken, flaky, data)
    lost = {n for n in broken | flaky if n in broken or retries == 0}
    for name, node in nodes.items():
        if ancestors(nodes, name) & lost:
            assert node.state == cm.QUARANTINED, (name, node)
        elif name in lost:
            assert node.state == cm.FAILED
        else:
            assert node.state == cm.DONE, (name, node)       # non-dependents still finish
    assert cm.campaign_state(nodes.values()) == (cm.FAILED if lost else cm.DONE)


@settings(max_examples=150, deadline=None)
@given(campaigns(), st.data())
def test_fixed_builds_of_every_failed_package_let_the_campaign_finish(spec, data):
    nodes, release, cap, retries, gated, broken, _ = spec
    nodes = simulate(nodes, release, cap, retries, gated, broken, set(), data)
    for _ in range(len(nodes)):
        failed = sorted(n for n, x in nodes.items() if x.state == cm.FAILED)
        if not failed:
            break
        nodes = apply(nodes, cm.after_resume(nodes, data.draw(st.sampled_from(failed))))
        # a quarantined node always has a failed ancestor
        assert all(ancestors(nodes, n) & {f for f, y in nodes.items() if y.state == cm.FAILED}
                   for n, x in nodes.items() if x.state == cm.QUARANTINED)
        nodes = simulate(nodes, release, cap, retries, gated, set(), set(), data)
    assert cm.campaign_state(nodes.values()) == cm.DONE


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
