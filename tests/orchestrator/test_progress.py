"""Where a campaign stands, from its grouped counts (the pure core behind the API's
counts, tiers and ETA)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from discomy.orchestration import campaign as cm
from discomy.orchestration import progress as p
from discomy.orchestration.progress import Tally

STARTED = 1_000_000.0

tallies = st.lists(st.builds(
    Tally, tier=st.integers(0, 5), state=st.sampled_from(cm.NODE_STATES),
    failure_class=st.sampled_from([None, cm.PACKAGE, cm.INFRASTRUCTURE]),
    count=st.integers(1, 1000), max_remaining_seconds=st.floats(0, 1e6),
    last_update=st.floats(STARTED, STARTED + 1e6)), max_size=30)


@given(tallies)
def test_counts_per_state_and_per_tier_add_up_to_every_node(groups):
    counts = p.state_counts(groups)
    assert counts["total"] == sum(t.count for t in groups)
    assert set(cm.NODE_STATES) <= set(counts)
    tiers = p.tier_counts(groups)
    assert sum(t["total"] for t in tiers) == counts["total"]
    assert [t["tier"] for t in tiers] == sorted({g.tier for g in groups})
    assert sum(p.failure_counts(groups).values()) == counts[cm.FAILED]


@given(tallies, st.sampled_from([cm.RUNNING, cm.PAUSED, cm.FAILED]))
def test_the_eta_is_never_below_the_longest_open_chain(groups, state):
    eta = p.eta(groups, state, STARTED)
    open_ = [t for t in groups if t.state in p.OPEN]
    if open_:
        assert eta.seconds >= max(t.max_remaining_seconds for t in open_)
    elif eta.seconds is not None:
        assert eta.seconds == 0.0


def test_the_pace_so_far_sets_the_eta_when_it_is_slower_than_the_plan():
    # 10 done in the first hour, 30 open whose longest chain is 10 minutes
    groups = [Tally(0, cm.DONE, None, 10, 0.0, STARTED + 3600),
              Tally(1, cm.PLANNED, None, 30, 600.0, STARTED)]
    eta = p.eta(groups, cm.RUNNING, STARTED)
    assert eta.rate_seconds == 3 * 3600 and eta.seconds == 3 * 3600
    assert eta.critical_path_seconds == 600.0 and eta.basis == "the pace so far (10 done)"
    assert eta.to_dict(STARTED + 3600)["finish_at"] == STARTED + 4 * 3600


def test_a_campaign_waiting_for_fixes_has_no_eta_and_says_why():
    groups = [Tally(0, cm.DONE, None, 3, 0.0, STARTED + 60),
              Tally(1, cm.FAILED, cm.PACKAGE, 1, 100.0, STARTED + 60),
              Tally(2, cm.QUARANTINED, None, 2, 50.0, STARTED + 60)]
    eta = p.eta(groups, cm.FAILED, STARTED)
    assert eta.seconds is None and eta.basis == "3 nodes wait for a fix"
    assert p.eta(groups, cm.CANCELLED, STARTED).basis == "the campaign is cancelled"
