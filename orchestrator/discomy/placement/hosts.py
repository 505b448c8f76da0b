"""A build host as the scheduler sees it: koji's host row plus the Discomy host data.

Pure. :meth:`HostCapabilities.from_koji` converts a ``TaskScheduler._get_hosts()``
row (unknown host-data keys become warnings, never errors);
:meth:`HostCapabilities.from_data` is a builder describing itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from discomy.placement.hostdata import HostData, from_host_data


@dataclass(frozen=True)
class HostCapabilities:
    """One enabled host as the scheduler sees it, with Discomy's host data."""

    host_id: int
    name: str
    arches: tuple = ()
    channels: tuple = ()
    capacity: float = 2.0
    task_load: float = 0.0
    ready: bool = True
    maxjobs: Optional[int] = None  # host data ``maxjobs``; None -> hub MaxJobs
    data: HostData = field(default_factory=HostData)
    drained: bool = False  # drained on the hub by an admin
    update_ts: Optional[float] = None

    @property
    def draining(self) -> bool:
        return self.drained or self.data.draining

    @property
    def speed(self) -> Optional[float]:
        return self.data.speed

    @classmethod
    def from_data(cls, name: str, data: HostData, host_id: int = 0,
                  arches: Sequence[str] = ()) -> "HostCapabilities":
        """A builder describing itself (the builder plugin, before it takes a task)."""
        return cls(host_id=host_id, name=name, arches=tuple(arches), data=data)

    @classmethod
    def from_koji(cls, row: Mapping[str, Any],
                  drained: bool = False) -> "tuple[HostCapabilities, list[str]]":
        """From a ``TaskScheduler._get_hosts()`` row; unknown host-data keys give warnings."""
        raw = row.get("data") or {}
        if not isinstance(raw, Mapping):
            raw = {}
        data, warnings = from_host_data(raw)
        name = str(row.get("name"))
        maxjobs = raw.get("maxjobs")
        if isinstance(maxjobs, bool) or not isinstance(maxjobs, (int, float)):
            maxjobs = None
        host = cls(
            host_id=int(row["id"]),
            name=name,
            arches=tuple(str(row.get("arches") or "").split()),
            channels=tuple(row.get("channels") or ()),
            capacity=float(row.get("capacity") or 0.0),
            task_load=float(row.get("task_load") or 0.0),
            ready=bool(row.get("ready")),
            maxjobs=maxjobs,
            data=data,
            drained=drained,
            update_ts=row.get("update_ts"),
        )
        return host, [f"{name}: {w}" for w in warnings]
