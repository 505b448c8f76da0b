"""Module builds in the store (shell): one row per build of a module stream (name,
stream, version, context) and one per component, beside the campaign that builds
the components.

A module build's components are the nodes of a campaign of mode ``module`` (the
engine drives them as it drives any campaign, so their build state lives in
``nodes``); ``module_components`` keeps what the modulemd says of each (repository,
ref and the commit it resolved to, batch, buildafter, arches, buildonly,
rationale), what it was reused from, and the rpms it shipped. A module build,
its components and its campaign are written in one transaction.

``nsvc_key`` (``name:stream:version:context``, unique) is set for every build
that is not scratch, so submitting the same module version twice finds the
first. Versions are kept as decimal text: modulemd versions are unsigned 64-bit
numbers, beyond what a signed BIGINT column holds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from discomy.orchestration.campaign import Node
from discomy.orchestration.store import Base, CampaignRow, EdgeRow, NodeRow, Store


class ModuleBuildRow(Base):
    __tablename__ = "module_builds"
    __table_args__ = (Index("ix_module_builds_name_stream_state", "name", "stream", "state"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    stream: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(20))
    context: Mapped[str] = mapped_column(String(64))
    nsvc_key: Mapped[Optional[str]] = mapped_column(String(600), unique=True, nullable=True)
    state: Mapped[str] = mapped_column(String(20), default="init")
    state_reason: Mapped[str] = mapped_column(Text, default="")
    failure_class: Mapped[Optional[str]] = mapped_column(String(20), nullable=True)
    backend: Mapped[str] = mapped_column(String(20))
    scratch: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(255), default="")
    scmurl: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    branch: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    commit: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    modulemd: Mapped[str] = mapped_column(Text)
    modulemd_final: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    buildrequires: Mapped[str] = mapped_column(Text, default="{}")     # JSON
    requires: Mapped[str] = mapped_column(Text, default="{}")          # JSON
    order_kind: Mapped[str] = mapped_column(String(20), default="batches")
    reuse: Mapped[str] = mapped_column(String(30), default="changed-and-after")
    reused_from: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    koji_tag: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    build_tag: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    target: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    parents: Mapped[str] = mapped_column(Text, default="[]")    # JSON: tags the build tag inherits
    dist: Mapped[str] = mapped_column(String(255), default="")
    campaign_id: Mapped[Optional[int]] = mapped_column(ForeignKey("campaigns.id"), nullable=True,
                                                       index=True)
    workdir: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    repo: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    repo_task: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    published_state: Mapped[Optional[str]] = mapped_column(String(20), nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    updated_at: Mapped[float] = mapped_column(Float, default=time.time)
    completed_at: Mapped[Optional[float]] = mapped_column(Float, nullable=True)

    @property
    def nsvc(self) -> str:
        return f"{self.name}:{self.stream}:{self.version}:{self.context}"

    def json(self, field_name: str):
        return json.loads(getattr(self, field_name) or "null")


class ModuleComponentRow(Base):
    __tablename__ = "module_components"
    __table_args__ = (UniqueConstraint("module_build_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    module_build_id: Mapped[int] = mapped_column(ForeignKey("module_builds.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    repository: Mapped[str] = mapped_column(Text)
    ref: Mapped[str] = mapped_column(String(255))           # as the modulemd says
    commit: Mapped[str] = mapped_column(String(64))         # what it resolved to
    scmurl: Mapped[str] = mapped_column(Text)               # what a build is made from
    batch: Mapped[int] = mapped_column(Integer)             # batch, or DAG tier (from 1)
    buildorder: Mapped[int] = mapped_column(Integer, default=0)
    buildafter: Mapped[str] = mapped_column(Text, default="[]")     # JSON
    arches: Mapped[str] = mapped_column(Text, default="[]")         # JSON
    buildonly: Mapped[bool] = mapped_column(Boolean, default=False)
    rationale: Mapped[str] = mapped_column(Text, default="")
    reused_from: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    artifacts: Mapped[str] = mapped_column(Text, default="[]")      # JSON: NEVRAs (and files)


@dataclass(frozen=True)
class NewComponent:
    name: str
    repository: str
    ref: str
    commit: str
    scmurl: str
    batch: int
    buildorder: int = 0
    buildafter: tuple = ()
    arches: tuple = ()
    buildonly: bool = False
    rationale: str = ""
    reused_from: Optional[int] = None
    reused_nvr: Optional[str] = None
    reused_artifacts: tuple = ()


TERMINAL = ("ready", "failed", "canceled")


class ModuleStore:
    """Module builds over a :class:`~discomy.orchestration.store.Store`'s database."""

    def __init__(self, store: Store):
        self.store = store
        self.engine = store.engine

    # -- writing --------------------------------------------------------------------
    def create(self, fields: Mapping, components: Sequence[NewComponent], nodes: Sequence[Node],
               release: str, named=None) -> int:
        """Record a module build, its components and the campaign of their builds (nodes
        with their edges; reused components already ``done`` with their NVR), in one
        transaction. ``named(module id)`` gives the fields that need the build's id (its
        dist, koji tags, work directory)."""
        now = time.time()
        fields = dict(fields)
        with Session(self.engine) as s, s.begin():
            campaign = CampaignRow(
                changed=f"module:{fields['name']}:{fields['stream']}:{fields['version']}:"
                        f"{fields['context']}",
                release=release, backend=fields["backend"], target="local", sources="[]",
                mode="module", merged=False, note="")
            s.add(campaign)
            s.flush()
            row = ModuleBuildRow(**fields, campaign_id=campaign.id, created_at=now,
                                 updated_at=now)
            s.add(row)
            s.flush()
            for key, value in (named(row.id) if named else {}).items():
                setattr(row, key, value)
            campaign.target = row.target or "local"
            campaign.dest_tag, campaign.workdir = row.koji_tag, row.workdir
            reused = {c.name: c for c in components if c.reused_nvr}
            if nodes:
                s.execute(insert(NodeRow), [
                    {"campaign_id": campaign.id, "name": n.name, "tier": n.tier,
                     "remaining_seconds": n.remaining_seconds,
                     "state": "done" if n.name in reused else n.state, "attempts": 0,
                     "reason": (f"reused from module build {reused[n.name].reused_from}"
                                if n.name in reused else ""),
                     "nvr": reused[n.name].reused_nvr if n.name in reused else None,
                     "updated_at": now} for n in nodes])
            edges = [{"campaign_id": campaign.id, "node": n.name, "dep": d}
                     for n in nodes for d in n.deps]
            if edges:
                s.execute(insert(EdgeRow), edges)
            s.execute(insert(ModuleComponentRow), [
                {"module_build_id": row.id, "name": c.name, "repository": c.repository,
                 "ref": c.ref, "commit": c.commit, "scmurl": c.scmurl, "batch": c.batch,
                 "buildorder": c.buildorder, "buildafter": json.dumps(list(c.buildafter)),
                 "arches": json.dumps(list(c.arches)), "buildonly": c.buildonly,
                 "rationale": c.rationale, "reused_from": c.reused_from,
                 "artifacts": json.dumps(list(c.reused_artifacts))} for c in components])
            return row.id

    def update(self, module_id: int, expected: Optional[str] = None, **fields) -> bool:
        """Write ``fields``; with ``expected``, only while the build is in that state (False
        when it no longer is: another process moved it, e.g. a cancel)."""
        fields.setdefault("updated_at", time.time())
        query = update(ModuleBuildRow).where(ModuleBuildRow.id == module_id)
        if expected is not None:
            query = query.where(ModuleBuildRow.state == expected)
        with Session(self.engine) as s, s.begin():
            done = s.execute(query.values(**fields)).rowcount
        if not done and expected is None:
            raise KeyError(f"no module build {module_id}")
        return bool(done)

    def set_state(self, module_id: int, state: str, reason: Optional[str] = None,
                  failure_class: Optional[str] = None, expected: Optional[str] = None,
                  **fields) -> bool:
        """Move a build to ``state`` (from ``expected`` only, when given); whether it moved."""
        values = {"state": state, **fields}
        if reason is not None:
            values["state_reason"] = reason[:2000]
        if state in ("failed",):
            values["failure_class"] = failure_class
        elif failure_class is None:
            values["failure_class"] = None
        if state in TERMINAL:
            values["completed_at"] = time.time()
        return self.update(module_id, expected=expected, **values)

    def set_artifacts(self, module_id: int, artifacts: Mapping[str, Sequence[str]]) -> None:
        with Session(self.engine) as s, s.begin():
            for name, found in artifacts.items():
                s.execute(update(ModuleComponentRow)
                          .where(ModuleComponentRow.module_build_id == module_id,
                                 ModuleComponentRow.name == name)
                          .values(artifacts=json.dumps(sorted(found))))

    # -- reading --------------------------------------------------------------------
    def get(self, module_id: int) -> ModuleBuildRow:
        with Session(self.engine) as s:
            row = s.get(ModuleBuildRow, module_id)
            if row is None:
                raise KeyError(f"no module build {module_id}")
            s.expunge(row)
            return row

    def components(self, module_id: int) -> list:
        with Session(self.engine) as s:
            rows = list(s.scalars(select(ModuleComponentRow)
                                  .where(ModuleComponentRow.module_build_id == module_id)
                                  .order_by(ModuleComponentRow.batch, ModuleComponentRow.name)))
            for r in rows:
                s.expunge(r)
            return rows

    def by_nsvc(self, name: str, stream: str, version: str, context: str) \
            -> Optional[ModuleBuildRow]:
        key = f"{name}:{stream}:{version}:{context}"
        with Session(self.engine) as s:
            row = s.scalars(select(ModuleBuildRow).where(ModuleBuildRow.nsvc_key == key)).first()
            if row is not None:
                s.expunge(row)
            return row

    def last_ready(self, name: str, stream: str, backend: str,
                   context: Optional[str] = None) -> Optional[ModuleBuildRow]:
        """The newest ready build of a module stream (not scratch) on ``backend``, of
        ``context`` when given."""
        query = (select(ModuleBuildRow)
                 .where(ModuleBuildRow.name == name, ModuleBuildRow.stream == stream,
                        ModuleBuildRow.state == "ready", ModuleBuildRow.scratch.is_(False),
                        ModuleBuildRow.backend == backend))
        if context is not None:
            query = query.where(ModuleBuildRow.context == context)
        with Session(self.engine) as s:
            rows = list(s.scalars(query))
            for r in rows:
                s.expunge(r)
        # versions are decimal text: compared as numbers
        return max(rows, key=lambda r: (int(r.version), r.id), default=None)

    def ready_streams(self, backend: str) -> dict:
        """``module -> [streams]`` with a ready build (not scratch) on ``backend``."""
        with self.engine.connect() as c:
            rows = c.execute(select(ModuleBuildRow.name, ModuleBuildRow.stream).distinct()
                             .where(ModuleBuildRow.state == "ready",
                                    ModuleBuildRow.scratch.is_(False),
                                    ModuleBuildRow.backend == backend))
            found: dict = {}
            for name, stream in rows:
                found.setdefault(name, []).append(stream)
        return {k: sorted(v) for k, v in found.items()}

    def live(self) -> list:
        """Ids of the module builds the driver still has work for: not finished, or
        finished without their state announced."""
        with self.engine.connect() as c:
            rows = c.execute(select(ModuleBuildRow.id).where(
                (ModuleBuildRow.state.notin_(TERMINAL))
                | (ModuleBuildRow.published_state.is_(None))
                | (ModuleBuildRow.published_state != ModuleBuildRow.state))
                .order_by(ModuleBuildRow.id))
            return [r[0] for r in rows]

    def page(self, filters: Mapping, page: int, per_page: int, newest_first: bool = True) \
            -> tuple:
        """``(rows, total)`` of the module builds matching ``filters`` (column -> value,
        or a sequence of values for any of them)."""
        where = []
        for key, value in filters.items():
            column = getattr(ModuleBuildRow, key)
            if isinstance(value, (list, tuple, set, frozenset)):
                where.append(column.in_(list(value)))
            else:
                where.append(column == value)
        order = ModuleBuildRow.id.desc() if newest_first else ModuleBuildRow.id
        with Session(self.engine) as s:
            total = s.scalar(select(func.count()).select_from(ModuleBuildRow).where(*where))
            rows = list(s.scalars(select(ModuleBuildRow).where(*where).order_by(order)
                                  .offset((page - 1) * per_page).limit(per_page)))
            for r in rows:
                s.expunge(r)
        return rows, int(total or 0)

    def component_states(self, module_ids: Iterable[int]) -> dict:
        """``module id -> {node state: count}`` over their campaigns, in one query."""
        ids = list(module_ids)
        if not ids:
            return {}
        with self.engine.connect() as c:
            rows = c.execute(select(ModuleBuildRow.id, NodeRow.state, func.count())
                             .join(NodeRow, NodeRow.campaign_id == ModuleBuildRow.campaign_id)
                             .where(ModuleBuildRow.id.in_(ids))
                             .group_by(ModuleBuildRow.id, NodeRow.state))
            found: dict = {}
            for module_id, state, count in rows:
                found.setdefault(module_id, {})[state] = count
        return found
