"""The campaign state machine: release rules, failures, quarantine, resume."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from discomy.orchestration.campaign import (BUILDING, DONE, FAILED, INFRASTRUCTURE, PACKAGE, PLANNED,
                              QUARANTINED, Node, after_failure, after_resume, campaign_state,
                              koji_failure_class, koji_priority, releasable,
                              rpmbuild_failure_class)


def chain():
    # parsekit <- alpha <- beta <- appsuite ; other is independent
    return {
        "parsekit": Node("parsekit", 0, (), 400),
        "other": Node("other", 0, (), 50),
        "alpha": Node("alpha", 1, ("parsekit",), 300),
        "beta": Node("beta", 2, ("alpha",), 200),
        "appsuite": Node("appsuite", 3, ("alpha", "beta"), 100),
    }


def test_per_edge_release_needs_only_own_dependencies():
    nodes = chain()
    nodes["parsekit"] = Node("parsekit", 0, (), 400, DONE)
    nodes["other"] = Node("other", 0, (), 50, BUILDING)
    assert releasable(nodes, "per-edge", 10) == ["alpha"]


def test_per_tier_release_waits_for_the_whole_previous_tier():
    nodes = chain()
    nodes["parsekit"] = Node("parsekit", 0, (), 400, DONE)
    nodes["other"] = Node("other", 0, (), 50, BUILDING)
    assert releasable(nodes, "per-tier", 10) == []


def test_release_order_is_longest_chain_first_within_the_cap():
    assert releasable(chain(), "per-edge", 1) == ["parsekit"]
    nodes = chain()
    nodes["parsekit"] = Node("parsekit", 0, (), 400, BUILDING)
    assert releasable(nodes, "per-edge", 1) == []


def test_koji_faults_of_the_build_host_are_infrastructure_and_build_errors_the_packages():
    assert koji_failure_class("FAILED", ("BuildrootError", "BuildError", "GenericError")) == \
        INFRASTRUCTURE
    assert koji_failure_class("FAILED", ("BuildError", "GenericError")) == PACKAGE
    assert koji_failure_class("CANCELED") == INFRASTRUCTURE


def test_rpmbuild_that_ran_to_its_end_failed_for_the_package():
    assert rpmbuild_failure_class(1) == PACKAGE
    assert rpmbuild_failure_class(-9) == INFRASTRUCTURE
    assert rpmbuild_failure_class(None) == INFRASTRUCTURE
    assert rpmbuild_failure_class(1, disk_full=True) == INFRASTRUCTURE


def test_infrastructure_failure_is_retried_then_failed():
    nodes = chain()
    nodes["alpha"] = Node("alpha", 1, ("parsekit",), 300, BUILDING, attempts=2)
    assert after_failure(nodes, "alpha", "host b3 died", 2, INFRASTRUCTURE)["alpha"].state == \
        PLANNED
    nodes["alpha"] = Node("alpha", 1, ("parsekit",), 300, BUILDING, attempts=3)
    assert after_failure(nodes, "alpha", "host b3 died", 2, INFRASTRUCTURE)["alpha"].state == \
        FAILED


def test_package_failure_quarantines_only_its_dependents_and_resume_releases_them():
    nodes = chain()
    nodes["alpha"] = Node("alpha", 1, ("parsekit",), 300, BUILDING, attempts=1)
    changes = after_failure(nodes, "alpha", "%check failed", 3, PACKAGE)
    assert changes["alpha"].state == FAILED and changes["alpha"].failure_class == "package"
    assert {n for n, c in changes.items() if c.state == QUARANTINED} == {"beta", "appsuite"}
    assert "other" not in changes and "parsekit" not in changes
    nodes.update(changes)
    back = after_resume(nodes, "alpha")
    assert back["alpha"].state == DONE
    assert back["beta"].state == PLANNED and back["appsuite"].state == PLANNED


def test_priority_maps_the_longest_chain_to_the_lowest_number():
    assert koji_priority(1000, 1000) == 10 and koji_priority(0, 1000) == 20


dags = st.integers(2, 12).flatmap(lambda n: st.lists(
    st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30).map(
    lambda edges, n=n: {f"n{i}": tuple(sorted({f"n{b}" for a, b in edges if a == i and b < a}))
                        for i in range(n)}))


@settings(max_examples=150, deadline=None)
@given(dags, st.sampled_from(["per-tier", "per-edge"]), st.integers(1, 4), st.data())
def test_a_simulated_campaign_never_releases_early_and_finishes_what_it_can(deps, release, cap, data):
    def tier(name, memo={}):
        return 0 if not deps[name] else 1 + max(tier(d) for d in deps[name])
    nodes = {n: Node(n, tier(n), d, float(len(deps) - tier(n))) for n, d in deps.items()}
    broken = set(data.draw(st.lists(st.sampled_from(sorted(deps)), max_size=2)))
    for _ in range(100):
        ready = releasable(nodes, release, cap)
        if not ready:
            break
        assert sum(1 for n in nodes.values() if n.state == BUILDING) + len(ready) <= cap
        for name in ready:
            assert all(nodes[d].state == DONE for d in nodes[name].deps)
            nodes[name] = Node(name, nodes[name].tier, nodes[name].deps, 0, BUILDING, 1)
        for name in ready:
            if name in broken:
                nodes.update(after_failure(nodes, name, "%check failed", 2, PACKAGE))
            else:
                nodes[name] = Node(name, nodes[name].tier, nodes[name].deps, 0, DONE, 1)
    # everything that does not depend on a broken package got built
    def depends_on_broken(name):
        return name in broken or any(depends_on_broken(d) for d in deps[name])
    for name, node in nodes.items():
        if not depends_on_broken(name):
            assert node.state == DONE
        else:
            assert node.state in (FAILED, QUARANTINED, PLANNED)
    assert campaign_state(nodes.values()) in ("done", "failed", "running")


def test_a_campaign_rebuild_is_told_by_its_release_suffix():
    from discomy.orchestration.campaign import made_by_a_campaign

    assert made_by_a_campaign("1.el9.discomy12", ".discomy{campaign}")
    assert not made_by_a_campaign("1.el9", ".discomy{campaign}")
    assert not made_by_a_campaign("1.el9.discomy", ".discomy{campaign}")   # no campaign number
    assert made_by_a_campaign("3.fc41~rb7", "~rb{campaign}")
    assert not made_by_a_campaign("1.el9.discomy3", "")


def test_a_local_fix_needs_a_source_and_a_package_failure_needs_a_new_one():
    from discomy.orchestration.campaign import fix_refusal

    failed = Node("alpha", 1, (), state=FAILED, failure_class=PACKAGE)
    assert "no source package of alpha" in fix_refusal(failed, None, None)
    assert "still the one that failed" in fix_refusal(failed, "a-1.src.rpm x", "a-1.src.rpm x")
    assert fix_refusal(failed, "a-2.src.rpm y", "a-1.src.rpm x") is None
    assert fix_refusal(failed, "a-1.src.rpm x", None) is None          # unknown: try it
    machine = Node("alpha", 1, (), state=FAILED, failure_class=INFRASTRUCTURE)
    assert fix_refusal(machine, "a-1.src.rpm x", "a-1.src.rpm x") is None
