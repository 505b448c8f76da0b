"""The CI gate between tiers or edges: no gate, or ResultsDB.

The decision is pure (:func:`decide`): every required testcase must have a
passing latest result for the build's NVR (item = NVR, type = koji_build);
a failing one fails the gate, a missing one keeps it pending until the timeout,
which fails it with a reason. ``NEEDS_INSPECTION`` counts as failed; a later
result for the same testcase supersedes an earlier one (a re-run that passed).
The shell (:class:`ResultsDBGate`) asks ResultsDB through ``resultsdb_api``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from discomy.common.settings import check_keys

PASSING = {"PASSED", "INFO"}
FAILING = {"FAILED", "NEEDS_INSPECTION", "ERROR"}


class GateConfigError(ValueError):
    """Gate settings that cannot work; the message names the key."""


@dataclass(frozen=True)
class GateVerdict:
    state: str            # "pass", "fail" or "pending"
    reason: str = ""


@dataclass(frozen=True)
class GateConfig:
    kind: str = "none"                    # "none" or "resultsdb"
    url: str = ""
    testcases: tuple = ()
    timeout_seconds: float = 6 * 3600.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "[gate]") -> "GateConfig":
        values = check_keys(cls, data, where, GateConfigError)
        values["testcases"] = tuple(values.get("testcases", ()))
        config = cls(**values)
        if config.kind not in ("none", "resultsdb"):
            raise GateConfigError(f"{where}: kind must be 'none' or 'resultsdb', got {config.kind!r}")
        if config.kind == "resultsdb" and (not config.url or not config.testcases):
            raise GateConfigError(f"{where}: a resultsdb gate needs url and testcases")
        return config


def _latest(results: Iterable[Mapping], nvr: str) -> dict:
    latest: dict = {}
    for result in results:
        data = result.get("data") or {}
        items = data.get("item") or []
        if nvr not in (items if isinstance(items, list) else [items]):
            continue
        name = (result.get("testcase") or {}).get("name")
        stamp = result.get("submit_time") or ""
        if name and (name not in latest or stamp >= latest[name][0]):
            latest[name] = (stamp, str(result.get("outcome", "")).upper())
    return {name: outcome for name, (_, outcome) in latest.items()}


def decide(results: Iterable[Mapping], nvr: str, required: Iterable[str],
           waited_seconds: float, timeout_seconds: float) -> GateVerdict:
    """The gate's verdict for ``nvr`` from ResultsDB results (newest per testcase wins)."""
    outcome = _latest(results, nvr)
    failed = sorted(t for t in required if outcome.get(t) in FAILING)
    if failed:
        return GateVerdict("fail", f"{nvr}: {', '.join(f'{t} {outcome[t]}' for t in failed)}")
    missing = sorted(t for t in required if outcome.get(t) not in PASSING)
    if not missing:
        return GateVerdict("pass", f"{nvr}: all {len(list(required))} required tests passed")
    if waited_seconds >= timeout_seconds:
        return GateVerdict("fail", f"{nvr}: no passing result for {', '.join(missing)} "
                                   f"after {waited_seconds / 60:.0f} min")
    return GateVerdict("pending", f"{nvr}: waiting for {', '.join(missing)}")


class NoGate:
    def check(self, nvr: str, waited_seconds: float = 0.0) -> GateVerdict:
        return GateVerdict("pass", "no gate")


class ResultsDBGate:
    def __init__(self, config: GateConfig, api: Optional[Any] = None):
        self.config = config
        if api is None:
            import resultsdb_api

            api = resultsdb_api.ResultsDBapi(config.url)
        self.api = api

    def check(self, nvr: str, waited_seconds: float = 0.0) -> GateVerdict:
        try:
            response = self.api.get_results(item=nvr, type="koji_build",
                                            testcases=",".join(self.config.testcases))
        except Exception as exc:   # ResultsDB down: keep waiting, the timeout decides
            if waited_seconds >= self.config.timeout_seconds:
                return GateVerdict("fail", f"{nvr}: ResultsDB unreachable ({exc.__class__.__name__})")
            return GateVerdict("pending", f"{nvr}: ResultsDB unreachable ({exc.__class__.__name__})")
        return decide(response.get("data", []), nvr, self.config.testcases, waited_seconds,
                      self.config.timeout_seconds)


def make_gate(config: GateConfig):
    return ResultsDBGate(config) if config.kind == "resultsdb" else NoGate()
