"""The orchestrator's durable state (shell): campaigns, nodes, edges, events, the
messages the listeners rejected, module builds (:mod:`.modules`, reached as
``Store.modules``), forge webhook deliveries and builds (:mod:`.webhooks`,
``Store.webhooks``), and the REST API's tokens (kept hashed).

SQLAlchemy 2; SQLite by default (a file), PostgreSQL in production. Every node
transition is committed before the side effect it leads to, and events are
unique by their koji dedupe key, so replays and duplicates are absorbed.

A store that cannot be opened raises :class:`StoreError` with one sentence
(:class:`StoreUnavailable` when the database is only away for now), and
:func:`unavailable` tells the daemon which errors of a running store mean "try
again later" (server down or restarting, locked, disk full) rather than "this
data is wrong".
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import reprlib
import time
from typing import Any, Iterable, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    DisconnectionError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from discomy.common.paths import absolute
from discomy.orchestration.campaign import Node
from discomy.orchestration.progress import Tally

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


class CampaignRow(Base):
    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    changed: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(String(200), default="local")
    release: Mapped[str] = mapped_column(String(20))
    backend: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="running")
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    sources: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list
    workdir: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    mode: Mapped[str] = mapped_column(String(20), default="scratch", server_default="scratch")
    dest_tag: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    sidetag: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    merged: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    start_event: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)

    @property
    def source_repos(self) -> list:
        return json.loads(self.sources or "[]")


class NodeRow(Base):
    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),
                      Index("ix_nodes_name_state", "name", "state"),
                      # a campaign's nodes in the order people read them, all or by state,
                      # and its latest change (pages of a 34k-node campaign, cached counts)
                      Index("ix_nodes_campaign_tier", "campaign_id", "tier", "name"),
                      Index("ix_nodes_campaign_state", "campaign_id", "state", "tier", "name"),
                      Index("ix_nodes_campaign_updated", "campaign_id", "updated_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    name: Mapped[str] = mapped_column(String(255))
    tier: Mapped[int] = mapped_column(Integer)
    remaining_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    state: Mapped[str] = mapped_column(String(20), default="planned")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failure_class: Mapped[Optional[str]] = mapped_column(String(20), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    submission: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)  # task ref
    nvr: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    repo_wait: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    gate_since: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float, default=time.time)
    log: Mapped[Optional[str]] = mapped_column(Text, nullable=True)   # latest attempt's log
    # the latest attempt: its builders, when it was submitted, how long it ran
    host: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    started_at: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    build_seconds: Mapped[Optional[float]] = mapped_column(Float, nullable=True)


class EdgeRow(Base):
    __tablename__ = "edges"
    # what one node waits for, and what waits for it
    __table_args__ = (Index("ix_edges_campaign_node", "campaign_id", "node"),
                      Index("ix_edges_campaign_dep", "campaign_id", "dep"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    node: Mapped[str] = mapped_column(String(255))
    dep: Mapped[str] = mapped_column(String(255))


class EventRow(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    msg_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[float] = mapped_column(Float, default=time.time)


class NotificationRow(Base):
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    package: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float, default=time.time)


class RejectedRow(Base):
    __tablename__ = "rejected_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[float] = mapped_column(Float, default=time.time)
    source: Mapped[str] = mapped_column(String(20))          # amqp091 | amqp10
    topic: Mapped[str] = mapped_column(Text)                 # routing key or address
    msg_id: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    stage: Mapped[str] = mapped_column(String(20))           # malformed | unhandled
    reason: Mapped[str] = mapped_column(Text)
    properties: Mapped[str] = mapped_column(Text)            # JSON, or a repr when not JSON
    body: Mapped[bytes] = mapped_column(LargeBinary)         # as received, up to MAX_BODY
    size: Mapped[int] = mapped_column(Integer)               # the body's full size


class ApiTokenRow(Base):
    """An API token: only its SHA-256 digest is kept, the token itself is shown once."""
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)      # hex SHA-256
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    last_used_at: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[Optional[float]] = mapped_column(Float, nullable=True)


ANALYZE_AFTER = 1000    # nodes recorded at once that PostgreSQL's statistics are told of
MAX_BODY = 1 << 20      # a flood of huge bad messages must not fill the store's disk


class StoreError(RuntimeError):
    """A store that cannot be used: one sentence naming it (its password hidden)."""


class StoreUnavailable(StoreError):
    """The database is away for now (down, restarting, locked, disk full)."""


# SQLite's primary result codes that mean "not now" rather than "never": busy, locked,
# out of memory, I/O error, full, protocol. A missing file or a read-only one is "never".
_SQLITE_TRANSIENT = {5, 6, 7, 10, 13, 15}


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc``, raised by a store call, means the database is away for now, so
    the same call succeeds later; anything else is about the data or the schema."""
    if isinstance(exc, StoreUnavailable):
        return True
    if isinstance(exc, (DisconnectionError, PoolTimeout)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        code = getattr(exc.orig, "sqlite_errorcode", None)
        return code is None or code & 0xFF in _SQLITE_TRANSIENT
    return False


def first_line(exc: BaseException) -> str:
    """A store error in one line: the driver's own sentence, without SQLAlchemy's links."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def check_url(url: str):
    """``url`` as a SQLAlchemy URL, once its dialect and driver are known to be installed."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        # not echoed: an unparsable URL may still hold a password
        raise StoreError("not a SQLAlchemy database URL "
                         "(dialect+driver://user:password@host/database)") from None
    shown = parsed.render_as_string(hide_password=True)
    try:
        dialect = parsed.get_dialect()
    except ArgumentError:
        raise StoreError(f"{shown}: SQLAlchemy has no database dialect "
                         f"{parsed.drivername!r}") from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise StoreError(f"{shown}: the {parsed.drivername} driver is not installed "
                         f"({exc})") from None
    return parsed


_FAILED_BY_NAME = (select(NodeRow.campaign_id, NodeRow.nvr)
                   .join(CampaignRow, CampaignRow.id == NodeRow.campaign_id)
                   .where(NodeRow.name == bindparam("name"), NodeRow.state == "failed",
                          CampaignRow.state.in_(("running", "failed")))
                   .order_by(NodeRow.campaign_id))
_LIVE_FOR_TARGET = (select(CampaignRow.id, CampaignRow.changed)
                    .where(CampaignRow.state.in_(("running", "paused")),
                           CampaignRow.target == bindparam("target"))
                    .order_by(CampaignRow.id))


# -- what readers (the API) ask many times a second: statements built once ----------------
# a node as the API shows it: every column but the campaign's id
_NODE_COLUMNS = (NodeRow.name, NodeRow.tier, NodeRow.state, NodeRow.attempts,
                 NodeRow.failure_class, NodeRow.reason, NodeRow.submission.label("task"),
                 NodeRow.nvr, NodeRow.repo_wait, NodeRow.gate_since, NodeRow.log,
                 NodeRow.host, NodeRow.started_at, NodeRow.build_seconds,
                 NodeRow.remaining_seconds, NodeRow.updated_at)
# a campaign's latest node change, beside its columns: what counts of its nodes are
# kept against (one index lookup, in the same round trip)
_NODE_VERSION_COLUMN = (select(func.max(NodeRow.updated_at))
                        .where(NodeRow.campaign_id == CampaignRow.id)
                        .correlate(CampaignRow).scalar_subquery().label("node_version"))
_CAMPAIGN = select(CampaignRow.__table__, _NODE_VERSION_COLUMN).where(
    CampaignRow.id == bindparam("id"))
_TALLY_GROUPS = (NodeRow.campaign_id, NodeRow.state, NodeRow.failure_class)
_TALLY_VALUES = (func.count(), func.max(NodeRow.remaining_seconds), func.max(NodeRow.updated_at))
_TALLIES, _TALLIES_BY_TIER = (
    select(*groups, *_TALLY_VALUES)
    .where(NodeRow.campaign_id.in_(bindparam("ids", expanding=True))).group_by(*groups)
    for groups in (_TALLY_GROUPS, (*_TALLY_GROUPS, NodeRow.tier)))
_NODE = select(*_NODE_COLUMNS).where(NodeRow.campaign_id == bindparam("id"),
                                     NodeRow.name == bindparam("name"))
_DEPS = select(EdgeRow.dep).where(EdgeRow.campaign_id == bindparam("id"),
                                  EdgeRow.node == bindparam("name"))
_DEPENDENTS = select(EdgeRow.node).where(EdgeRow.campaign_id == bindparam("id"),
                                         EdgeRow.dep == bindparam("name"))
_NAMED = select(*_NODE_COLUMNS).where(NodeRow.campaign_id == bindparam("id"),
                                      NodeRow.name.in_(bindparam("names", expanding=True)))
_CHANGED = (select(*_NODE_COLUMNS)
            .where(NodeRow.campaign_id == bindparam("id"),
                   NodeRow.updated_at > bindparam("since"))
            .order_by(NodeRow.updated_at, NodeRow.name).limit(bindparam("limit")))
_TIER_TIMES = (select(NodeRow.tier, func.min(NodeRow.updated_at), func.max(NodeRow.updated_at),
                      func.count())
               .where(NodeRow.campaign_id == bindparam("id"),
                      NodeRow.state.in_(("building", "waiting-repo", "gating", "done",
                                         "failed")))
               .group_by(NodeRow.tier))
_DEP_NODE = NodeRow.__table__.alias("dep_node")
_OPEN_DEPS = (select(EdgeRow.node, EdgeRow.dep, _DEP_NODE.c.state)
              .join(_DEP_NODE, (_DEP_NODE.c.campaign_id == EdgeRow.campaign_id)
                    & (_DEP_NODE.c.name == EdgeRow.dep))
              .where(EdgeRow.campaign_id == bindparam("id"),
                     EdgeRow.node.in_(bindparam("names", expanding=True)),
                     _DEP_NODE.c.state != "done"))
_DEPENDENTS_REMAINING = (select(EdgeRow.dep, func.max(_DEP_NODE.c.remaining_seconds))
                         .join(_DEP_NODE, (_DEP_NODE.c.campaign_id == EdgeRow.campaign_id)
                               & (_DEP_NODE.c.name == EdgeRow.node))
                         .where(EdgeRow.campaign_id == bindparam("id"),
                                EdgeRow.dep.in_(bindparam("names", expanding=True)))
                         .group_by(EdgeRow.dep))
_CHAIN_START = (select(*_NODE_COLUMNS).where(NodeRow.campaign_id == bindparam("id"))
                .order_by(NodeRow.remaining_seconds.desc(), NodeRow.name).limit(1))
_CHAIN_NEXT = (select(*(_DEP_NODE.c[col.key if col.key != "task" else "submission"]
                        .label(col.key) for col in _NODE_COLUMNS))
               .select_from(EdgeRow)
               .join(_DEP_NODE, (_DEP_NODE.c.campaign_id == EdgeRow.campaign_id)
                     & (_DEP_NODE.c.name == EdgeRow.node))
               .where(EdgeRow.campaign_id == bindparam("id"), EdgeRow.dep == bindparam("name"))
               .order_by(_DEP_NODE.c.remaining_seconds.desc(), _DEP_NODE.c.name).limit(1))
_OWN_SECONDS = (select(NodeRow.state, NodeRow.remaining_seconds, NodeRow.build_seconds,
                       select(func.max(_DEP_NODE.c.remaining_seconds))
                       .select_from(EdgeRow)
                       .join(_DEP_NODE, (_DEP_NODE.c.campaign_id == EdgeRow.campaign_id)
                             & (_DEP_NODE.c.name == EdgeRow.node))
                       .where(EdgeRow.campaign_id == NodeRow.campaign_id,
                              EdgeRow.dep == NodeRow.name)
                       .correlate(NodeRow).scalar_subquery())
                .where(NodeRow.campaign_id == bindparam("id")))
_CAMPAIGN_FILTERS = {
    "state": CampaignRow.state == bindparam("state"),
    "backend": CampaignRow.backend == bindparam("backend"),
    "target": CampaignRow.target == bindparam("target"),
    # changed is a comma-joined list: a whole name matches
    "package": (literal(",") + CampaignRow.changed + literal(",")).like(
        bindparam("package"), escape="/"),
}
_NODE_FILTERS = {
    "state": NodeRow.state == bindparam("state"),
    "tier": NodeRow.tier == bindparam("tier"),
    "failure_class": NodeRow.failure_class == bindparam("failure_class"),
    "name": NodeRow.name.like(bindparam("name"), escape="/"),
}
_queries: dict = {}


def _campaign_queries(given: tuple) -> tuple:
    """(page, total) statements of the campaigns matching the filters named in ``given``."""
    key = ("campaigns", given)
    if key not in _queries:
        where = [_CAMPAIGN_FILTERS[k] for k in given]
        _queries[key] = (select(CampaignRow.__table__, _NODE_VERSION_COLUMN).where(*where)
                         .order_by(CampaignRow.id.desc())
                         .limit(bindparam("limit")).offset(bindparam("offset")),
                         select(func.count()).select_from(CampaignRow).where(*where))
    return _queries[key]


def _node_queries(given: tuple, after: bool) -> tuple:
    """(page, total) statements of a campaign's nodes matching the filters in ``given``;
    the page starts past a node given by its tier and name (``after``)."""
    key = ("nodes", given, after)
    if key not in _queries:
        where = [NodeRow.campaign_id == bindparam("id"), *(_NODE_FILTERS[k] for k in given)]
        # a page further on is found in the (campaign, tier, name) index, not counted to
        past = [tuple_(NodeRow.tier, NodeRow.name) >
                tuple_(bindparam("after_tier"), bindparam("after_name"))] if after else []
        _queries[key] = (select(*_NODE_COLUMNS).where(*where, *past)
                         .order_by(NodeRow.tier, NodeRow.name)
                         .limit(bindparam("limit")).offset(bindparam("offset")),
                         select(func.count()).select_from(NodeRow).where(*where))
    return _queries[key]


def _like(text: str) -> str:
    """``text`` matched as it is by SQL's LIKE (escape character ``/``)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


class Store:
    def __init__(self, url: str):
        from alembic.util import CommandError

        from discomy.orchestration.migrations import current_revision, upgrade

        parsed = check_url(url)
        self.url = parsed.render_as_string(hide_password=True)
        # a server may restart under a running daemon: a pooled connection is tested
        # before use, so the first query after it comes back does not fail
        self.engine = create_engine(parsed, future=True,
                                    pool_pre_ping=parsed.get_backend_name() != "sqlite")
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            event.listen(self.engine, "connect", _write_ahead_log)
        try:
            upgrade(self.engine)     # the shipped Alembic migrations, at every start
        except CommandError as exc:
            self.engine.dispose()
            try:
                revision = current_revision(self.engine)
            except SQLAlchemyError:
                revision = None
            if revision is None:
                raise StoreError(f"{self.url}: cannot upgrade its schema: {exc}") from None
            raise StoreError(f"{self.url}: its schema is at revision {revision}, which this "
                             f"discomy does not know (written by a newer version?)") from None
        except SQLAlchemyError as exc:
            self.engine.dispose()
            kind = StoreUnavailable if unavailable(exc) else StoreError
            raise kind(f"{self.url}: {first_line(exc)}") from None

    @property
    def modules(self):
        """The module builds in this database (:class:`.modules.ModuleStore`)."""
        from discomy.orchestration.store.modules import ModuleStore

        return ModuleStore(self)

    @property
    def webhooks(self):
        """The forge webhooks' deliveries and builds (:class:`.webhooks.WebhookStore`)."""
        from discomy.orchestration.store.webhooks import WebhookStore

        return WebhookStore(self)

    # -- campaigns ---------------------------------------------------------------
    def create_campaign(self, changed: Iterable[str], release: str, backend: str,
                        nodes: Iterable[Node], target: str = "local",
                        sources: Iterable = (), workdir: Optional[str] = None,
                        mode: str = "scratch", dest_tag: Optional[str] = None) -> int:
        with Session(self.engine) as s, s.begin():
            row = CampaignRow(changed=",".join(changed), release=release, backend=backend,
                              target=target, sources=json.dumps([str(p) for p in sources]),
                              workdir=None if workdir is None else str(workdir),
                              mode=mode, dest_tag=dest_tag, merged=False, note="")
            s.add(row)
            s.flush()
            nodes = list(nodes)
            # bulk inserts: a whole-distribution campaign is 34k nodes and 250k edges
            now = time.time()
            if nodes:
                s.execute(insert(NodeRow), [
                    {"campaign_id": row.id, "name": n.name, "tier": n.tier,
                     "remaining_seconds": n.remaining_seconds, "state": n.state,
                     "attempts": 0, "reason": "", "updated_at": now} for n in nodes])
            edges = [{"campaign_id": row.id, "node": n.name, "dep": d} for n in nodes for d in n.deps]
            if edges:
                s.execute(insert(EdgeRow), edges)
            campaign_id = row.id
        if len(nodes) >= ANALYZE_AFTER and self.engine.dialect.name == "postgresql":
            # PostgreSQL's statistics would not know the new rows until autovacuum comes
            # round: until then it plans a page of nodes as a sort of the whole campaign
            try:
                with self.engine.connect() as c:
                    c.execute(text("ANALYZE nodes, edges"))
                    c.commit()
            except SQLAlchemyError as exc:     # recorded all the same; autovacuum will do
                log.warning("campaign %s: ANALYZE after recording it failed: %s",
                            campaign_id, first_line(exc))
        return campaign_id

    def campaign(self, campaign_id: int) -> CampaignRow:
        with Session(self.engine) as s:
            row = s.get(CampaignRow, campaign_id)
            if row is None:
                raise KeyError(f"no campaign {campaign_id}")
            s.expunge(row)
            return row

    def campaigns(self) -> list:
        with Session(self.engine) as s:
            rows = list(s.scalars(select(CampaignRow).order_by(CampaignRow.id)))
            for r in rows:
                s.expunge(r)
            return rows

    def campaign_view(self, campaign_id: int):
        """A campaign's columns as a read-only row (attributes as :class:`CampaignRow`'s),
        or None: what a reader asks many times a second, without the ORM. Its
        ``node_version`` is when a node of it last changed (every node write sets
        ``updated_at``): what counts of its nodes can be kept against."""
        with self.engine.connect() as c:
            return c.execute(_CAMPAIGN, {"id": campaign_id}).first()

    def campaign_page(self, limit: int, offset: int = 0, state: Optional[str] = None,
                      backend: Optional[str] = None, target: Optional[str] = None,
                      package: Optional[str] = None) -> tuple:
        """``(rows, total)``: campaigns newest first (read-only rows with their node
        version, as :meth:`campaign_view`), ``limit`` of them from ``offset``, of those matching every
        filter given (``package``: among the changed packages, a whole name)."""
        values = {"state": state, "backend": backend, "target": target,
                  "package": None if package is None else f"%,{_like(package)},%"}
        given = tuple(k for k, v in values.items() if v is not None)
        page, total = _campaign_queries(given)
        values.update(limit=limit, offset=offset)
        with self.engine.connect() as c:
            return c.execute(page, values).all(), c.execute(total, values).scalar()

    def tallies(self, campaign_ids: Iterable[int], by_tier: bool = False) -> dict:
        """``campaign id -> [Tally]``: each campaign's nodes counted by state and failure
        class (and tier, ``by_tier``), each group with its longest remaining chain and
        its latest change. Counts, tiers and an ETA are made of these
        (:mod:`discomy.orchestration.progress`) without reading every node; one query
        for a page of campaigns."""
        ids = list(campaign_ids)
        out: dict = {i: [] for i in ids}
        if not ids:
            return out
        with self.engine.connect() as c:
            for row in c.execute(_TALLIES_BY_TIER if by_tier else _TALLIES, {"ids": ids}):
                tier = row[3] if by_tier else None
                n, remaining, updated = row[-3:]
                out[row[0]].append(Tally(tier, row[1], row[2], n, remaining or 0.0,
                                         updated or 0.0))
        return out

    def node_page(self, campaign_id: int, limit: int, offset: int = 0,
                  state: Optional[str] = None, tier: Optional[int] = None,
                  name: Optional[str] = None, failure_class: Optional[str] = None,
                  after: Optional[str] = None, count: bool = True) -> tuple:
        """``(rows, total)``: the campaign's nodes in tier and name order, ``limit`` of them
        from ``offset`` (counted past the node named ``after``, if given), of those
        matching every filter (``name``: a name prefix); ``total`` counts them all. Each
        row is a mapping of the node's columns, ``task`` for its submission. ``count``
        False leaves ``total`` None (the caller knows it from :meth:`tallies`).
        KeyError when ``after`` is not a node of the campaign."""
        values = {"state": state, "tier": tier, "failure_class": failure_class,
                  "name": None if name is None else _like(name) + "%"}
        given = tuple(k for k, v in values.items() if v is not None)
        page, total = _node_queries(given, after is not None)
        values.update(id=campaign_id, limit=limit, offset=offset)
        with self.engine.connect() as c:
            if after is not None:
                found = c.execute(_NODE, {"id": campaign_id, "name": after}).first()
                if found is None:
                    raise KeyError(f"{after} is not part of campaign {campaign_id}")
                values.update(after_tier=found.tier, after_name=after)
            rows = [row._asdict() for row in c.execute(page, values)]
            return rows, c.execute(total, values).scalar() if count else None

    def node_links(self, campaign_id: int, name: str) -> Optional[tuple]:
        """``(node, deps, dependents)`` of one node (its columns as in :meth:`node_page`,
        the names it waits for, the names waiting for it), or None if it is not there."""
        values = {"id": campaign_id, "name": name}
        with self.engine.connect() as c:
            row = c.execute(_NODE, values).first()
            if row is None:
                return None
            return (row._asdict(), sorted(c.execute(_DEPS, values).scalars()),
                    sorted(c.execute(_DEPENDENTS, values).scalars()))

    def failed_names(self, campaign_id: int) -> list:
        """The packages that failed in a campaign (without reading the whole campaign)."""
        with self.engine.connect() as c:
            return sorted(c.execute(select(NodeRow.name).where(
                NodeRow.campaign_id == campaign_id, NodeRow.state == "failed")).scalars())

    def failed_in_live_campaigns(self, name: str) -> list:
        """``(campaign row, nvr)`` of each running or failed campaign where ``name`` failed."""
        # asked for every koji event: a prepared statement on a plain connection
        with self.engine.connect() as c:
            hits = c.execute(_FAILED_BY_NAME, {"name": name}).all()
        return [(self.campaign(campaign_id), nvr) for campaign_id, nvr in hits]

    def live_campaign_for(self, name: str, target: str) -> Optional[int]:
        """The running or paused campaign rebuilding after ``name`` for ``target``, if any:
        at most one lives per (package, target), newer changes coalesce into it."""
        with self.engine.connect() as c:
            for campaign_id, changed in c.execute(_LIVE_FOR_TARGET, {"target": target}):
                if name in changed.split(","):
                    return campaign_id
        return None

    def set_campaign_state(self, campaign_id: int, state: str, note: Optional[str] = None) -> None:
        self.update_campaign(campaign_id, state=state, **({} if note is None else {"note": note}))

    def update_campaign(self, campaign_id: int, **fields) -> None:
        with Session(self.engine) as s, s.begin():
            row = s.get(CampaignRow, campaign_id)
            if row is None:
                raise KeyError(f"no campaign {campaign_id}")
            for key, value in fields.items():
                setattr(row, key, value)

    # -- nodes -------------------------------------------------------------------
    def deps(self, campaign_id: int) -> dict:
        """``name -> sorted dependency names``: fixed by the plan, so callers may keep it."""
        deps: dict = {}
        with Session(self.engine) as s:
            for node, dep in s.execute(select(EdgeRow.node, EdgeRow.dep)
                                       .where(EdgeRow.campaign_id == campaign_id)):
                deps.setdefault(node, []).append(dep)
        return {name: tuple(sorted(d)) for name, d in deps.items()}

    def nodes(self, campaign_id: int, deps: Optional[dict] = None) -> dict:
        """The campaign's nodes; pass ``deps`` (from :meth:`deps`) to skip reading the edges."""
        if deps is None:
            deps = self.deps(campaign_id)
        # plain column rows, not ORM objects: cheap for a whole-distribution campaign
        with Session(self.engine) as s:
            rows = s.execute(select(NodeRow.name, NodeRow.tier, NodeRow.remaining_seconds,
                                    NodeRow.state, NodeRow.attempts, NodeRow.failure_class,
                                    NodeRow.reason, NodeRow.submission, NodeRow.nvr,
                                    NodeRow.repo_wait, NodeRow.gate_since, NodeRow.log,
                                    NodeRow.host, NodeRow.started_at, NodeRow.build_seconds)
                             .where(NodeRow.campaign_id == campaign_id))
            return {row[0]: Node(row[0], row[1], deps.get(row[0], ()), *row[2:]) for row in rows}

    def node_row(self, campaign_id: int, name: str) -> NodeRow:
        with Session(self.engine) as s:
            row = s.scalars(select(NodeRow).where(NodeRow.campaign_id == campaign_id,
                                                  NodeRow.name == name)).one()
            s.expunge(row)
            return row

    def update_nodes(self, campaign_id: int, changes: dict) -> None:
        """Write node changes (``name -> Node``, every mutable field) in one transaction."""
        if not changes:
            return
        now = time.time()
        with Session(self.engine) as s, s.begin():
            for name, node in changes.items():
                s.execute(update(NodeRow)
                          .where(NodeRow.campaign_id == campaign_id, NodeRow.name == name)
                          .values(state=node.state, attempts=node.attempts,
                                  failure_class=node.failure_class, reason=node.reason,
                                  submission=node.task, nvr=node.nvr, repo_wait=node.repo_wait,
                                  gate_since=node.gate_since, log=node.log,
                                  host=node.host, started_at=node.started_at,
                                  build_seconds=node.build_seconds, updated_at=now))

    def claim(self, campaign_id: int, names: Iterable[str]) -> list:
        """Mark released nodes ``building`` (attempt + 1, no task yet: the intent) in one
        transaction; returns the names this caller won. Rows another engine holds
        are skipped (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and a node that is
        no longer planned is left alone, so two engines never submit the same node."""
        won = []
        with Session(self.engine) as s, s.begin():
            rows = s.scalars(select(NodeRow).where(NodeRow.campaign_id == campaign_id,
                                                   NodeRow.name.in_(list(names)),
                                                   NodeRow.state.in_(("planned", "waiting-deps")))
                             .order_by(NodeRow.id).with_for_update(skip_locked=True))
            for row in rows:
                row.state, row.attempts = "building", row.attempts + 1
                row.submission, row.nvr, row.repo_wait, row.gate_since = None, None, None, None
                row.host, row.started_at, row.build_seconds = None, None, None
                row.updated_at = time.time()
                won.append(row.name)
        return won

    def builds_in_flight(self) -> int:
        """Builds submitted and not finished, over every running campaign (the global cap)."""
        return self.node_states().get("building", 0)

    def node_states(self) -> dict:
        """``state -> count`` of the nodes of every running campaign (queue depth, in flight)."""
        with Session(self.engine) as s:
            rows = s.execute(select(NodeRow.state, func.count()).select_from(NodeRow)
                             .join(CampaignRow, CampaignRow.id == NodeRow.campaign_id)
                             .where(CampaignRow.state == "running").group_by(NodeRow.state))
            return {state: count for state, count in rows}

    # -- what the dashboard asks beside the API's reads -----------------------------
    def changed_nodes(self, campaign_id: int, since: float, limit: int = 200) -> list:
        """The campaign's nodes changed after ``since`` (an ``updated_at``), oldest change
        first, at most ``limit``: what a live page applies (from the updated_at index)."""
        with self.engine.connect() as c:
            return [row._asdict() for row in c.execute(
                _CHANGED, {"id": campaign_id, "since": since, "limit": limit})]

    def nodes_named(self, campaign_id: int, names: Iterable[str]) -> dict:
        """``name -> mapping of its columns`` (as :meth:`node_page`) of those of ``names``
        that are nodes of the campaign."""
        names = list(names)
        if not names:
            return {}
        with self.engine.connect() as c:
            return {row.name: row._asdict() for row in c.execute(
                _NAMED, {"id": campaign_id, "names": names})}

    def tier_times(self, campaign_id: int) -> dict:
        """``tier -> (first, last, count)``: when the first and the latest node of each
        tier that has left the queue (in flight or settled, not quarantined) changed."""
        with self.engine.connect() as c:
            return {tier: (first, last, n) for tier, first, last, n in
                    c.execute(_TIER_TIMES, {"id": campaign_id})}

    def open_deps(self, campaign_id: int, names: Iterable[str]) -> dict:
        """``name -> [(dependency, its state)]``: the dependencies of each of ``names``
        that are not done yet (what a waiting node waits for)."""
        out: dict = {}
        names = list(names)
        if not names:
            return out
        with self.engine.connect() as c:
            for node, dep, state in c.execute(_OPEN_DEPS, {"id": campaign_id,
                                                           "names": names}):
                out.setdefault(node, []).append((dep, state))
        return {k: sorted(v) for k, v in out.items()}

    def dependents_remaining(self, campaign_id: int, names: Iterable[str]) -> dict:
        """``name -> the longest planned chain among its dependents`` for each of
        ``names`` that has dependents: a node's own planned duration is its
        ``remaining_seconds`` less this."""
        names = list(names)
        if not names:
            return {}
        with self.engine.connect() as c:
            return dict(c.execute(_DEPENDENTS_REMAINING, {"id": campaign_id, "names": names})
                        .all())

    def critical_path(self, campaign_id: int, limit: int = 10000) -> list:
        """The campaign's longest planned chain: from the node with the most planned time
        ahead of it, each step to the dependent with the most; each a mapping of the
        node's columns (as :meth:`node_page`). Fixed by the plan, so it may be kept."""
        chain = []
        with self.engine.connect() as c:
            row = c.execute(_CHAIN_START, {"id": campaign_id}).first()
            seen = set()
            while row is not None and row.name not in seen and len(chain) < limit:
                seen.add(row.name)
                chain.append(row._asdict())
                row = c.execute(_CHAIN_NEXT, {"id": campaign_id, "name": row.name}).first()
        return chain

    def failed_nodes(self, campaign_ids: Iterable[int], failure_class: Optional[str] = None,
                     limit: int = 200) -> list:
        """The failed nodes of ``campaign_ids`` (mappings of their columns and
        ``campaign_id``), latest failure first, at most ``limit``."""
        ids = list(campaign_ids)
        if not ids:
            return []
        query = select(NodeRow.campaign_id, *_NODE_COLUMNS).where(
            NodeRow.campaign_id.in_(ids), NodeRow.state == "failed")
        if failure_class is not None:
            query = query.where(NodeRow.failure_class == failure_class)
        query = query.order_by(NodeRow.updated_at.desc(), NodeRow.name).limit(limit)
        with self.engine.connect() as c:
            return [row._asdict() for row in c.execute(query)]

    def settled_by_hour(self, since: float) -> list:
        """``(hour, state, failure class, count)``: the nodes done or failed since
        ``since``, by the hour (``hour`` = epoch seconds // 3600) of their latest change."""
        hour = func.floor(NodeRow.updated_at / 3600).label("hour")
        query = (select(hour, NodeRow.state, NodeRow.failure_class, func.count())
                 .where(NodeRow.updated_at >= since, NodeRow.state.in_(("done", "failed")))
                 .group_by(hour, NodeRow.state, NodeRow.failure_class))
        with self.engine.connect() as c:
            return [(int(h), state, cls, n) for h, state, cls, n in c.execute(query)]

    def compute_seconds(self, campaign_id: int) -> tuple:
        """``(planned done, planned all, measured)``: the planned build time, in seconds,
        of the campaign's done nodes and of all of them (each node's own: its remaining
        time less its dependents' longest), and the build time the build system
        measured for the latest attempt of every node that ran."""
        with self.engine.connect() as c:
            rows = c.execute(_OWN_SECONDS, {"id": campaign_id}).all()
        done = sum(max(0.0, r - (d or 0.0)) for state, r, _, d in rows if state == "done")
        return (done, sum(max(0.0, r - (d or 0.0)) for _, r, _, d in rows),
                sum(b for _, _, b, _ in rows if b is not None))

    # -- events ------------------------------------------------------------------
    def record_event(self, event) -> bool:
        """Store a koji event once; False when its dedupe key was already stored."""
        return event.dedupe_key in self.record_events([event])

    def record_events(self, events: list) -> set:
        """Store many events in one transaction; the dedupe keys that were new."""
        rows, seen = [], set()
        now = time.time()
        for one in events:
            if one.dedupe_key in seen:
                continue
            seen.add(one.dedupe_key)
            payload = dataclasses.asdict(one) if dataclasses.is_dataclass(one) else {}
            rows.append({"dedupe_key": one.dedupe_key, "kind": type(one).__name__,
                         "msg_id": one.msg_id, "payload": json.loads(json.dumps(payload)),
                         "received_at": now})
        if not rows:
            return set()
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        # executemany with RETURNING (SQLAlchemy's insertmanyvalues): compiled once, cached
        statement = upsert(EventRow.__table__).on_conflict_do_nothing(
            index_elements=["dedupe_key"]).returning(EventRow.__table__.c.dedupe_key)
        with self.engine.begin() as c:
            return set(c.execute(statement, rows).scalars())

    def forget_event(self, dedupe_key: str) -> None:
        """Drop a stored event whose handling failed, so it counts as new when it comes again."""
        with Session(self.engine) as s, s.begin():
            s.execute(delete(EventRow).where(EventRow.dedupe_key == dedupe_key))

    def add_notification(self, campaign_id: int, kind: str, package: str, reason: str) -> None:
        with Session(self.engine) as s, s.begin():
            s.add(NotificationRow(campaign_id=campaign_id, kind=kind, package=package,
                                  reason=reason))

    def notifications(self, campaign_id: int) -> list:
        with Session(self.engine) as s:
            rows = list(s.scalars(select(NotificationRow)
                                  .where(NotificationRow.campaign_id == campaign_id)
                                  .order_by(NotificationRow.id)))
            for r in rows:
                s.expunge(r)
            return rows

    # -- API tokens --------------------------------------------------------------------
    def add_token(self, name: str, digest: str) -> int:
        """Keep a new token's digest under ``name``; ValueError if a token that is not
        revoked has that name already."""
        with Session(self.engine) as s, s.begin():
            if s.scalar(select(func.count()).select_from(ApiTokenRow)
                        .where(ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None))):
                raise ValueError(f"there is already a token named {name}; revoke it first")
            row = ApiTokenRow(name=name, digest=digest, created_at=time.time())
            s.add(row)
            s.flush()
            return row.id

    def tokens(self, revoked: bool = False) -> list:
        """The tokens by name (their digests, never the tokens); ``revoked`` ones too."""
        with Session(self.engine) as s:
            query = select(ApiTokenRow).order_by(ApiTokenRow.name, ApiTokenRow.id)
            if not revoked:
                query = query.where(ApiTokenRow.revoked_at.is_(None))
            rows = list(s.scalars(query))
            for r in rows:
                s.expunge(r)
            return rows

    def token_by_digest(self, digest: str) -> Optional[tuple]:
        """``(id, name)`` of the token that is not revoked with this digest, or None."""
        with self.engine.connect() as c:
            row = c.execute(select(ApiTokenRow.id, ApiTokenRow.name)
                            .where(ApiTokenRow.digest == digest,
                                   ApiTokenRow.revoked_at.is_(None))).first()
            return None if row is None else (row[0], row[1])

    def revoke_token(self, name: str) -> int:
        """Revoke the token named ``name``; its id. KeyError when no live token has it."""
        with Session(self.engine) as s, s.begin():
            row = s.scalars(select(ApiTokenRow).where(ApiTokenRow.name == name,
                                                      ApiTokenRow.revoked_at.is_(None))).first()
            if row is None:
                raise KeyError(f"no token named {name}")
            row.revoked_at = time.time()
            return row.id

    def token_used(self, token_id: int, when: float) -> None:
        with self.engine.begin() as c:
            c.execute(update(ApiTokenRow).where(ApiTokenRow.id == token_id)
                      .values(last_used_at=when))

    # -- rejected messages -------------------------------------------------------------
    def record_rejected(self, rejected) -> int:
        """Keep a message a listener rejected (a :class:`discomy.orchestration.listeners.Rejected`),
        whatever its body holds; its id."""
        body = _as_bytes(rejected.body)
        with Session(self.engine) as s, s.begin():
            row = RejectedRow(received_at=time.time(), source=_text(rejected.source)[:20],
                              topic=_text(rejected.topic),
                              msg_id=None if rejected.msg_id is None else _text(rejected.msg_id),
                              stage=_text(rejected.stage)[:20], reason=_text(rejected.reason),
                              properties=_text(_as_json(rejected.properties)),
                              body=body[:MAX_BODY], size=len(body))
            s.add(row)
            s.flush()
            return row.id

    def rejected(self, limit: int = 50) -> list:
        """The newest rejected messages, newest first."""
        with Session(self.engine) as s:
            rows = list(s.scalars(select(RejectedRow).order_by(RejectedRow.id.desc())
                                  .limit(limit)))
            for r in rows:
                s.expunge(r)
            return rows

    def rejected_count(self) -> int:
        with Session(self.engine) as s:
            return s.scalar(select(func.count()).select_from(RejectedRow))


_shown = reprlib.Repr()
_shown.maxstring, _shown.maxother, _shown.maxlevel = 2000, 2000, 6


def _text(value: Any) -> str:
    """Any value as text every database takes: no lone surrogate, no NUL."""
    text = value if isinstance(value, str) else _shown.repr(value)
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")     # what came, lone surrogates too
    return _as_json(body).encode("utf-8", "backslashreplace")


def _as_json(value: Any) -> str:
    try:
        return json.dumps(value, default=repr)
    except (ValueError, TypeError, RecursionError):
        return _shown.repr(value)


def _write_ahead_log(connection, record) -> None:
    """An SQLite file in WAL mode: readers (the API, discomy status) go on while the
    daemon commits, instead of waiting out each commit's fsync. Kept by the file; a
    file that cannot change mode (read-only) stays as it is."""
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except Exception:      # the driver's own error class: the mode stays as it was
        pass
    finally:
        cursor.close()


def absolute_store_url(url: str, base=None) -> str:
    """An SQLAlchemy URL whose SQLite file is relative (``sqlite:///state.sqlite``) made
    absolute; every other URL, and an in-memory database, left alone."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url              # not a URL: opening it says so
    database = parsed.database
    if not parsed.drivername.startswith("sqlite") or not database or database == ":memory:" \
            or database.startswith("file:") or os.path.isabs(database):
        return url
    return parsed.set(database=str(absolute(database, base))).render_as_string(
        hide_password=False)


# the module-build tables belong to the same schema (Base.metadata, the migrations)
from discomy.orchestration.store import modules as _modules  # noqa: E402,F401
# so are the forge webhooks' deliveries and builds
from discomy.orchestration.store import webhooks as _webhooks  # noqa: E402,F401
