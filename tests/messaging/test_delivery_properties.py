"""Properties of the way in (hypothesis): whatever a broker hands over, the parsers raise
nothing but MessageError, what they accept can be stored, and the listeners' delivery
path, into the daemon's real handlers and store, raises nothing and settles every
message exactly once: acknowledged with its event stored, or rejected and kept.

The broker's side of a delivery is recorded by a small settlement ledger, shaped as
pika's channel and proton's blocking receiver settle messages (ack, reject, nack;
accept, reject, release); the real-broker paths are in test_poison_messages.py."""

from __future__ import annotations

import collections
import copy
import dataclasses
import json
import string
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from proton import Message

from discomy.orchestration.config import DEFAULTS
from discomy.orchestration.events import MessageError, parse_fedora_message, parse_protonmsg
from discomy.orchestration.listeners.amqp091 import Amqp091Listener, ListenerConfig
from discomy.orchestration.listeners.amqp10 import Amqp10Config, Amqp10Listener
from discomy.orchestration.daemon import Service

from samples import fedora_build, proton_build

# text as brokers can carry it: lone surrogates (JSON's escapes), NUL, any plane
any_text = st.text(st.characters(blacklist_categories=()), max_size=12)
names = st.sampled_from(["zlib", "el9", "1.3", "2.el9", "", "x" * 300]) | any_text
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | names,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=4),
    max_leaves=12)


def deep(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" +
                                                                "}" * depth)


# a real koji body with one field changed, so the parsers get past their first checks
fedora_bodies = st.builds(lambda base, key, value: {**base, key: value},
                          st.just(fedora_build()),
                          st.sampled_from(["name", "version", "release", "build_id", "new",
                                           "old", "task_id", "owner", "instance"]),
                          json_values)
tag_bodies = st.fixed_dictionaries({"tag": names, "name": names, "version": names,
                                    "release": names, "build_id": st.integers()})
bodies = st.one_of(
    fedora_bodies.map(json.dumps), tag_bodies.map(json.dumps), json_values.map(json.dumps),
    st.binary(max_size=40), any_text,
    st.builds(deep, st.sampled_from([10, 900, 5000, 100_000]), st.sampled_from(["list", "dict"])))
fedora_topics = st.sampled_from(["org.example.prod.buildsys.build.state.change",
                                 "buildsys.tag", "buildsys.untag", "buildsys.repo.done",
                                 "buildsys.task.state.change", "buildsys.rpm.sign"]) | any_text


def storable(event) -> bool:
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return False
            if "\0" in value:
                return False
    return True


@settings(max_examples=400, deadline=None)
@given(fedora_topics, bodies, st.one_of(st.just("m-1"), any_text, st.none()), st.booleans())
def test_fedora_messages_raise_only_message_error_and_what_parses_can_be_stored(
        topic, body, msg_id, validate):
    try:
        event = parse_fedora_message(topic, body, msg_id, validate=validate)
    except MessageError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 2000
        return
    assert storable(event)


protonmsg_properties = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["type", "new", "old", "tag", "repo_id", "id", "name",
                                     "version", "release", "method"]), json_values),
    st.just(proton_build()[2]),
    st.builds(lambda props, key, value: {**props, key: value}, st.just(proton_build()[2]),
              st.sampled_from(["name", "version", "release", "new"]), names))
protonmsg_bodies = st.one_of(
    bodies, json_values,
    st.builds(lambda info: json.dumps({"info": info}),
              st.fixed_dictionaries({"id": st.integers(), "name": names, "version": names,
                                     "release": names, "task_id": json_values})))
addresses = st.one_of(st.none(), st.sampled_from([
    "topic://koji.build.complete", "koji.repo.done", "koji.task.closed", "koji.build.tag",
    "/topic/koji.build.untag", "koji.nothing", ""]), any_text)


@settings(max_examples=400, deadline=None)
@given(addresses, protonmsg_bodies, protonmsg_properties, st.one_of(st.none(), any_text))
def test_protonmsg_messages_raise_only_message_error_and_what_parses_can_be_stored(
        address, body, properties, msg_id):
    try:
        event = parse_protonmsg(address, body, properties, msg_id)
    except MessageError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 2000
        return
    assert storable(event)


# -- the delivery path, into the daemon's handlers and store ----------------------------------

class Ledger:
    """Settlements as a broker records them; ``multiple`` settles every earlier tag."""

    def __init__(self):
        self.outcome: dict = {}      # delivery tag -> "ack" | "reject" | "requeue"
        self.open: set = set()

    def deliver(self, tag):
        self.open.add(tag)

    def _settle(self, tag, outcome, multiple=False):
        tags = sorted(t for t in self.open if t <= tag) if multiple else [tag]
        for t in tags:
            assert t in self.open, f"delivery {t} settled twice"
            self.open.discard(t)
            self.outcome[t] = outcome

    # pika's BlockingChannel
    def basic_ack(self, tag, multiple=False):
        self._settle(tag, "ack", multiple)

    def basic_reject(self, tag, requeue=True):
        self._settle(tag, "requeue" if requeue else "reject")

    def basic_nack(self, tag, multiple=False, requeue=True):
        self._settle(tag, "requeue" if requeue else "reject", multiple)


class Receiver:
    """proton's BlockingReceiver settles the message it handed over last."""

    def __init__(self, ledger, tag):
        self.ledger, self.tag = ledger, tag

    def accept(self):
        self.ledger._settle(self.tag, "ack")

    def reject(self):
        self.ledger._settle(self.tag, "reject")

    def release(self, delivered=True):
        self.ledger._settle(self.tag, "requeue")


OUTCOMES: collections.Counter = collections.Counter()


def stored_keys(service) -> set:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from discomy.orchestration.store import EventRow

    with Session(service.store.engine) as s:
        return set(s.scalars(select(EventRow.dedupe_key)))


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    config = copy.deepcopy(DEFAULTS)
    base = tmp_path_factory.mktemp("delivery")
    config["store"]["url"] = f"sqlite:///{base / 'store.sqlite'}"
    config["campaign"]["workdir"] = str(base / "work")
    return Service(config)


def amqp091_messages(draw_messages):
    out = []
    for tag, (topic, body, msg_id) in enumerate(draw_messages, start=1):
        method = SimpleNamespace(delivery_tag=tag, routing_key=topic)
        properties = SimpleNamespace(message_id=msg_id, headers={"x": msg_id},
                                     content_type="application/json")
        out.append((method, properties, body if isinstance(body, bytes) else
                    body.encode("utf-8", "surrogatepass")))
    return out


routing_keys = st.sampled_from(["buildsys.build.state.change", "buildsys.tag"]) | fedora_topics
message_ids = st.one_of(st.none(), st.uuids().map(str), st.text(string.printable, max_size=10))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(routing_keys, bodies, message_ids), min_size=1, max_size=8),
       st.booleans())
def test_every_amqp091_delivery_is_settled_once_and_kept_either_way(service, messages, batch):
    ledger = Ledger()
    listener = Amqp091Listener(ListenerConfig(batch=8), service.handle,
                               batch_handler=service.handle_batch,
                               on_reject=service.record_rejected)
    deliveries = amqp091_messages(messages)
    rejected_before = service.store.rejected_count()
    for method, _, _ in deliveries:
        ledger.deliver(method.delivery_tag)
    if batch:
        listener._deliver_batch(ledger, deliveries)
    else:
        for delivery in deliveries:
            listener._deliver(ledger, *delivery)
    assert not ledger.open, "a delivery was left unsettled"
    assert set(ledger.outcome.values()) <= {"ack", "reject"}      # the store is up
    rejected = sum(o == "reject" for o in ledger.outcome.values())
    assert service.store.rejected_count() - rejected_before == rejected
    assert listener.stats.acked + listener.stats.rejected == len(deliveries)
    acked = [parse_fedora_message(m.routing_key, body, p.message_id or
                                  f"amqp:{m.routing_key}:{m.delivery_tag}").dedupe_key
             for m, p, body in deliveries if ledger.outcome[m.delivery_tag] == "ack"]
    assert set(acked) <= stored_keys(service)
    OUTCOMES.update(ledger.outcome.values())


def koji_protonmsg(build_id, key, value, msg_id):
    """A build message as koji's protonmsg sends it, with one property changed."""
    address, body, props = proton_build(build_id=build_id)
    return address, body, {**props, key: value} if key else props, msg_id


# proton hands a Message's address to C as UTF-8 at once: a lone surrogate cannot be sent
wire_addresses = addresses.filter(
    lambda a: a is None or not any(0xD800 <= ord(c) <= 0xDFFF for c in a))
proton_messages = st.one_of(
    st.tuples(wire_addresses, protonmsg_bodies, protonmsg_properties,
              st.one_of(st.none(), st.uuids().map(str))),
    st.builds(koji_protonmsg, st.integers(1, 10**6),
              st.sampled_from([None, "name", "version", "release", "new", "old"]), names,
              st.one_of(st.none(), st.uuids().map(str))))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(proton_messages, min_size=1, max_size=6))
def test_every_protonmsg_delivery_is_settled_once_and_kept_either_way(service, messages):
    ledger = Ledger()
    listener = Amqp10Listener(Amqp10Config(), service.handle, on_reject=service.record_rejected)
    rejected_before = service.store.rejected_count()
    for tag, (address, body, properties, msg_id) in enumerate(messages, start=1):
        ledger.deliver(tag)
        message = Message(body=body, properties=properties, address=address, id=msg_id)
        listener._deliver(Receiver(ledger, tag), message)
    assert not ledger.open
    assert set(ledger.outcome.values()) <= {"ack", "reject"}
    rejected = sum(o == "reject" for o in ledger.outcome.values())
    assert service.store.rejected_count() - rejected_before == rejected
    OUTCOMES.update(f"protonmsg {o}" for o in ledger.outcome.values())


def test_the_generated_deliveries_were_both_taken_and_rejected():
    """The two properties above ran over messages of both fates (run with them)."""
    if not OUTCOMES:
        pytest.skip("run with the delivery properties")
    assert {"ack", "reject", "protonmsg ack", "protonmsg reject"} <= set(OUTCOMES)
