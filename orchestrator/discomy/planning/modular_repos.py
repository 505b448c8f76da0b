"""Modular repositories as dnf sees them (pure core).

A repository whose repodata has ``modules`` (``modules.yaml``) ships module
streams: each lists the rpms it is made of (its artifacts). dnf shows only some
of them, and the build graph must see what a buildroot would:

- a module's *active* stream is the one enabled (``--module-stream NAME:STREAM``),
  or one an active stream requires at run time (the default among those it
  names, else the first), or else its default stream (``modulemd-defaults``); a
  module with none of these has no active stream;
- packages of streams that are not active are hidden;
- non-modular packages that share a name with a package of an active stream are
  hidden, so module packages and non-modular ones of the same name never mix;
- every other non-modular package stays.

:func:`modular_filter` decides it from plain data (the streams and defaults
:func:`discomy.planning.modulemd.read_index` read), and
:meth:`ModularFilter.hides` answers per package. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

PLATFORM = "platform"


class ModularError(ValueError):
    """A module stream asked for that the repositories do not have."""


@dataclass(frozen=True)
class ModularFilter:
    active: Mapping[str, str] = field(default_factory=dict)     # module -> active stream
    shown: frozenset = frozenset()          # NEVRAs of the active streams' packages
    modular: frozenset = frozenset()        # NEVRAs of every stream's packages
    masked_names: frozenset = frozenset()   # names only active streams may provide

    def hides(self, name: str, nevra: str) -> bool:
        """Whether the package ``name`` (``nevra``: ``name-epoch:version-release.arch``)
        is hidden: a package of a stream that is not active, or a non-modular package
        named like a package of an active stream."""
        if nevra in self.modular:
            return nevra not in self.shown
        return name in self.masked_names


def nevra_name(nevra: str) -> str:
    return nevra.rsplit("-", 2)[0]


def parse_stream_option(text: str) -> tuple:
    """``NAME:STREAM`` (``--module-stream``) as a pair."""
    name, sep, stream = str(text).partition(":")
    if not sep or not name or not stream or ":" in stream:
        raise ModularError(f"{text!r} is not NAME:STREAM (e.g. nodejs:20)")
    return name, stream


def modular_filter(streams: Sequence, defaults: Mapping[str, str],
                   enabled: Iterable[tuple] = ()) -> ModularFilter:
    """What dnf shows of the ``streams`` (objects with ``name``, ``stream``,
    ``artifacts`` and ``requires``) given the default streams and the ``enabled``
    ``(name, stream)`` pairs."""
    known: dict = {}
    for s in streams:
        known.setdefault(s.name, {}).setdefault(s.stream, []).append(s)
    chosen = dict(enabled)
    for name, stream in chosen.items():
        if stream not in known.get(name, {}):
            have = ", ".join(f"{name}:{x}" for x in sorted(known.get(name, {}))) or "none"
            raise ModularError(f"--module-stream {name}:{stream}: the repositories have no "
                               f"such stream (they have {have})")
    # enabled streams first, then what they require, then the defaults of the rest (and
    # what those require): a stream something requires wins over a module's default
    active: dict = {}
    pending = list(chosen.items()) + sorted(defaults.items())
    while pending:
        name, stream = pending.pop(0)
        if name in active or stream not in known.get(name, {}):
            continue
        active[name] = stream
        required = []
        for s in known[name][stream]:
            for needed, wanted in sorted(s.requires.items()):
                if needed == PLATFORM or needed in active or needed not in known:
                    continue
                options = [w for w in wanted if not w.startswith("-")] or sorted(known[needed])
                default = defaults.get(needed)
                required.append((needed, default if default in options else sorted(options)[0]))
        pending[:0] = required
    modular = frozenset(a for s in streams for a in s.artifacts)
    shown = frozenset(a for name, stream in active.items() for s in known[name][stream]
                      for a in s.artifacts)
    return ModularFilter(dict(sorted(active.items())), shown, modular,
                         frozenset(nevra_name(a) for a in shown))
