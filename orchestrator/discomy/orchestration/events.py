"""koji's messages as typed events (pure core).

Two wire formats reach the orchestrator:

- **fedora-messaging** (AMQP 0-9-1), as sent by koji-fedoramessaging, with the
  schemas of the ``koji-fedoramessaging-messages`` package: topics
  ``[<prefix>.]buildsys.build.state.change``, ``buildsys.tag``, ``buildsys.untag``,
  ``buildsys.repo.done``, ``buildsys.task.state.change``;
- **protonmsg** (AMQP 1.0), upstream koji's hub plugin: addresses
  ``[topic://]<prefix>.build.<state>``, ``task.<state>``, ``repo.done``,
  ``build.tag``, ``build.untag``, with the facts in the message properties and the
  callback's arguments as a JSON body.

Both become the same frozen events. Anything malformed or forged raises
:class:`MessageError` with one sentence; nothing else escapes the parsers.
Every event has a :attr:`dedupe_key` naming the koji transition, so the same
change seen twice (two protocols, a replay, the reconciler) is stored once.
"""

from __future__ import annotations

import functools
import json
import reprlib
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

BUILD_STATES = {0: "BUILDING", 1: "COMPLETE", 2: "DELETED", 3: "FAILED", 4: "CANCELED"}
BUILD_STATE_IDS = {name: num for num, name in BUILD_STATES.items()}
TASK_STATES = {0: "FREE", 1: "OPEN", 2: "CLOSED", 3: "CANCELED", 4: "ASSIGNED", 5: "FAILED"}
TASK_STATE_IDS = {name: num for num, name in TASK_STATES.items()}


class MessageError(ValueError):
    """A message that cannot be a koji event: wrong topic, missing or ill-typed fields."""


# a field's value in an error sentence: short, and safe on any nesting depth
_shown = reprlib.Repr()
_shown.maxstring, _shown.maxother, _shown.maxlevel = 60, 60, 3


@dataclass(frozen=True)
class BuildStateChanged:
    msg_id: str
    build_id: int
    name: str
    version: str
    release: str
    old: Optional[int]
    new: int
    task_id: Optional[int] = None
    owner: Optional[str] = None

    @property
    def nvr(self) -> str:
        return f"{self.name}-{self.version}-{self.release}"

    @property
    def state(self) -> str:
        return BUILD_STATES[self.new]

    @property
    def dedupe_key(self) -> str:
        return f"build:{self.build_id}:{self.new}"


@dataclass(frozen=True)
class RepoDone:
    msg_id: str
    tag: str
    repo_id: int

    @property
    def dedupe_key(self) -> str:
        return f"repo:{self.tag}:{self.repo_id}"


@dataclass(frozen=True)
class Tagged:
    msg_id: str
    tag: str
    name: str
    version: str
    release: str
    action: str                  # "tag" or "untag"
    build_id: Optional[int] = None

    @property
    def nvr(self) -> str:
        return f"{self.name}-{self.version}-{self.release}"

    @property
    def dedupe_key(self) -> str:
        return f"{self.action}:{self.tag}:{self.nvr}"


@dataclass(frozen=True)
class TaskStateChanged:
    msg_id: str
    task_id: int
    method: str
    old: Optional[int]
    new: int

    @property
    def dedupe_key(self) -> str:
        return f"task:{self.task_id}:{self.new}"


KojiEvent = Union[BuildStateChanged, RepoDone, Tagged, TaskStateChanged]


# -- field checks ------------------------------------------------------------

def _field(data: Mapping, key: str, kind, where: str, optional: bool = False):
    if key not in data or data[key] is None:
        if optional:
            return None
        raise MessageError(f"{where}: missing field {key!r}")
    value = data[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise MessageError(f"{where}: field {key!r} must be an integer, got {_shown.repr(value)}")
    if kind is str and (not isinstance(value, str) or not value):
        raise MessageError(f"{where}: field {key!r} must be a non-empty string")
    return value


def _state(value: Any, table: Mapping[int, str], where: str, key: str,
           optional: bool = False) -> Optional[int]:
    if value is None and optional:
        return None
    if isinstance(value, str) and value.upper() in {v: k for k, v in table.items()}:
        return {v: k for k, v in table.items()}[value.upper()]
    if isinstance(value, int) and not isinstance(value, bool) and value in table:
        return value
    raise MessageError(f"{where}: {key}={_shown.repr(value)} is not a koji state")


def _mapping(body: Any, where: str) -> Mapping:
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MessageError(f"{where}: body is not JSON ({exc})") from None
        except RecursionError:
            raise MessageError(f"{where}: body is nested too deeply") from None
    if not isinstance(body, Mapping):
        raise MessageError(f"{where}: body must be a JSON object")
    return body


def _valid_text(event, where: str):
    """``event``, once every text it carries can be stored: UTF-8 (no lone surrogates,
    which JSON's escapes allow) and no NUL (which PostgreSQL's text refuses)."""
    for name, value in vars(event).items():
        if not isinstance(value, str):
            continue
        if not value.isascii():     # the common case is ASCII: no encoding needed
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise MessageError(f"{where}: field {name!r} is not valid Unicode text") from None
        if "\x00" in value:
            raise MessageError(f"{where}: field {name!r} holds a NUL character")
    return event


def _msg_id(msg_id: Any, where: str) -> str:
    if not isinstance(msg_id, str) or not msg_id:
        raise MessageError(f"{where}: message has no id")
    return msg_id


# -- fedora-messaging ----------------------------------------------------------

FEDORA_TOPICS = ("buildsys.build.state.change", "buildsys.tag", "buildsys.untag",
                 "buildsys.repo.done", "buildsys.task.state.change")


def _fedora_schema(kind: str):
    from koji_fedoramessaging_messages import build, repo, tag, task

    return {
        "buildsys.build.state.change": build.BuildStateChangeV1,
        "buildsys.tag": tag.TagV1,
        "buildsys.untag": tag.UntagV1,
        "buildsys.repo.done": repo.DoneV1,
        "buildsys.task.state.change": task.TaskStateChangeV1,
    }[kind]


@functools.lru_cache(maxsize=None)
def _fedora_body_validators(kind: str) -> tuple:
    """The published message class's body schemas as ready validators.

    ``Message.validate()`` would re-check each schema on every message (jsonschema's
    ``validate``), which costs more than the rest of ingestion; the schemas are
    checked once here instead, and each body is validated as fedora-messaging does.
    """
    import jsonschema
    from fedora_messaging.message import Message

    validators = []
    for schema in (_fedora_schema(kind).body_schema, Message.body_schema):
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validators.append(cls(schema))
    return tuple(validators)


def fedora_kind(topic: str) -> Optional[str]:
    """The koji topic without its deployment prefix, or None when it is not one of ours."""
    if not isinstance(topic, str):
        return None
    for kind in FEDORA_TOPICS:
        if topic == kind or topic.endswith("." + kind):
            return kind
    return None


def parse_fedora_message(topic: str, body: Any, msg_id: str, validate: bool = True) -> KojiEvent:
    """An event from a koji-fedoramessaging message (``validate`` checks the published schema)."""
    where = f"message {_shown.repr(msg_id) if msg_id else '?'} on {_shown.repr(topic)}"
    return _valid_text(_fedora_event(topic, body, msg_id, validate, where), where)


def _fedora_event(topic: str, body: Any, msg_id: str, validate: bool, where: str) -> KojiEvent:
    kind = fedora_kind(topic)
    if kind is None:
        raise MessageError(f"{where}: not a koji topic Discomy reads")
    msg_id = _msg_id(msg_id, where)
    data = _mapping(body, where)
    if validate:
        try:
            for validator in _fedora_body_validators(kind):
                validator.validate(dict(data))
        except Exception as exc:   # jsonschema's ValidationError and relatives
            # its message alone: str() would pretty-print the whole body
            text = getattr(exc, "message", None) or type(exc).__name__
            first = text.splitlines()[0][:200] if text.strip() else type(exc).__name__
            raise MessageError(f"{where}: does not match the {kind} schema: {first}") from None
    if kind == "buildsys.build.state.change":
        return BuildStateChanged(
            msg_id=msg_id,
            build_id=_field(data, "build_id", int, where),
            name=_field(data, "name", str, where),
            version=_field(data, "version", str, where),
            release=_field(data, "release", str, where),
            old=_state(data.get("old"), BUILD_STATES, where, "old", optional=True),
            new=_state(data.get("new"), BUILD_STATES, where, "new"),
            task_id=_field(data, "task_id", int, where, optional=True),
            owner=data.get("owner") if isinstance(data.get("owner"), str) else None,
        )
    if kind in ("buildsys.tag", "buildsys.untag"):
        return Tagged(
            msg_id=msg_id,
            tag=_field(data, "tag", str, where),
            name=_field(data, "name", str, where),
            version=_field(data, "version", str, where),
            release=_field(data, "release", str, where),
            action="tag" if kind == "buildsys.tag" else "untag",
            build_id=_field(data, "build_id", int, where, optional=True),
        )
    if kind == "buildsys.repo.done":
        return RepoDone(msg_id=msg_id, tag=_field(data, "tag", str, where),
                        repo_id=_field(data, "repo_id", int, where))
    info = data.get("info") if isinstance(data.get("info"), Mapping) else {}
    return TaskStateChanged(
        msg_id=msg_id,
        task_id=_field(data, "id", int, where),
        method=data.get("method") or info.get("method") or "",
        old=_state(data.get("old"), TASK_STATES, where, "old", optional=True),
        new=_state(data.get("new"), TASK_STATES, where, "new"),
    )


# -- protonmsg ---------------------------------------------------------------

def protonmsg_kind(address: str, prefix: str = "koji") -> str:
    """``topic://koji.build.complete`` -> ``build.complete`` (the prefix is hub.conf's topic_prefix)."""
    if not isinstance(address, str):
        raise MessageError("protonmsg message has no address")
    text = address.split("://", 1)[1] if "://" in address else address
    if prefix and text.startswith(prefix + "."):
        text = text[len(prefix) + 1:]
    return text


_PROTONMSG_TYPES = {"RepoDone": "repo.done", "Tag": "build.tag", "Untag": "build.untag"}


def protonmsg_address(properties: Optional[Mapping]) -> Optional[str]:
    """The address protonmsg sent a message to, rebuilt from its properties.

    koji sets the address on the sender link, not on the message, so a broker
    may deliver it without one; the ``type`` and ``new`` properties say it again.
    """
    if not isinstance(properties, Mapping):
        return None
    kind = properties.get("type")
    if not isinstance(kind, str):
        return None
    if kind in _PROTONMSG_TYPES:
        return _PROTONMSG_TYPES[kind]
    new = properties.get("new")
    if kind == "BuildStateChange" and isinstance(new, str):
        return f"build.{new.lower()}"
    if kind == "TaskStateChange" and isinstance(new, str):
        return f"task.{new.lower()}"
    return None


def parse_protonmsg(address: str, body: Any, properties: Optional[Mapping],
                    msg_id: Optional[str] = None, prefix: str = "koji") -> KojiEvent:
    """An event from upstream koji's protonmsg plugin (AMQP 1.0)."""
    if not address:
        address = protonmsg_address(properties)
    where = f"protonmsg {_shown.repr(address)}"
    return _valid_text(_protonmsg_event(address, body, properties, msg_id, prefix, where), where)


def _protonmsg_event(address: str, body: Any, properties: Optional[Mapping],
                     msg_id: Optional[str], prefix: str, where: str) -> KojiEvent:
    kind = protonmsg_kind(address, prefix)
    props = properties if isinstance(properties, Mapping) else {}
    data = _mapping(body, where)
    if kind.startswith("build.") and kind not in ("build.tag", "build.untag"):
        info = data.get("info")
        if not isinstance(info, Mapping):
            raise MessageError(f"{where}: body has no build 'info'")
        new = _state(props.get("new", data.get("new")), BUILD_STATES, where, "new")
        if BUILD_STATES[new].lower() != kind.split(".", 1)[1]:
            raise MessageError(f"{where}: address says {kind} but the state is {BUILD_STATES[new]}")
        build_id = _field(info, "id", int, where)
        return BuildStateChanged(
            msg_id=msg_id or f"protonmsg:build:{build_id}:{new}",
            build_id=build_id,
            name=_field(info, "name", str, where),
            version=_field(info, "version", str, where),
            release=_field(info, "release", str, where),
            old=_state(props.get("old", data.get("old")), BUILD_STATES, where, "old", optional=True),
            new=new,
            task_id=_field(info, "task_id", int, where, optional=True),
            owner=info.get("owner_name") if isinstance(info.get("owner_name"), str) else None,
        )
    if kind in ("build.tag", "build.untag"):
        build = data.get("build") if isinstance(data.get("build"), Mapping) else {}
        tag = _field(props, "tag", str, where)
        name, version, release = (_field(props, k, str, where) for k in ("name", "version", "release"))
        action = kind.split(".", 1)[1]
        return Tagged(msg_id=msg_id or f"protonmsg:{action}:{tag}:{name}-{version}-{release}",
                      tag=tag, name=name, version=version, release=release, action=action,
                      build_id=_field(build, "id", int, where, optional=True))
    if kind == "repo.done":
        tag = _field(props, "tag", str, where)
        repo_id = _field(props, "repo_id", int, where)
        return RepoDone(msg_id=msg_id or f"protonmsg:repo:{tag}:{repo_id}", tag=tag, repo_id=repo_id)
    if kind.startswith("task."):
        task_id = _field(props, "id", int, where)
        new = _state(props.get("new"), TASK_STATES, where, "new")
        return TaskStateChanged(
            msg_id=msg_id or f"protonmsg:task:{task_id}:{new}", task_id=task_id,
            method=props.get("method") if isinstance(props.get("method"), str) else "",
            old=_state(props.get("old"), TASK_STATES, where, "old", optional=True), new=new)
    raise MessageError(f"{where}: not a koji address Discomy reads")
