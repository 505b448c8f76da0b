"""Live updates of the dashboard: server-sent events from one watcher of the store.

While a page listens on ``/events`` (every campaign's summary) or
``/events?campaign=N`` (one campaign: its summary, tiers and changed nodes), one
task per process reads the store's cheap markers every :data:`POLL_SECONDS`: the
newest campaigns' rows, each with its latest node change (``node_version``, from
an index), as the API's list reads them. A campaign whose state, note or node
version moved is counted again (the API's kept counts) and sent to the pages that
show it, with, for its own page, the nodes changed since (from the ``updated_at``
index, at most :data:`NODES_SENT`): only what changed, never the whole page. The
script of the pages (``/static/dashboard.js``) applies each event to the elements
it names.

The same watcher samples the queue depth (nodes released and waiting for a build
slot, over every running campaign) once a minute for the statistics page.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
from typing import Optional

from discomy.web import charts, views

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
WATCHED = 25                 # the newest campaigns: the list page's first page
NODES_SENT = 200
SAMPLE_SECONDS = 60.0
SAMPLES_KEPT = 24 * 60
KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 600.0       # a stream ends then; the browser reconnects at once


class LiveHub:
    def __init__(self, ctx, dashboard):
        self.ctx, self.dashboard = ctx, dashboard
        self.subscribers: dict = {}            # queue -> campaign id or None
        self.marks: dict = {}                  # campaign id -> (state, note, node_version)
        self.task: Optional[asyncio.Task] = None
        self.queue_samples: collections.deque = collections.deque(maxlen=SAMPLES_KEPT)
        self.last_sample = 0.0

    # -- subscribers (on the event loop) --------------------------------------------------
    def subscribe(self, campaign_id: Optional[int]) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=100)
        self.subscribers[queue] = campaign_id
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._watch())
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.subscribers.pop(queue, None)

    async def _watch(self) -> None:
        from starlette.concurrency import run_in_threadpool

        try:
            while self.subscribers:
                watched = {c for c in self.subscribers.values() if c is not None}
                try:
                    events = await run_in_threadpool(self.poll, watched, time.time())
                except Exception as exc:        # the store away a moment: try again
                    log.warning("dashboard: live updates: %s", str(exc).splitlines()[0][:200])
                    events = []
                for campaign_id, summary, detail in events:
                    for queue, wants in list(self.subscribers.items()):
                        if wants is None:
                            payload = summary
                        elif wants == campaign_id:
                            payload = {**summary, **detail}
                        else:
                            continue
                        if queue.full():             # a reader that does not read: drop
                            continue
                        queue.put_nowait(payload)
                await asyncio.sleep(POLL_SECONDS)
        finally:
            self.task = None

    # -- the watcher's reads (on a worker thread) -------------------------------------------
    def poll(self, watched: set, now: float) -> list:
        """``(campaign id, summary event, detail event)`` for each campaign that moved
        since the last poll (nothing on the first, which only takes the marks)."""
        from discomy.web import campaigns as api

        store = self.ctx.store
        rows, _ = store.campaign_page(WATCHED)
        seen = {r.id for r in rows}
        rows = list(rows) + [r for r in (store.campaign_view(c) for c in watched - seen)
                             if r is not None]
        if now - self.last_sample >= SAMPLE_SECONDS:
            self.sample(now, store.node_states())
        first = not self.marks
        moved = []
        for row in rows:
            mark = (row.state, row.note, row.node_version)
            before = self.marks.get(row.id)
            self.marks[row.id] = mark
            if first or before == mark:
                continue
            moved.append((row, before))
        while len(self.marks) > 4 * WATCHED:
            self.marks.pop(next(iter(self.marks)))
        if not moved:
            return []
        tallies = api._tallies(self.ctx, [r for r, _ in moved])
        return [(row.id, self._summary(row, tallies[row.id], now),
                 self._detail(row, tallies[row.id], before[2] if before else None, now)
                 if row.id in watched else {})
                for row, before in moved]

    def catch_up(self, campaign_id: int, since: float, now: float) -> Optional[dict]:
        """The event of a campaign whose page was made at its node version ``since``,
        if it moved since (what a page missed before it listened), else None."""
        from discomy.web import campaigns as api

        row = self.ctx.store.campaign_view(campaign_id)
        if row is None or row.node_version is None or row.node_version <= since:
            return None
        t = api._tallies(self.ctx, [row])[campaign_id]
        return {**self._summary(row, t, now), **self._detail(row, t, since, now)}

    def _summary(self, row, tallies, now: float) -> dict:
        from discomy.web import render

        s = render.summary(self.ctx, row, tallies, now)
        return {"id": row.id, "state": row.state, "groups": s["groups"],
                "bar": str(s["bar"]), "eta": s["eta_text"], "eta_basis": s["eta_basis"],
                "progress": f"{100 * s['progress']:.0f}%",
                "total": s["counts"]["total"], "note": row.note or ""}

    def _detail(self, row, tallies, since: Optional[float], now: float) -> dict:
        """A campaign page's part of an event: tiers, timeline, the nodes changed after
        ``since`` (a node version)."""
        from discomy.orchestration import progress
        from discomy.web import render

        tiers = []
        counted = progress.tier_counts(tallies)
        for t in counted:
            grouped = views.groups(t["counts"])
            tiers.append({"tier": t["tier"], "groups": grouped, "total": t["total"],
                          "bar": charts.progress_bar(grouped, 200)})
        since = now - 5 if since is None else since
        changed = self.ctx.store.changed_nodes(row.id, since, NODES_SENT)
        held = self.dashboard.critical.get(row.id, ())
        critical = {name for name, _ in held}
        nodes = [{"name": n["name"], "state": n["state"], "group": n["group"], "why": n["why"],
                  "age": n["age"], "host": n["host"], "task": n["task"],
                  "task_url": n["task_url"], "log_url": n["log_url"], "planned": n["planned"],
                  "ran": n["ran"], "explain_url": n["explain_url"]}
                 for n in render.decorate(self.ctx, row, changed, critical, now,
                                          views.first_unsettled_tier(counted))]
        critical_tiers = {tier for _, tier in held}
        return {"tiers": tiers, "nodes": nodes,
                "timeline": render.timeline_svg(self.ctx, row, tallies, critical_tiers, now)}

    # -- queue depth -----------------------------------------------------------------------
    def sample(self, now: float, states: dict) -> None:
        if now - self.last_sample < SAMPLE_SECONDS and self.queue_samples:
            return
        self.last_sample = now
        self.queue_samples.append((now, states.get("planned", 0)))

    def samples(self) -> list:
        return list(self.queue_samples)


async def stream(request, hub: LiveHub, campaign_id: Optional[int],
                 since: Optional[float] = None):
    """The text of an event stream for one page, until it goes, the server stops, or
    :data:`STREAM_SECONDS` pass (the browser then reconnects). A campaign's page gives
    the node version it was made at (``since``): what moved before it listened comes
    first."""
    from starlette.concurrency import run_in_threadpool

    queue = hub.subscribe(campaign_id)
    exiting = getattr(request.app.state, "exiting", lambda: False)
    started = last = time.monotonic()
    try:
        yield "retry: 1000\n\n"
        if campaign_id is not None and since is not None:
            missed = await run_in_threadpool(hub.catch_up, campaign_id, since, time.time())
            if missed is not None:
                yield f"event: campaign\ndata: {json.dumps(missed, separators=(',', ':'))}\n\n"
        while not exiting() and time.monotonic() - started < STREAM_SECONDS:
            try:
                payload = await asyncio.wait_for(queue.get(), 1.0)
            except asyncio.TimeoutError:
                if time.monotonic() - last > KEEPALIVE_SECONDS:
                    last = time.monotonic()
                    yield ": keep-alive\n\n"
                if await request.is_disconnected():
                    break
                continue
            last = time.monotonic()
            yield f"event: campaign\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"
    finally:
        hub.unsubscribe(queue)
