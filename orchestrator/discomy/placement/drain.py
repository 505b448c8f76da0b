"""Drain: one state of a builder, three switches (pure core).

A builder takes no new task while any switch is on; its running tasks finish:

- ``builder``: the flag file ``discomy-builder drain`` writes on the builder (no
  koji permission needed; the builder publishes it as ``draining`` in its host data);
- ``hub``: ``koji drain-host`` (``discomy.drainHost``), kept by the hub plugin,
  which the builder reads back every loop;
- koji's own ``koji disable-host``: the hub's scheduler stops seeing the host.

The builder plugin reports itself not ready while draining or disabled, and hands
back at once (soft refusal) any task still assigned to it. Each end shows both
Discomy switches, and undraining one end names the other when it still holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

BUILDER = "builder"
HUB = "hub"


@dataclass(frozen=True)
class DrainState:
    flag: bool = False               # discomy-builder drain
    hub: Optional[bool] = None       # koji drain-host; None: the hub cannot say
    disabled: bool = False           # koji disable-host

    @property
    def draining(self) -> bool:
        return self.flag or bool(self.hub)

    @property
    def sources(self) -> list:
        return drain_sources(builder=self.flag, hub=bool(self.hub))

    def hand_back_reason(self) -> Optional[str]:
        """Why a task assigned to this builder goes back to the hub now (None: keep it)."""
        if self.draining:
            return describe(self.sources)
        if self.disabled:
            return "host disabled (koji disable-host)"
        return None


def drain_sources(builder: bool, hub: bool) -> list:
    """Which switches hold a host, as both ends show them: ``[]``, ``["hub"]``, ..."""
    return [name for name, on in ((HUB, hub), (BUILDER, builder)) if on]


def describe(sources) -> str:
    """``draining (koji drain-host)`` and the like, for logs, refusals and status lines."""
    words = {HUB: "koji drain-host", BUILDER: "discomy-builder drain"}
    if not sources:
        return "not draining"
    return "draining (" + " and ".join(words[s] for s in sources) + ")"


def still_held(sources, lifted: str, host: str) -> Optional[str]:
    """After undraining ``lifted``, the sentence naming the switch that still holds ``host``."""
    rest = [s for s in sources if s != lifted]
    if BUILDER in rest:
        return (f"{host} is still draining by its own flag: run `discomy-builder undrain` "
                f"on {host}")
    if HUB in rest:
        return f"{host} is still drained on the hub: run `koji undrain-host {host}`"
    return None
