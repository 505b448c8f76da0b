"""The store on SQLite and on a real PostgreSQL: migrations, durability, dedupe, claims."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from discomy.orchestration import campaign as cm
from discomy.orchestration.migrations import current_revision
from discomy.orchestration.store import Base, Store

@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'discomy.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


def nodes():
    return [cm.Node("parsekit", 0, (), 400.0), cm.Node("alpha", 1, ("parsekit",), 300.0),
            cm.Node("beta", 2, ("alpha",), 200.0), cm.Node("other", 0, (), 50.0)]


@dataclass(frozen=True)
class Event:
    dedupe_key: str
    msg_id: str
    nvr: str = "corelib-1.3-1.el9"


def test_the_shipped_migrations_create_exactly_the_models(store_url):
    store = Store(store_url)
    assert current_revision(store.engine) == "0011"
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert {"campaigns", "nodes", "edges", "events", "notifications", "rejected_messages",
            "module_builds", "module_components"} <= set(
        inspect(store.engine).get_table_names())


def test_reopening_a_store_keeps_every_committed_transition(store_url):
    store = Store(store_url)
    cid = store.create_campaign(["corelib"], "per-edge", "local", nodes())
    done = replace(store.nodes(cid)["parsekit"], state=cm.DONE, attempts=1,
                   nvr="parsekit-2.0-1.el9.discomy1", task="1042")
    store.update_nodes(cid, {"parsekit": done})
    store.engine.dispose()
    again = Store(store_url)                          # a restart: migrations are a no-op now
    assert again.nodes(cid)["parsekit"].state == cm.DONE
    assert again.node_row(cid, "parsekit").nvr == "parsekit-2.0-1.el9.discomy1"
    assert again.nodes(cid)["parsekit"].task == "1042"
    assert again.nodes(cid)["alpha"].deps == ("parsekit",)
    assert again.campaign(cid).release == "per-edge"


def test_an_event_is_stored_once_by_its_dedupe_key(store_url):
    store = Store(store_url)
    assert store.record_event(Event("build:42:COMPLETE", "m1")) is True
    assert store.record_event(Event("build:42:COMPLETE", "m2-replay")) is False
    assert store.record_event(Event("build:43:COMPLETE", "m3")) is True
    with Session(store.engine) as s:
        assert s.execute(text("SELECT count(*) FROM events")).scalar() == 2


def test_a_batch_of_events_is_stored_once_and_says_which_were_new(store_url):
    store = Store(store_url)
    assert store.record_event(Event("build:42:COMPLETE", "m1"))
    batch = [Event("build:42:COMPLETE", "m1-replay"), Event("build:43:COMPLETE", "m2"),
             Event("build:43:COMPLETE", "m2-twice"), Event("tag:el9:x-1-1", "m3")]
    assert store.record_events(batch) == {"build:43:COMPLETE", "tag:el9:x-1-1"}
    assert store.record_events(batch) == set()
    store.forget_event("tag:el9:x-1-1")
    assert store.record_events(batch) == {"tag:el9:x-1-1"}


def test_the_daemon_finds_failed_packages_and_live_campaigns_by_name(store_url):
    from dataclasses import replace

    store = Store(store_url)
    live = store.create_campaign(["corelib"], "per-tier", "koji", nodes(), target="el9-candidate")
    other = store.create_campaign(["zlib"], "per-tier", "koji", nodes(), target="el8-candidate")
    for cid in (live, other):
        alpha = store.nodes(cid)["alpha"]
        store.update_nodes(cid, {"alpha": replace(alpha, state="failed", nvr="alpha-1-1")})
    store.set_campaign_state(other, "cancelled")
    assert [(row.id, nvr) for row, nvr in store.failed_in_live_campaigns("alpha")] == \
        [(live, "alpha-1-1")]
    assert store.failed_in_live_campaigns("parsekit") == []
    assert store.live_campaign_for("corelib", "el9-candidate") == live
    assert store.live_campaign_for("corelib", "el8-candidate") is None
    assert store.live_campaign_for("zlib", "el8-candidate") is None      # cancelled
    assert store.node_states()["failed"] == 1
    assert store.failed_names(live) == store.failed_names(other) == ["alpha"]


def test_a_node_is_claimed_once_even_when_claimed_twice(store_url):
    store = Store(store_url)
    cid = store.create_campaign(["corelib"], "per-tier", "local", nodes())
    assert sorted(store.claim(cid, ["parsekit", "other"])) == ["other", "parsekit"]
    assert store.claim(cid, ["parsekit", "other"]) == []
    row = store.node_row(cid, "parsekit")
    # the intent: building, with no task until the submission is known
    assert (row.state, row.attempts, row.submission) == ("building", 1, None)


def test_postgresql_claims_skip_rows_another_engine_holds(fresh_postgres_url):
    url = fresh_postgres_url
    store = Store(url)
    cid = store.create_campaign(["corelib"], "per-edge", "local", nodes())
    other_engine = create_engine(url)
    with Session(other_engine) as held, held.begin():
        # another engine is claiming parsekit right now: its row is locked
        held.execute(text("SELECT id FROM nodes WHERE name = 'parsekit' FOR UPDATE"))
        won = store.claim(cid, ["parsekit", "other"])
        assert won == ["other"]
    assert store.node_row(cid, "parsekit").state == "planned"


def test_a_database_of_the_first_schema_is_upgraded_with_its_campaigns_kept(store_url):
    from discomy.orchestration.migrations import upgrade

    engine = create_engine(store_url)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO campaigns (changed, target, release, backend, state, "
                          "created_at) VALUES ('corelib', 'local', 'per-tier', 'local', "
                          "'running', 0)"))
    engine.dispose()
    store = Store(store_url)                          # upgrades to the newest schema
    assert current_revision(store.engine) == "0011"
    (row,) = store.campaigns()
    assert row.changed == "corelib" and row.source_repos == [] and row.workdir is None


def test_a_rejected_message_is_kept_whatever_its_body_and_names_hold(store_url):
    from discomy.orchestration.listeners import Rejected
    from discomy.orchestration.store import MAX_BODY

    store = Store(store_url)
    bodies = [b"\x00\xff not text", "a lone \udcff and a NUL \x00",
              {"deep": [[[[[[[[[[1]]]]]]]]]]}, b"[" * (MAX_BODY + 10)]
    for body in bodies:
        store.record_rejected(Rejected("amqp10", "koji.build.\udcff\x00", "m-\x00",
                                       body, {"h": b"\x00", "n": [1.5]},
                                       "why \udcff\x00", "malformed"))
    rows = store.rejected()
    assert [r.size for r in rows][::-1] == [11, 22, 31, MAX_BODY + 10]
    big, deep, text, binary = rows
    assert binary.body == b"\x00\xff not text"
    assert text.body.decode("utf-8", "surrogatepass") == "a lone \udcff and a NUL \x00"
    assert deep.body == b'{"deep": [[[[[[[[[[1]]]]]]]]]]}'
    assert big.body == b"[" * MAX_BODY
    assert big.topic == "koji.build.\\udcff\\x00" and big.msg_id == "m-\\x00"
    assert store.rejected_count() == 4 and len(store.rejected(limit=1)) == 1


def test_a_value_the_database_refuses_is_the_data_and_a_stopped_server_is_the_store(
        postgres_server):
    from discomy.orchestration.events import Tagged
    from discomy.orchestration.store import unavailable

    store = Store(postgres_server.url)
    too_long = Tagged("m-1", "el9", "x" * 300, "1", "1.el9", "tag")   # dedupe key > 255
    with pytest.raises(Exception) as refused:
        store.record_events([too_long])
    assert not unavailable(refused.value)
    postgres_server.stop()
    with pytest.raises(Exception) as away:
        store.campaigns()
    assert unavailable(away.value)
    postgres_server.start()
    assert store.campaigns() == []          # the pool's connections are tested, not reused dead


def test_a_webhook_delivery_is_kept_once_per_forge_and_a_build_keeps_its_states(store_url):
    store = Store(store_url)
    hooks = store.webhooks
    first = hooks.record_delivery("github", "d-1", "acme/corelib", "push")
    assert first is not None
    assert hooks.record_delivery("github", "d-1", "acme/corelib", "push") is None
    assert hooks.record_delivery("gitlab", "d-1", "acme/corelib", "Push Hook") is not None
    build = hooks.add_build(first, "github", "acme/corelib", "main", "a" * 40, "ci", "local", "")
    hooks.update_build(build, state="submitted", task="42", reason="x" * 10000)
    again = Store(store_url).webhooks.build(build)
    assert (again.state, again.task, len(again.reason)) == ("submitted", "42", 4000)
    assert [r.id for r in hooks.builds(states=("submitted",))] == [build]
    hooks.forget_delivery(first)
    assert hooks.record_delivery("github", "d-1", "acme/corelib", "push") is not None
