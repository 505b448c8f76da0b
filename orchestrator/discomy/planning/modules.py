"""Modules as plain data, and the decisions over them (pure core).

What a modulemd document says is read by :mod:`discomy.planning.modulemd`
(libmodulemd) into the frozen types here; everything decided from it lives here:

- stream expansion (:func:`expand`): each entry of a v2 ``dependencies`` list
  (or each v3 ``configuration``) becomes one build per combination of the
  buildrequired streams, as MBS expands them: ``[]`` is every known stream of
  that module, ``-x`` every known stream but x; a runtime requirement that lists
  the same streams as the buildrequirement is narrowed to the stream built
  against. Each expansion has a context: the one the document gives (v3, or a
  v2 static context), else a hash of its build and runtime requirements;
- the build order (:func:`order_components`): ``buildorder`` gives batches,
  ``buildafter`` a dependency DAG ordered with the planner core
  (:mod:`discomy.planning.graph`), so a cycle is refused with the cycle named;
  the two cannot be mixed;
- the version a module build gets (:func:`module_version`): the platform's
  version as a prefix (``el9.4.0`` -> ``90400``) before a timestamp, as MBS
  numbers module versions so a newer platform always sorts higher.

Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

PLATFORM = "platform"


class ModuleError(ValueError):
    """A module that cannot be built as written: one line naming what and where."""


@dataclass(frozen=True)
class Component:
    """One rpm component of a module, as the modulemd gives it."""
    name: str
    rationale: str = ""
    repository: Optional[str] = None
    ref: Optional[str] = None
    buildorder: int = 0
    buildafter: tuple = ()
    arches: tuple = ()
    buildonly: bool = False


@dataclass(frozen=True)
class Requirements:
    """One entry of a v2 ``dependencies`` list, or one v3 ``configuration``: module ->
    the streams it names (empty: every stream; ``-x``: every stream but x)."""
    buildrequires: Mapping[str, tuple] = field(default_factory=dict)
    requires: Mapping[str, tuple] = field(default_factory=dict)
    context: Optional[str] = None       # given by the document (v3, or a v2 static context)


@dataclass(frozen=True)
class ModuleSource:
    """A modulemd document as written: ``mdversion`` 2 (``document: modulemd``) or 3
    (``document: modulemd-packager``)."""
    name: str
    stream: str
    mdversion: int
    summary: str
    components: tuple                    # of Component, by name
    requirements: tuple                  # of Requirements
    version: int = 0                     # 0: not given
    static_context: bool = False

    def component(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class Expansion:
    """One build of a module stream: its context and its fixed build requirements."""
    context: str
    buildrequires: Mapping[str, str]     # module -> the one stream built against
    requires: Mapping[str, tuple]        # module -> streams needed at run time

    @property
    def platform(self) -> Optional[str]:
        return self.buildrequires.get(PLATFORM)


# names become koji tags, rpm names and file names: what RPM and koji allow in names
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


def check_names(source: ModuleSource, what: str = "modulemd") -> ModuleSource:
    """``source`` once its module name, stream and component names are names a koji tag,
    an rpm and a file may carry (no ``/``, no spaces, nothing leading with ``.`` or ``-``)."""
    for kind, value in [("module name", source.name), ("stream", source.stream)] + \
            [("component", c.name) for c in source.components]:
        if not _NAME.match(value or "") or ".." in value:
            raise ModuleError(f"{what}: {kind} {value!r} is not a name a module may use "
                              f"(letters, digits and . _ + -, not first)")
    return source


# ---- stream expansion -----------------------------------------------------------------------

def _streams_of(module: str, named: Sequence[str], available: Mapping[str, Sequence[str]],
                where: str) -> list:
    """The streams a buildrequirement names, resolved against the known streams."""
    positive = [s for s in named if not s.startswith("-")]
    negative = {s[1:] for s in named if s.startswith("-")}
    if positive and negative:
        raise ModuleError(f"{where}: buildrequires {module} mixes streams and excluded "
                          f"streams ({', '.join(named)})")
    if positive:
        return sorted(set(positive))
    known = sorted(set(available.get(module, ())) - negative)
    if not known:
        wanted = "every stream" if not negative else \
            f"every stream but {', '.join(sorted(negative))}"
        raise ModuleError(f"{where}: buildrequires {module}: {wanted}, and no stream of "
                          f"{module} is known")
    return known


def context_of(buildrequires: Mapping[str, str], requires: Mapping[str, Sequence[str]]) -> str:
    """A context from the requirements, as MBS derives one: the build context (a hash of
    ``module:stream`` buildrequirements) and the runtime context (of the requirements)
    hashed together, eight hex digits."""
    build = hashlib.sha1("".join(f"{m}:{s};" for m, s in sorted(buildrequires.items()))
                         .encode()).hexdigest()
    runtime = hashlib.sha1("".join(f"{m}:{','.join(sorted(s))};"
                                   for m, s in sorted(requires.items())).encode()).hexdigest()
    return hashlib.sha1((build + runtime).encode()).hexdigest()[:8]


def expand(source: ModuleSource, available: Mapping[str, Sequence[str]] = {}) -> list:
    """The builds a module stream expands to (:class:`Expansion`, by context), given the
    streams known of each buildrequired module (``available``, for ``[]`` and ``-x``)."""
    where = f"{source.name}:{source.stream}"
    found: dict = {}
    for number, req in enumerate(source.requirements or (Requirements(),)):
        at = f"{where}: dependencies[{number}]" if len(source.requirements) > 1 else where
        modules = sorted(req.buildrequires)
        choices = [_streams_of(m, req.buildrequires[m], available, at) for m in modules]
        for combination in itertools.product(*choices):
            build = dict(zip(modules, combination))
            runtime = {}
            for module, streams in sorted(req.requires.items()):
                if module in build and set(streams) == set(req.buildrequires.get(module, ())):
                    runtime[module] = (build[module],)
                else:
                    runtime[module] = tuple(streams)
            context = req.context or context_of(build, runtime)
            if context in found and (found[context].buildrequires, found[context].requires) \
                    != (build, runtime):
                raise ModuleError(f"{where}: context {context} is given to two different "
                                  f"sets of requirements")
            found[context] = Expansion(context, build, runtime)
    if source.static_context and len(found) > 1:
        raise ModuleError(f"{where}: a static context builds one set of requirements, and "
                          f"these expand to {len(found)}")
    return [found[c] for c in sorted(found)]


def narrow(expansions: Sequence[Expansion], contexts: Sequence[str]) -> list:
    """Only the expansions of ``contexts`` (every one when empty); an unknown one is an error."""
    if not contexts:
        return list(expansions)
    known = {e.context: e for e in expansions}
    missing = sorted(set(contexts) - set(known))
    if missing:
        raise ModuleError(f"no context {', '.join(missing)} (the module expands to "
                          f"{', '.join(sorted(known)) or 'none'})")
    return [known[c] for c in sorted(set(contexts))]


# ---- build order ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ComponentOrder:
    """How a module's components are built: ``kind`` "batches" (buildorder, a barrier per
    batch) or "dag" (buildafter, each component once its own dependencies are in)."""
    kind: str
    tiers: tuple                  # tuples of names: batches, or the DAG's tiers
    deps: Mapping[str, tuple]     # name -> the components it waits for
    remaining: Mapping[str, float]  # name -> the longest chain of builds from it (itself too)

    def tier_of(self, name: str) -> int:
        for i, tier in enumerate(self.tiers):
            if name in tier:
                return i
        raise KeyError(name)

    @property
    def release(self) -> str:
        """The campaign release mode this order builds with."""
        return "per-edge" if self.kind == "dag" else "per-tier"


def order_components(components: Sequence[Component],
                     durations: Optional[Mapping[str, float]] = None) -> ComponentOrder:
    """The order to build ``components`` in; ``durations`` (seconds, default 1 each) weigh
    the chains that decide priorities."""
    if not components:
        raise ModuleError("the module has no rpm components to build")
    names = [c.name for c in components]
    weight = {n: float((durations or {}).get(n, 1.0)) for n in names}
    after = [c.name for c in components if c.buildafter]
    ordered = [c.name for c in components if c.buildorder]
    if after and ordered:
        raise ModuleError(f"components mix buildorder ({ordered[0]}) and buildafter "
                          f"({after[0]}): a module uses one or the other")
    if after:
        return _dag(components, weight)
    batches: dict = {}
    for c in components:
        batches.setdefault(c.buildorder, []).append(c.name)
    tiers = tuple(tuple(sorted(batches[k])) for k in sorted(batches))
    deps, remaining = {}, {}
    for i, tier in enumerate(tiers):
        later = sum(max(weight[n] for n in t) for t in tiers[i + 1:])
        for name in tier:
            deps[name] = tiers[i - 1] if i else ()
            remaining[name] = weight[name] + later
    return ComponentOrder("batches", tiers, deps, remaining)


def _dag(components: Sequence[Component], weight: Mapping[str, float]) -> ComponentOrder:
    from discomy.planning.graph import graph_from_mapping
    from discomy.planning.planner import make_plan

    names = {c.name for c in components}
    for c in components:
        unknown = sorted(set(c.buildafter) - names)
        if unknown:
            raise ModuleError(f"component {c.name}: buildafter names {', '.join(unknown)}, "
                              f"which is not a component of this module")
        if c.name in c.buildafter:
            raise ModuleError(f"component {c.name}: buildafter names itself")
    deps = {c.name: tuple(sorted(set(c.buildafter))) for c in components}
    graph = graph_from_mapping(deps)
    if graph.cycles:
        members = set(graph.cycle_names()[0])
        raise ModuleError("buildafter forms a cycle: " + " -> ".join(_cycle_path(deps, members)))
    plan = make_plan(graph, (), durations=dict(weight), rebuild_all=True)
    tiers = tuple(tuple(sorted(t)) for t in plan.tiers)
    nodes = {name: plan.node(name) for name in deps}
    return ComponentOrder("dag", tiers, {n: node.deps for n, node in nodes.items()},
                          {n: node.remaining_seconds for n, node in nodes.items()})


def _cycle_path(deps: Mapping[str, Sequence[str]], members: set) -> list:
    """One cycle through ``members`` (a strongly connected set), as a path that ends where
    it starts: the first name, then what it is built after, and so on."""
    start = min(members)
    path, seen = [start], {start: 0}
    node = start
    while True:
        node = min(d for d in deps[node] if d in members)
        if node in seen:
            return path[seen[node]:] + [node]
        seen[node] = len(path)
        path.append(node)


# ---- versions --------------------------------------------------------------------------------

_PLATFORM_VERSION = re.compile(r"^[a-z]*?(\d+)((?:\.\d+){1,2})?(?:\.z)?$")


def platform_version(stream: Optional[str]) -> Optional[int]:
    """The platform's version as MBS prefixes module versions with it: ``el9.4.0`` ->
    90400 (major, minor and patch, two digits each), ``el9`` -> 9, ``f39`` -> 39; None
    when the stream has no version in it."""
    found = _PLATFORM_VERSION.match(stream or "")
    if not found:
        return None
    major = int(found.group(1))
    if not found.group(2):
        return major
    minor, patch = ([int(p) for p in found.group(2)[1:].split(".")] + [0])[:2]
    if minor > 99 or patch > 99:
        return None
    return major * 10000 + minor * 100 + patch


def module_version(timestamp: str, platform: Optional[str]) -> int:
    """The version of a module build made at ``timestamp`` (``YYYYMMDDHHMMSS``), prefixed
    with the platform's version when it has one."""
    if not re.fullmatch(r"\d{14}", timestamp):
        raise ValueError(f"not a YYYYMMDDHHMMSS timestamp: {timestamp!r}")
    prefix = platform_version(platform)
    version = int(f"{prefix}{timestamp}") if prefix is not None else int(timestamp)
    # modulemd versions are unsigned 64-bit numbers
    return version if version < 2 ** 64 else int(timestamp)
