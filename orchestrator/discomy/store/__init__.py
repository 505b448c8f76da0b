"""The orchestrator's durable state (shell): campaigns, nodes, edges, events.

SQLAlchemy 2; SQLite by default (a file), PostgreSQL in production. Every node
transition is committed before the side effect it leads to, and events are
unique by their koji dedupe key, so replays and duplicates are absorbed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Iterable, Optional

from sqlalchemy import (JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, bindparam, create_engine, delete, func, insert, select,
                        update)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ..campaign import Node


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
                      Index("ix_nodes_name_state", "name", "state"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
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


class EdgeRow(Base):
    __tablename__ = "edges"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
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


_FAILED_BY_NAME = (select(NodeRow.campaign_id, NodeRow.nvr)
                   .join(CampaignRow, CampaignRow.id == NodeRow.campaign_id)
                   .where(NodeRow.name == bindparam("name"), NodeRow.state == "failed",
                          CampaignRow.state.in_(("running", "failed")))
                   .order_by(NodeRow.campaign_id))
_LIVE_FOR_TARGET = (select(CampaignRow.id, CampaignRow.changed)
                    .where(CampaignRow.state.in_(("running", "paused")),
                           CampaignRow.target == bindparam("target"))
                    .order_by(CampaignRow.id))


class Store:
    def __init__(self, url: str):
        from ..migrations import upgrade

        self.engine = create_engine(url, future=True)
        upgrade(self.engine)     # the shipped Alembic migrations, at every start

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
            return row.id

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
                                    NodeRow.repo_wait, NodeRow.gate_since, NodeRow.log)
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
                                  gate_since=node.gate_since, log=node.log, updated_at=now))

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

    # -- events ------------------------------------------------------------------
    def record_event(self, event) -> bool:
        """Store a koji event once; False when its dedupe key was already stored."""
        return event.dedupe_key in self.record_events([event])

    def record_events(self, events: list) -> set:
        """Store many events in one transaction; the dedupe keys that were new."""
        rows, seen = [], set()
        now = time.time()
        for event in events:
            if event.dedupe_key in seen:
                continue
            seen.add(event.dedupe_key)
            payload = dataclasses.asdict(event) if dataclasses.is_dataclass(event) else {}
            rows.append({"dedupe_key": event.dedupe_key, "kind": type(event).__name__,
                         "msg_id": event.msg_id, "payload": json.loads(json.dumps(payload)),
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
