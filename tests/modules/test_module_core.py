"""The decisions of module builds (pure): names in koji, the dist, which components are
reused from the last build of a stream, and what the components' campaign ending means."""

from __future__ import annotations

import pytest

from discomy.orchestration import campaign as cm
from discomy.orchestration.modules import core


def test_koji_tags_are_named_as_mbs_names_them():
    assert core.koji_tag("nodejs", "20-lts", 9040020261204120000, "1a2b3c4d") == \
        "module-nodejs-20_lts-9040020261204120000-1a2b3c4d"
    assert core.koji_tag("nodejs", "20", 1, "c", scratch=True, module_id=7) == \
        "scratch-module-nodejs-20-1-c-7"
    long = core.koji_tag("x" * 300, "s", 1, "c")
    assert long.startswith("module-") and len(long) <= core.MAX_TAG


def test_the_dist_is_unique_per_build_and_carries_the_platform():
    dist = core.dist_tag("nodejs", "20", 9040020261204120000, "1a2b3c4d", 42, "el9.4.0")
    assert dist.startswith(".module+el9.4.0+42+") and len(dist.rsplit("+", 1)[1]) == 8
    assert core.dist_tag("nodejs", "20", 9040020261204120000, "1a2b3c4d", 43, "el9.4.0") != dist
    assert core.dist_tag("m", "s", 1, "c", 1, None).startswith(".module+1+")
    assert core.dist_tag("m", "s", 1, "c", 1, "f39", prefix="module_").startswith(".module_+f39+")


def test_the_state_machine_allows_only_the_mbs_transitions():
    assert core.may_follow("init", "wait") and core.may_follow("done", "ready")
    assert core.may_follow("failed", "wait")            # a resubmission resumes it
    assert not core.may_follow("ready", "build") and not core.may_follow("init", "ready")


# -- reuse ---------------------------------------------------------------------------------

SOURCES = {"a": ("git://r/a", "1"), "b": ("git://r/b", "2"), "c": ("git://r/c", "3"),
           "d": ("git://r/d", "4")}
BUILT = {n: (*s, f"{n}-1-1.module+el9+1+x") for n, s in SOURCES.items()}
PREVIOUS = core.Previous(1, {"platform": "el9"}, BUILT)
# batches: a | b, c | d ; DAG: a <- b <- d, c alone
BATCHES = dict(deps={"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")},
               tiers=[("a",), ("b", "c"), ("d",)], kind="batches")
DAG = dict(deps={"a": (), "b": ("a",), "c": (), "d": ("b",)},
           tiers=[("a", "c"), ("b",), ("d",)], kind="dag")


def _reuse(sources, order, strategy, previous=PREVIOUS, buildrequires=None):
    return core.reuse(sources, order["deps"], order["tiers"], order["kind"],
                      buildrequires or {"platform": "el9"}, previous, strategy)


def test_unchanged_components_are_reused_with_their_nvrs():
    assert _reuse(SOURCES, BATCHES, "only-changed") == {n: BUILT[n][2] for n in SOURCES}


@pytest.mark.parametrize("order, strategy, reused", [
    (BATCHES, "changed-and-after", {"a"}),         # b changed: batches 2 and 3 rebuilt
    (BATCHES, "only-changed", {"a", "c", "d"}),
    (BATCHES, "all", set()),
    (DAG, "changed-and-after", {"a", "c"}),        # b changed: d is after it, c is not
    (DAG, "only-changed", {"a", "c", "d"}),
])
def test_reuse_follows_the_strategy_after_a_change(order, strategy, reused):
    changed = {**SOURCES, "b": ("git://r/b", "22")}
    assert set(_reuse(changed, order, strategy)) == reused


def test_nothing_is_reused_across_other_build_requirements_or_without_a_ready_build():
    assert _reuse(SOURCES, DAG, "only-changed", buildrequires={"platform": "el8"}) == {}
    assert _reuse(SOURCES, DAG, "only-changed", previous=None) == {}
    # another repository with the same commit is another source
    moved = {**SOURCES, "c": ("git://elsewhere/c", "3")}
    assert "c" not in _reuse(moved, DAG, "only-changed")
    # a component the previous build did not build (new, or failed there) is built
    partial = core.Previous(1, {"platform": "el9"}, {n: BUILT[n] for n in ("a", "b")})
    assert set(_reuse(SOURCES, DAG, "only-changed", previous=partial)) == {"a", "b"}
    with pytest.raises(ValueError, match="unknown reuse strategy"):
        _reuse(SOURCES, DAG, "some")


# -- the campaign's end --------------------------------------------------------------------

def _nodes(**states):
    return {n: cm.Node(n, 0, state=s, failure_class=cm.PACKAGE if s == "failed" else None,
                       reason="rpmbuild failed for x in %build" if s == "failed" else "")
            for n, s in states.items()}


def test_the_campaigns_end_is_the_module_builds():
    assert core.outcome(cm.RUNNING, _nodes(a="building")) is None
    assert core.outcome(cm.PAUSED, _nodes(a="building")) is None
    assert core.outcome(cm.DONE, _nodes(a="done", b="done"))[:2] == ("done",
                                                                    "all 2 components built")
    state, reason, kind = core.outcome(cm.FAILED, _nodes(a="done", b="failed", c="failed",
                                                          d="quarantined"))
    assert (state, kind) == ("failed", "package")
    assert reason == "component b failed: rpmbuild failed for x in %build (and 1 more)"
    assert core.outcome(cm.CANCELLED, _nodes(a="building"))[0] == "canceled"


def test_batch_progress_counts_components_per_batch():
    nodes = {"a": cm.Node("a", 0, state="done"), "b": cm.Node("b", 1, state="building"),
             "c": cm.Node("c", 1, state="done")}
    assert core.batch_progress(nodes) == [{"batch": 1, "states": {"done": 1}},
                                          {"batch": 2, "states": {"building": 1, "done": 1}}]
