"""The dashboard's pure parts: SVG charts, what a page shows (views) and the session
cookie's signature."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from discomy.orchestration import campaign as cm
from discomy.web import charts, session, views

HOSTILE = "<script>alert(1)</script>"
SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)           # well-formed XML, or this raises


def rects(svg: str, cls: str = None) -> list:
    return [r for r in parsed(svg).iter(f"{SVG}rect") if cls is None or r.get("class") == cls]


# -- charts ----------------------------------------------------------------------------------
def test_a_progress_bar_gives_each_group_its_share_of_the_width():
    svg = charts.progress_bar({"done": 3, "failed": 1, "running": 0}, width=240)
    assert float(rects(svg, "seg-done")[0].get("width")) == 180
    assert float(rects(svg, "seg-failed")[0].get("width")) == 60
    assert rects(svg, "seg-running") == []
    assert "3 done, 0 running, 1 failed" in parsed(svg).get("aria-label")


def test_an_empty_progress_bar_is_drawn_and_says_so():
    svg = charts.progress_bar({})
    assert [r.get("class") for r in rects(svg)] == [None]
    assert parsed(svg).get("aria-label") == "no nodes"


@pytest.mark.parametrize("draw", [
    lambda: charts.stacked_columns(HOSTILE, [HOSTILE, "b"], {HOSTILE: [1, 2]}, unit=HOSTILE),
    lambda: charts.horizontal_bars(HOSTILE, [(HOSTILE, 1.0, 2.0)], HOSTILE, names=(HOSTILE,)),
    lambda: charts.line_chart(HOSTILE, [(0, 1), (60, 2)], HOSTILE),
    lambda: charts.timeline(HOSTILE, [{"label": HOSTILE, "planned": (0, 10),
                                       "actual": (1, None), "critical": True}], now_offset=5),
    lambda: charts.progress_bar({"done": 1}),
])
def test_every_text_from_data_is_escaped_and_the_svg_is_well_formed(draw):
    svg = draw()
    parsed(svg)
    assert "<script" not in svg
    if "alert" in svg:
        assert "&lt;script&gt;" in svg


def test_stacked_columns_stack_the_series_and_scale_to_a_round_top():
    svg = charts.stacked_columns("builds", ["a", "b"], {"done": [30, 10], "failed": [10, 0]},
                                 height=220)
    bars = [r for r in rects(svg) if r.find(f"{SVG}title") is not None]
    heights = [float(r.get("height")) for r in bars]
    plot = 220 - 28 - 34
    # the axis goes up to the largest column (40) in four round, whole steps
    assert heights == pytest.approx([plot * 30 / 40, plot * 10 / 40, plot * 10 / 40], abs=0.1)
    texts = [t.text for t in parsed(svg).iter(f"{SVG}text")]
    assert ["0", "10", "20", "30", "40"] == texts[1:6]


@pytest.mark.parametrize("value, top", [(0, 4), (2, 4), (5, 8), (40, 40), (41, 60), (130, 160), (1001, 1200)])
def test_a_count_axis_has_four_whole_steps(value, top):
    assert charts.count_ceiling(value) == top


@pytest.mark.parametrize("value, top", [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20), (230, 250),
                                        (0.3, 0.5), (1001, 2000)])
def test_an_axis_top_is_a_round_number_at_least_the_value(value, top):
    assert charts.nice_ceiling(value) == pytest.approx(top)


@pytest.mark.parametrize("seconds, text", [(None, "-"), (0, "0s"), (59, "59s"), (61, "1m 1s"),
                                           (600, "10m"), (3725, "1h 2m"), (7200, "2h"),
                                           (3 * 86400 + 3600, "3d 1h")])
def test_a_duration_reads_as_people_write_it(seconds, text):
    assert charts.duration(seconds) == text


def test_a_line_chart_without_samples_says_so():
    assert "no samples yet" in charts.line_chart("queue", [])
    assert "one sample so far" in charts.line_chart("queue", [(0, 3)])
    svg = charts.line_chart("queue", [(0, 0), (60, 4), (120, 2)], now=120)
    line = next(parsed(svg).iter(f"{SVG}polyline"))
    assert len(line.get("points").split()) == 3


def test_a_timeline_draws_an_open_actual_bar_to_now_and_a_late_one_red():
    rows = [{"label": "tier 0", "planned": (0, 100), "actual": (0, 300), "late": True},
            {"label": "tier 1", "planned": (100, 200), "actual": (150, None)}]
    svg = charts.timeline("t", rows, now_offset=400, width=486)   # 400 px of plot
    actual = rects(svg, "actual")
    assert [a.get("fill") for a in actual] == ["#c53030", "#2b6cb0"]
    assert float(actual[1].get("width")) == pytest.approx(250)    # 150 s to now (400 s)


def test_a_load_bar_turns_red_above_capacity():
    over = rects(charts.load_bar(12, 10))[1]
    under = rects(charts.load_bar(5, 10, width=100))[1]
    assert over.get("fill") == charts.GROUP_COLOURS["failed"]
    assert float(under.get("width")) == 50


# -- views -----------------------------------------------------------------------------------
def test_node_states_fall_into_the_five_groups_people_read():
    counts = {cm.DONE: 5, cm.BUILDING: 1, cm.WAITING_REPO: 2, cm.GATING: 1, cm.FAILED: 3,
              cm.QUARANTINED: 4, cm.PLANNED: 6, cm.WAITING_DEPS: 7, "total": 29}
    assert views.groups(counts) == {"done": 5, "running": 4, "failed": 3, "quarantined": 4,
                                    "waiting": 13}


def node(state, **kw):
    return {"name": "x", "tier": 0, "state": state, "task": None, "repo_wait": None,
            "reason": "", **kw}


def test_a_waiting_node_names_the_dependencies_it_waits_for_and_those_that_need_a_fix():
    deps = [("a", cm.BUILDING), ("b", cm.FAILED), ("c", cm.PLANNED), ("d", cm.QUARANTINED),
            ("e", cm.PLANNED)]
    why = views.why_waiting(node(cm.WAITING_DEPS), deps, cm.RUNNING, "koji", cm.PER_EDGE)
    assert why.startswith("waits for 5 dependencies: a (building), b (failed), c (planned)")
    assert "and 1 more" in why and "2 of them need a fix first" in why


@pytest.mark.parametrize("state, backend, release, campaign_state, says", [
    (cm.WAITING_DEPS, "local", cm.PER_TIER, cm.RUNNING, "waits for tier 1 to settle"),
    (cm.PLANNED, "local", cm.PER_TIER, cm.RUNNING, "waits for tier 1 to settle"),
    (cm.PLANNED, "local", cm.PER_EDGE, cm.RUNNING, "ready: waits for a build slot"),
    (cm.PLANNED, "koji", cm.PER_EDGE, cm.RUNNING, "koji's load"),
    (cm.PLANNED, "koji", cm.PER_TIER, cm.PAUSED, "paused"),
    (cm.WAITING_REPO, "koji", cm.PER_TIER, cm.RUNNING, "request 42"),
    (cm.GATING, "koji", cm.PER_TIER, cm.RUNNING, "CI gate"),
    (cm.BUILDING, "koji", cm.PER_TIER, cm.RUNNING, "task 7"),
])
def test_why_a_node_waits_follows_its_state(state, backend, release, campaign_state, says):
    n = node(state, task="7", repo_wait="42", tier=3)
    assert says in views.why_waiting(n, [], campaign_state, backend, release, unsettled_tier=1)


def test_per_tier_the_first_tier_not_settled_holds_the_later_ones():
    tiers = [{"tier": 0, "counts": {cm.DONE: 2, cm.FAILED: 1}},
             {"tier": 1, "counts": {cm.DONE: 1, cm.BUILDING: 1}},
             {"tier": 2, "counts": {cm.PLANNED: 3}}]
    assert views.first_unsettled_tier(tiers) == 1
    assert views.first_unsettled_tier(tiers[:1]) is None
    n = node(cm.PLANNED, tier=1)
    assert views.why_waiting(n, [], cm.RUNNING, "local", cm.PER_TIER, 1).startswith("ready")


def test_planned_tiers_start_when_their_longest_chain_must():
    assert views.planned_tiers({0: 300.0, 1: 200.0, 2: 60.0}) == {
        0: (0.0, 100.0), 1: (100.0, 240.0), 2: (240.0, 300.0)}
    assert views.planned_tiers({}) == {}


def test_a_tier_that_ended_well_past_its_plan_is_late_and_an_open_one_has_no_end():
    rows = views.timeline_rows({0: 300.0, 1: 200.0}, {0: (1000.0, 1500.0, 3), 1: (1400.0, 1450.0, 1)},
                               {0: 3, 1: 2}, {0: 3, 1: 1}, 1000.0, critical_tiers=[1])
    assert rows[0]["actual"] == (0.0, 500.0) and rows[0]["late"]
    assert rows[1]["actual"] == (400.0, None) and not rows[1]["late"] and rows[1]["critical"]


def test_hourly_series_fill_every_hour_and_split_failures_by_class():
    rows = [(10, cm.DONE, None, 4), (12, cm.FAILED, cm.INFRASTRUCTURE, 1),
            (12, cm.FAILED, None, 2), (99, cm.DONE, None, 7)]
    hours, builds, classes = views.hourly_series(rows, 10, 12)
    assert hours == [10, 11, 12]
    assert builds == {"done": [4, 0, 0], "failed": [0, 0, 3]}
    assert classes == {"infrastructure": [0, 0, 1], "package": [0, 0, 2]}


def test_the_actual_time_of_a_running_campaign_is_so_far_plus_its_eta():
    rows = [{"id": 1, "label": "a", "state": cm.DONE, "created_at": 0.0, "last_update": 7200.0,
             "planned_seconds": 3600.0},
            {"id": 2, "label": "b", "state": cm.RUNNING, "created_at": 0.0,
             "last_update": 100.0, "planned_seconds": 3600.0, "eta_seconds": 1800.0}]
    assert views.estimate_against_actual(rows, now=3600.0) == [
        ("#1 a", 1.0, 2.0), ("#2 b", 1.0, 1.5)]


# -- the session cookie ------------------------------------------------------------------------
def test_a_session_cookie_reads_back_only_with_its_secret_unaltered_and_in_time():
    secret = b"s" * 32
    value, made = session.make_cookie(secret, "ab" * 32, "release-bot", now=1000.0)
    assert session.read_cookie(secret, value, now=1001.0) == made
    assert session.read_cookie(b"t" * 32, value, now=1001.0) is None
    body, signature = value.split(".")
    assert session.read_cookie(secret, body[:-2] + "xx." + signature, now=1001.0) is None
    assert session.read_cookie(secret, value, now=1000.0 + session.LIFETIME_SECONDS + 1) is None
    for junk in (None, "", "no-dot", "a.b.c", "!!!.???", "x" * 5000):
        assert session.read_cookie(secret, junk) is None


@pytest.mark.parametrize("origin, referer, host, same", [
    ("http://dash:8080", None, "dash:8080", True),
    ("https://dash:8080", None, "dash:8080", True),       # behind a TLS front end
    ("http://evil:8080", None, "dash:8080", False),
    ("http://dash:8081", None, "dash:8080", False),
    (None, "http://dash:8080/campaigns/1", "dash:8080", True),
    ("null", "http://evil/", "dash:8080", False),
    (None, None, "dash:8080", False),
    ("http://[::1", None, "dash:8080", False),
])
def test_an_action_must_come_from_a_page_of_this_server(origin, referer, host, same):
    assert session.same_origin(origin, referer, host) is same


def test_a_secret_file_too_short_or_missing_is_one_clear_error(tmp_path):
    short = tmp_path / "secret"
    short.write_text("abc\n")
    with pytest.raises(session.SecretError, match="fewer than 16 bytes"):
        session.load_secret(str(short))
    with pytest.raises(session.SecretError, match="No such file"):
        session.load_secret(str(tmp_path / "missing"))
    short.write_text("x" * 40)
    assert session.load_secret(str(short)) == b"x" * 40
    assert session.load_secret("") != session.load_secret("")    # random per process
