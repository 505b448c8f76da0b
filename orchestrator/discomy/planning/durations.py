"""How long a package takes to build when koji's history does not say (pure core).

Reference seconds on the reference builder (speed 1.0). Real history wins: pass
``discomy plan --durations FILE.json`` (name -> seconds, e.g. exported from koji's
``getAverageBuildDuration`` or buildArch task times). Without it the model below
turns the source package size into a duration:

    seconds = BASE + PER_MIB * size_MiB ** EXPONENT, capped at CAP

which gives 3 min for a 1 MiB source, ~8 min for 10 MiB, ~42 min for 100 MiB and
~4 h for 1 GiB. Size is a loose proxy (data-only packages are big and fast), so
the model is deliberately sublinear.

A known duration is 0 to 30 days (:data:`MAX_SECONDS`): a longer one is a unit
mistake (milliseconds?), and a non-finite one would break the estimate.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from discomy.common.units import short_repr

BASE_SECONDS = 120.0
PER_MIB_SECONDS = 60.0
EXPONENT = 0.8
CAP_SECONDS = 12 * 3600.0
MAX_SECONDS = 30 * 86400.0


def duration_seconds(size_bytes: int) -> float:
    """Modelled reference build time of a source package of ``size_bytes``."""
    return float(model_durations(np.asarray([size_bytes]))[0])


def model_durations(sizes_bytes: np.ndarray) -> np.ndarray:
    mib = np.maximum(np.asarray(sizes_bytes, dtype=np.float64), 0.0) / (1024 * 1024)
    return np.minimum(BASE_SECONDS + PER_MIB_SECONDS * mib ** EXPONENT, CAP_SECONDS)


def durations_array(names: Sequence[str], sizes_bytes: np.ndarray,
                    known: Optional[Mapping[str, float]] = None) -> np.ndarray:
    """Per-package seconds: ``known`` where given, else the size model."""
    out = model_durations(sizes_bytes)
    if known:
        index = {name: i for i, name in enumerate(names)}
        for name, seconds in known.items():
            i = index.get(name)
            if i is not None:
                out[i] = float(seconds)
    return out


def validate_durations(data: object, source: str = "durations") -> dict:
    """Check a name -> seconds mapping; raises ValueError naming the first bad entry."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected an object mapping package names to seconds")
    out = {}
    for name, seconds in data.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{source}: package name {short_repr(name)} is not a string")
        # NaN fails the range test too
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not 0 <= seconds <= MAX_SECONDS:
            raise ValueError(f"{source}: {short_repr(name, 100)}: {short_repr(seconds)} is not "
                             f"a number of seconds from 0 to {MAX_SECONDS:.0f} (30 days)")
        out[name] = float(seconds)
    return out
