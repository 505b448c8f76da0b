"""Campaigns from plan to engine (shell): shared by ``discomy serve`` and the CLI.

:func:`start_campaign` plans the rebuild of what changed and records it (nothing
is submitted); :func:`backend_for` and :func:`engine_for` build a recorded
campaign's backend and engine from the orchestrator config, so the daemon and
a foreground ``discomy rebuild`` drive a campaign the same way;
:func:`run_campaign` runs one in the foreground with a progress bar per tier.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from discomy.orchestration.campaign import Node
from discomy.orchestration.config import DEFAULTS
from discomy.orchestration.engine import Engine, EngineSettings
from discomy.orchestration.store import Store
from discomy.planning.planner import make_plan
from discomy.planning.priorities import BUILD_OVERHEAD_SECONDS
from discomy.planning.remote_repos import is_remote
from discomy.planning.repodata import load_graph


def plan_nodes(plan) -> list:
    """The campaign's nodes; each remembers its chain with koji's overhead per build, the
    urgency its koji priority and release order come from."""
    chain = plan.chain_seconds(BUILD_OVERHEAD_SECONDS)
    index = plan.graph.index_of
    return [Node(n.name, n.tier, n.deps, float(chain[index(n.name)]))
            for n in plan.nodes.values()]


def start_campaign(store: Store, repos: Sequence[Path], changed: Sequence[str], release: str,
                   backend: str = "local", target: str = "local", mode: str = "scratch",
                   depth: str = "direct", cache_dir: Optional[Path] = None,
                   workdir: Optional[Path] = None, module_streams: Sequence[str] = ()) -> int:
    """Plan the rebuild of what ``changed`` affects and record the campaign (nothing is
    submitted yet); the source repos among ``repos`` (holding ``*.src.rpm``) are
    remembered for local builds."""
    graph = load_graph(repos, depth=depth, cache_dir=cache_dir, module_streams=module_streams)
    plan = make_plan(graph, changed)
    sources = [Path(r).resolve() for r in repos
               if not is_remote(str(r)) and any(Path(r).glob("*.src.rpm"))]
    return store.create_campaign(plan.changed, release, backend, plan_nodes(plan),
                                 target=target, mode=mode, sources=sources,
                                 workdir=None if workdir is None else Path(workdir).resolve())


class OptionError(ValueError):
    """Campaign options that do not go together. The message names options as
    ``{name}``; :meth:`worded` names them as the caller's user knows them (a command
    line flag, a JSON field)."""

    def __init__(self, template: str):
        super().__init__(template.format_map(_Named(lambda option: option)))
        self.template = template

    def worded(self, name: Callable[[str], str]) -> str:
        return self.template.format_map(_Named(name))


class _Named(dict):
    def __init__(self, name):
        super().__init__()
        self.name = name

    def __missing__(self, key):
        return self.name(key)


@dataclass(frozen=True)
class CampaignOptions:
    backend: str
    release: str
    depth: str
    target: str         # "local" for local builds
    mode: str           # "local" for local builds


def campaign_options(config: dict, backend: Optional[str] = None, release: Optional[str] = None,
                     depth: Optional[str] = None, target: Optional[str] = None,
                     mode: Optional[str] = None) -> CampaignOptions:
    """A new campaign's options: those given, else ``[campaign]``'s. Koji campaigns need a
    target; local ones take neither a target nor a mode (they build into their own
    repository). :class:`OptionError` when the options do not go together."""
    c = config["campaign"]
    backend = backend or c["backend"]
    release, depth = release or c["release"], depth or c["depth"]
    if backend == "koji":
        target, mode = target or c["target"], mode or c["mode"]
        if not target:
            raise OptionError("a koji rebuild needs {target} (or [campaign] target)")
        return CampaignOptions(backend, release, depth, target, mode)
    if mode == "sidetag" or target:
        raise OptionError("{mode} and {target} are koji settings; local builds go to the "
                          "campaign's own repository")
    return CampaignOptions(backend, release, depth, "local", "local")


def live_conflict(store: Store, names: Sequence[str], target: str) -> Optional[tuple]:
    """``(campaign id, name)`` of a live campaign already rebuilding after one of
    ``names`` for ``target`` (newer changes coalesce into it, so no new one starts);
    or None."""
    for name in names:
        live = store.live_campaign_for(name, target)
        if live is not None:
            return live, name
    return None


def plan_repos(config: dict, backend: str) -> list:
    """The repositories a campaign is planned from: ``[plan] repos``, and for local
    builds also the source repositories they rebuild from."""
    repos = list(config["plan"]["repos"])
    if backend == "local":
        repos += [r for r in config["local"]["source_repos"] if r not in repos]
    return repos


def default_config() -> dict:
    return copy.deepcopy(DEFAULTS)


def backend_for(row, config: dict, session: Optional[Callable] = None,
                workdir: Optional[Path] = None, source_repos: Optional[Sequence[Path]] = None):
    """The backend of a recorded campaign. ``session`` returns the koji session (called
    only for koji campaigns); directories default to what the campaign recorded."""
    if row.mode == "module":
        raise ValueError(f"campaign {row.id} builds the components of a module build, "
                         f"which drives it ({row.changed}): see discomy module-build")
    if row.backend == "koji":
        from discomy.orchestration.backends.koji import KojiBackend, profile_urls, session_for

        k = config["koji"]
        urls = {"weburl": k["weburl"], "topurl": k["topurl"]}
        if not k["server"] and not all(urls.values()):
            found = profile_urls(k["profile"])        # what the koji CLI links to
            urls = {key: value or found[key] for key, value in urls.items()}
        return KojiBackend(session() if session else session_for(k["profile"], k["server"]),
                           row.id, row.target, row.mode, scm_url=k["scm_url"],
                           sidetag=row.sidetag, dist=k["dist"],
                           release_suffix=k["release_suffix"], created_at=row.created_at,
                           start_event=row.start_event,
                           load_threshold=k["load_threshold"], retries=k["retries"],
                           backoff_seconds=k["retry_backoff_seconds"],
                           load_cache_seconds=k["poll_seconds"], **urls)
    from discomy.orchestration.backends.local import LocalBackend

    workdir = workdir or row.workdir or config["campaign"]["workdir"]
    source_repos = source_repos or row.source_repos or config["local"]["source_repos"]
    if not source_repos:
        raise ValueError(f"campaign {row.id} does not record its source repositories; "
                         f"name them")
    return LocalBackend(Path(workdir) / f"campaign-{row.id}", [Path(r) for r in source_repos],
                        row.id, dist=config["local"]["dist"])


def side_services(config: dict) -> tuple:
    """The CI gate (None for ``kind = "none"``) and the notifier (None when nothing is
    configured) of the config."""
    from discomy.orchestration.config import gate_config, notify_config
    from discomy.orchestration.gating import make_gate
    from discomy.orchestration.notify import Notifier

    gate = gate_config(config)
    notify = notify_config(config)
    return (make_gate(gate) if gate.kind != "none" else None,
            Notifier(notify) if notify else None)


def engine_settings(config: dict) -> EngineSettings:
    c = config["campaign"]
    return EngineSettings(c["max_in_flight"], c["max_in_flight_global"],
                          c["max_infra_retries"], c["priority_high"], c["priority_low"],
                          config["koji"]["poll_seconds"], config["notify"]["maintainer_email"])


def engine_for(store: Store, row, config: dict, backend, gate=None, notifier=None,
               metrics=None, on_change: Optional[Callable] = None) -> Engine:
    """The engine of a recorded campaign. The CI gate applies where builds are real:
    side-tag and local campaigns (scratch builds have no NVR a test system knows)."""
    if not (row.mode == "sidetag" or row.backend == "local"):
        gate = None
    return Engine(store, backend, row.id, settings=engine_settings(config), gate=gate,
                  notifier=notifier, metrics=metrics, on_change=on_change)


def run_campaign(store: Store, campaign_id: int, workdir: Optional[Path] = None,
                 source_repos: Optional[Sequence[Path]] = None, progress: bool = True,
                 config: Optional[dict] = None, session: Optional[Callable] = None,
                 gate=None, notifier=None) -> dict:
    """Run (or go on with) a recorded campaign in the foreground until it is finished,
    paused or cancelled; a summary of where it stands."""
    config = config or default_config()
    row = store.campaign(campaign_id)
    backend = backend_for(row, config, session, workdir, source_repos)
    display = Progress(store.nodes(campaign_id)) if progress else None
    engine = engine_for(store, row, config, backend, gate=gate, notifier=notifier,
                        on_change=display.update if display else None)
    try:
        state = engine.run()
    finally:
        if display:
            display.close()
    return summary(store, campaign_id, state, backend)


def summary(store: Store, campaign_id: int, state: str, backend=None) -> dict:
    nodes = store.nodes(campaign_id)
    row = store.campaign(campaign_id)
    out = {
        "campaign": campaign_id,
        "state": state,
        "backend": row.backend,
        "done": sorted(n for n, node in nodes.items() if node.state == "done"),
        "failed": sorted(n for n, node in nodes.items() if node.state == "failed"),
        "quarantined": sorted(n for n, node in nodes.items() if node.state == "quarantined"),
        "nvrs": sorted(filter(None, (node.nvr for node in nodes.values()))),
        # why each failed node failed, and where its last attempt's log is
        "failures": {n: {"class": node.failure_class, "reason": node.reason,
                         "attempts": node.attempts, "log": node.log}
                     for n, node in sorted(nodes.items()) if node.state == "failed"},
        "waiting": {n: node.reason for n, node in sorted(nodes.items())
                    if node.state == "quarantined"},
    }
    if row.note:
        out["note"] = row.note
    if getattr(backend, "repo", None) is not None:
        out["repo"] = str(backend.repo)
    if row.sidetag:
        out["sidetag"] = row.sidetag
    return out


class Progress:
    """One rich progress bar per tier, fed from the store after every transition. A bar
    fills with the nodes that are done; failed and quarantined ones are named beside it
    and leave it short, so a tier that cannot finish never looks finished."""

    def __init__(self, nodes: dict, label: str = "tier", first: int = 0):
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
        from rich.progress import Progress as Bars

        self.progress = Bars(TextColumn("{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TextColumn("{task.fields[note]}"))
        self.bars = {}
        for tier in sorted({n.tier for n in nodes.values()}):
            size = sum(1 for n in nodes.values() if n.tier == tier)
            self.bars[tier] = self.progress.add_task(f"{label} {tier + first}", total=size,
                                                     note="")
        self.progress.start()

    def update(self, nodes: dict) -> None:
        for tier, bar in self.bars.items():
            members = sorted((n for n in nodes.values() if n.tier == tier), key=lambda n: n.name)
            done = sum(1 for n in members if n.state == "done")
            note = " ".join(filter(None, (
                _names(label, [n.name for n in members if n.state == state])
                for state, label in (("building", "building"), ("failed", "failed:"),
                                     ("quarantined", "quarantined:")))))
            self.progress.update(bar, completed=done, note=note)

    def close(self) -> None:
        self.progress.stop()


def _names(label: str, names: list, shown: int = 6) -> str:
    if not names:
        return ""
    more = f" (+{len(names) - shown})" if len(names) > shown else ""
    return f"{label} {', '.join(names[:shown])}{more}"
