"""Forge webhook deliveries and the builds they started, in the store (shell).

``webhook_deliveries`` holds every verified delivery once, by ``(forge,
delivery_id)``: a delivery that comes again (a replay, or the forge's own
redelivery) finds its row and starts nothing. ``webhook_builds`` holds one row per
build a push started, and its state (``queued``, ``preparing``, ``skipped``,
``submitted``, ``success``, ``failure``); each state is committed before the work
it leads to, so a restarted service takes up what was under way.
"""

from __future__ import annotations

import time
from typing import Optional

from sqlalchemy import (
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from discomy.orchestration.store import Base, Store

QUEUED, PREPARING, SKIPPED, SUBMITTED, SUCCESS, FAILURE = (
    "queued", "preparing", "skipped", "submitted", "success", "failure")
OPEN_STATES = (QUEUED, PREPARING, SUBMITTED)
FINAL_STATES = (SKIPPED, SUCCESS, FAILURE)


class WebhookDeliveryRow(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("forge", "delivery_id",
                                       name="uq_webhook_deliveries_forge_delivery_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    forge: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[str] = mapped_column(String(128))
    repository: Mapped[str] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[float] = mapped_column(Float, index=True)
    outcome: Mapped[str] = mapped_column(Text, default="")


class WebhookBuildRow(Base):
    __tablename__ = "webhook_builds"
    __table_args__ = (Index("ix_webhook_builds_state", "state"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery: Mapped[int] = mapped_column(Integer, index=True)     # webhook_deliveries.id
    forge: Mapped[str] = mapped_column(String(20))
    repository: Mapped[str] = mapped_column(String(255))
    branch: Mapped[str] = mapped_column(String(255))
    commit: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(10))                  # ci | release
    backend: Mapped[str] = mapped_column(String(10))               # koji | local
    target: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(20), default=QUEUED)
    reason: Mapped[str] = mapped_column(Text, default="")
    package: Mapped[str] = mapped_column(String(255), default="")
    nvr: Mapped[str] = mapped_column(String(512), default="")
    previous: Mapped[str] = mapped_column(String(512), default="")   # the EVR compared with
    task: Mapped[str] = mapped_column(String(255), default="")
    log: Mapped[str] = mapped_column(Text, default="")
    campaign_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    submitted_at: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class WebhookStore:
    """The webhook tables of a :class:`~discomy.orchestration.store.Store`."""

    def __init__(self, store: Store):
        self.engine = store.engine

    def record_delivery(self, forge: str, delivery_id: str, repository: str, event: str,
                        outcome: str = "") -> Optional[int]:
        """Keep a verified delivery; its row id, or None when it was seen already."""
        try:
            with Session(self.engine) as s, s.begin():
                row = WebhookDeliveryRow(forge=forge, delivery_id=delivery_id,
                                         repository=repository[:255], event=event[:100],
                                         received_at=time.time(), outcome=outcome)
                s.add(row)
                s.flush()
                return row.id
        except IntegrityError:
            return None

    def delivery_outcome(self, delivery: int, outcome: str) -> None:
        with self.engine.begin() as c:
            c.execute(update(WebhookDeliveryRow).where(WebhookDeliveryRow.id == delivery)
                      .values(outcome=outcome[:2000]))

    def forget_delivery(self, delivery: int) -> None:
        """Drop a delivery that was not taken after all, so its redelivery counts as new."""
        with self.engine.begin() as c:
            c.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.id == delivery))

    def deliveries(self, limit: int = 50) -> list:
        with Session(self.engine) as s:
            rows = list(s.scalars(select(WebhookDeliveryRow)
                                  .order_by(WebhookDeliveryRow.id.desc()).limit(limit)))
            for r in rows:
                s.expunge(r)
            return rows

    def add_build(self, delivery: int, forge: str, repository: str, branch: str, commit: str,
                  mode: str, backend: str, target: str) -> int:
        now = time.time()
        with Session(self.engine) as s, s.begin():
            row = WebhookBuildRow(delivery=delivery, forge=forge, repository=repository,
                                  branch=branch, commit=commit, mode=mode, backend=backend,
                                  target=target, state=QUEUED, created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            return row.id

    def build(self, build_id: int) -> Optional[WebhookBuildRow]:
        with Session(self.engine) as s:
            row = s.get(WebhookBuildRow, build_id)
            if row is not None:
                s.expunge(row)
            return row

    def builds(self, states=None, limit: int = 100) -> list:
        with Session(self.engine) as s:
            query = select(WebhookBuildRow).order_by(WebhookBuildRow.id.desc()).limit(limit)
            if states:
                query = query.where(WebhookBuildRow.state.in_(tuple(states)))
            rows = list(s.scalars(query))
            for r in rows:
                s.expunge(r)
            return rows

    def update_build(self, build_id: int, **fields) -> None:
        fields["updated_at"] = time.time()
        for key in ("reason", "log"):
            if key in fields:
                fields[key] = str(fields[key])[:4000]
        with self.engine.begin() as c:
            c.execute(update(WebhookBuildRow).where(WebhookBuildRow.id == build_id)
                      .values(**fields))
