"""koji messages become typed events; anything malformed is a MessageError, never a crash."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from discomy.orchestration.events import (BuildStateChanged, MessageError, RepoDone, Tagged, TaskStateChanged,
                            parse_fedora_message, parse_protonmsg)

from samples import fedora_build, fedora_repo_done, proton_build


def test_fedora_build_state_change_is_validated_against_the_published_schema():
    event = parse_fedora_message("org.fedoraproject.prod.buildsys.build.state.change",
                                 fedora_build(), "m-1")
    assert event == BuildStateChanged("m-1", 101, "zlib", "1.3", "2.el9", 0, 1, 555, "packager")
    assert event.nvr == "zlib-1.3-2.el9" and event.state == "COMPLETE"
    assert event.dedupe_key == "build:101:1"


def test_fedora_repo_done_tag_and_task_messages():
    assert parse_fedora_message("buildsys.repo.done", fedora_repo_done(), "m-2") == \
        RepoDone("m-2", "el9-build", 7)
    tag = parse_fedora_message("buildsys.tag", {
        "tag": "el9-build", "name": "zlib", "version": "1.3", "release": "2.el9",
        "build_id": 101, "user": "kojiadmin", "owner": "packager", "instance": "primary",
        "tag_id": 3}, "m-3", validate=False)
    assert tag == Tagged("m-3", "el9-build", "zlib", "1.3", "2.el9", "tag", 101)
    task = parse_fedora_message("buildsys.task.state.change",
                                {"id": 9, "method": "buildArch", "old": "OPEN", "new": "CLOSED"},
                                "m-4", validate=False)
    assert task == TaskStateChanged("m-4", 9, "buildArch", 1, 2)


def test_the_same_transition_from_both_protocols_has_one_dedupe_key():
    fedora = parse_fedora_message("buildsys.build.state.change", fedora_build(), "m-1")
    proton = parse_protonmsg(*proton_build())
    assert proton.dedupe_key == fedora.dedupe_key
    assert proton.nvr == fedora.nvr and proton.new == 1 and proton.old == 0


def test_protonmsg_repo_done_and_untag():
    repo = parse_protonmsg("topic://koji.repo.done", "{}",
                           {"type": "RepoDone", "tag": "el9-build", "repo_id": 8, "task_id": 1})
    assert repo.dedupe_key == "repo:el9-build:8"
    untag = parse_protonmsg("koji.build.untag", json.dumps({"build": {"id": 5}}),
                            {"tag": "el9", "name": "a", "version": "1", "release": "1",
                             "user": "x"})
    assert untag.action == "untag" and untag.build_id == 5


@pytest.mark.parametrize("topic, body, message", [
    ("buildsys.build.state.change", {**fedora_build(), "new": 9}, "schema|not a koji state"),
    ("buildsys.build.state.change", {"name": "zlib"}, "schema"),
    ("buildsys.build.state.change", "not json", "not JSON"),
    ("buildsys.build.state.change", [1, 2], "JSON object"),
    ("buildsys.rpm.sign", {}, "not a koji topic"),
])
def test_malformed_fedora_messages_are_refused_with_a_reason(topic, body, message):
    with pytest.raises(MessageError, match=message):
        parse_fedora_message(topic, body, "m-9")


def test_forged_protonmsg_whose_address_and_state_disagree_is_refused():
    address, body, props = proton_build(state="COMPLETE")
    props = {**props, "new": "FAILED"}
    with pytest.raises(MessageError, match="address says build.complete"):
        parse_protonmsg(address, body, props)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=15)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["buildsys.build.state.change", "buildsys.tag", "buildsys.repo.done",
                        "buildsys.task.state.change", "x.y"]),
       st.one_of(json_values, st.text(max_size=30), st.binary(max_size=30)),
       st.booleans())
def test_arbitrary_fedora_bodies_only_ever_raise_message_error(topic, body, validate):
    try:
        parse_fedora_message(topic, body, "fuzz", validate=validate)
    except MessageError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["topic://koji.build.complete", "koji.repo.done", "koji.task.closed",
                        "koji.build.tag", "koji.nothing"]),
       st.one_of(json_values, st.text(max_size=30)),
       st.one_of(st.none(), st.dictionaries(st.sampled_from(
           ["new", "old", "tag", "repo_id", "id", "name", "version", "release"]), json_values)))
def test_arbitrary_protonmsg_messages_only_ever_raise_message_error(address, body, props):
    try:
        parse_protonmsg(address, body, props)
    except MessageError:
        pass


def test_protonmsg_without_an_address_is_read_from_its_properties():
    _, body, props = proton_build(build_id=8)
    assert parse_protonmsg(None, body, props).dedupe_key == "build:8:1"
    repo = parse_protonmsg("", "{}", {"type": "RepoDone", "tag": "t", "repo_id": 2})
    assert repo.dedupe_key == "repo:t:2"


def test_schema_validation_refuses_what_only_the_published_schema_forbids():
    body = {**fedora_build(), "instance": 7}       # koji's instance name is a string
    with pytest.raises(MessageError, match="schema: 7 is not of type 'string'"):
        parse_fedora_message("buildsys.build.state.change", body, "m-9")
    assert parse_fedora_message("buildsys.build.state.change", body, "m-9", validate=False).build_id == 101
