"""What the API reads and writes in the store, on SQLite and a real PostgreSQL: pages of
campaigns and nodes with their filters, grouped counts, one node's links, and tokens
kept as digests."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from discomy.orchestration import campaign as cm
from discomy.orchestration.campaign import Node
from discomy.orchestration.store import Store
from discomy.web import tokens

CHAIN = [Node("lib", 0, (), 300.0), Node("app", 1, ("lib",), 100.0),
         Node("tool", 1, ("lib",), 50.0), Node("suite", 2, ("app", "tool"), 10.0)]


def test_a_token_is_kept_as_its_digest_and_a_revoked_one_is_refused(any_store_url):
    store = Store(any_store_url)
    token, digest = tokens.new_token()
    store.add_token("ci-bot", digest)
    with store.engine.connect() as c:
        kept = c.execute(text("SELECT name, digest FROM api_tokens")).all()
    assert kept == [("ci-bot", digest)] and token not in str(kept) and digest != token
    assert store.token_by_digest(tokens.digest(token))[1] == "ci-bot"
    with pytest.raises(ValueError, match="already a token named ci-bot"):
        store.add_token("ci-bot", tokens.new_token()[1])
    store.revoke_token("ci-bot")
    assert store.token_by_digest(digest) is None
    with pytest.raises(KeyError):
        store.revoke_token("ci-bot")
    store.add_token("ci-bot", tokens.new_token()[1])        # the name is free again
    assert [r.revoked_at is None for r in store.tokens(revoked=True)] == [False, True]


def test_campaign_pages_filter_newest_first_and_a_package_name_is_matched_whole(any_store_url):
    store = Store(any_store_url)
    for changed, backend, target in ((["zlib"], "local", "local"),
                                     (["lib_x"], "koji", "el9-candidate"),
                                     (["libaxb", "zlib"], "koji", "el9-candidate")):
        store.create_campaign(changed, "per-tier", backend, CHAIN, target=target)
    store.set_campaign_state(1, cm.DONE)
    rows, total = store.campaign_page(2)
    assert [r.id for r in rows] == [3, 2] and total == 3
    assert [r.id for r in store.campaign_page(2, offset=2)[0]] == [1]
    assert [r.id for r in store.campaign_page(10, package="zlib")[0]] == [3, 1]
    # "_" is a wildcard of SQL's LIKE: lib_x must not find libaxb
    assert [r.id for r in store.campaign_page(10, package="lib_x")[0]] == [2]
    assert [r.id for r in store.campaign_page(10, package="lib")[0]] == []
    assert [r.id for r in store.campaign_page(10, state="running", backend="koji")[0]] == [3, 2]
    assert store.campaign_page(10, target="nosuch") == ([], 0)


def test_tallies_count_a_campaign_by_state_and_tier_with_its_longest_open_chain(any_store_url):
    store = Store(any_store_url)
    cid = store.create_campaign(["zlib"], "per-tier", "local", CHAIN)
    other = store.create_campaign(["zlib"], "per-tier", "local", CHAIN[:1])
    store.update_nodes(cid, {"lib": replace(store.nodes(cid)["lib"], state=cm.DONE)})
    by_state = {(t.state, t.count) for t in store.tallies([cid, other])[cid]}
    assert by_state == {(cm.DONE, 1), (cm.PLANNED, 3)}
    tiers = sorted((t.tier, t.state, t.count, t.max_remaining_seconds)
                   for t in store.tallies([cid], by_tier=True)[cid])
    assert tiers == [(0, cm.DONE, 1, 300.0), (1, cm.PLANNED, 2, 100.0), (2, cm.PLANNED, 1, 10.0)]
    assert [t.count for t in store.tallies([other])[other]] == [1]


def test_node_pages_go_in_tier_and_name_order_and_a_node_knows_its_links(any_store_url):
    store = Store(any_store_url)
    cid = store.create_campaign(["zlib"], "per-tier", "local", CHAIN)
    page, total = store.node_page(cid, 2, offset=1)
    assert [n["name"] for n in page] == ["app", "tool"] and total == 4
    assert set(page[0]) >= {"name", "tier", "state", "task", "log", "reason", "updated_at"}
    assert [n["name"] for n in store.node_page(cid, 10, tier=1)[0]] == ["app", "tool"]
    assert [n["name"] for n in store.node_page(cid, 10, name="s")[0]] == ["suite"]
    assert store.node_page(cid, 10, name="%")[1] == 0          # a prefix, not a pattern
    node, deps, dependents = store.node_links(cid, "app")
    assert (node["name"], deps, dependents) == ("app", ["lib"], ["suite"])
    assert store.node_links(cid, "nosuch") is None


def test_an_sqlite_reader_goes_on_while_the_daemon_holds_a_write(tmp_path):
    import sqlite3
    import time

    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store = Store(url)
    cid = store.create_campaign(["zlib"], "per-tier", "local", CHAIN)
    daemon = sqlite3.connect(tmp_path / "state.sqlite", timeout=0)
    daemon.execute("BEGIN EXCLUSIVE")               # what a commit holds
    daemon.execute("UPDATE nodes SET state = 'building' WHERE name = 'lib'")
    started = time.monotonic()
    page, total = Store(url).node_page(cid, 10)      # as another process would read
    assert time.monotonic() - started < 2.0 and total == 4
    assert page[0]["state"] == "planned"                # the write is not committed yet
    daemon.commit()
    assert store.node_page(cid, 1)[0][0]["state"] == "building"


def test_a_page_past_a_node_continues_in_tier_and_name_order(any_store_url):
    store = Store(any_store_url)
    cid = store.create_campaign(["zlib"], "per-tier", "local", CHAIN)
    page, total = store.node_page(cid, 2, after="app")
    assert [n["name"] for n in page] == ["tool", "suite"] and total == 4
    assert [n["name"] for n in store.node_page(cid, 10, tier=1, after="app")[0]] == ["tool"]
    with pytest.raises(KeyError, match="nosuch is not part of campaign"):
        store.node_page(cid, 2, after="nosuch")
