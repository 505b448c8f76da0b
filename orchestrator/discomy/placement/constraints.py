"""Package constraints: what a package's build needs from a builder.

Constraints are a mapping of source-package glob -> constraints, kept in a build
tag's ``extra`` under ``discomy.constraints`` (inherited like other tag extra)
and, as defaults, in the hub config ``/etc/koji-hub/plugins/discomy.conf``::

    {"llvm*": {"memory": "32G", "disk": "80G", "cpus": 16, "power": true},
     "kernel": {"virt": "kvm"}, "*-firmware": {"features": ["ssd"]}}

Stable interface (used by the hub plugin, the builder plugin and the CLI):

- ``Constraints``: frozen dataclass ``memory_mb, disk_mb, cpus, power, virt,
  features``; ``None`` / empty means "no requirement".
- ``parse_constraints(value, strict=True) -> (Constraints, warnings)``: one
  glob's constraints.
- ``parse_rules(mapping, strict=True) -> (dict[glob, Constraints], warnings)``:
  a whole ``discomy.constraints`` mapping. ``strict=True`` is for writes:
  unknown keys or bad values raise :class:`ConstraintError` with one clear
  sentence. ``strict=False`` is for reads: bad entries are dropped and reported
  as warnings, so one typo never stops scheduling.
- ``to_json(Constraints) -> dict`` / ``rules_to_json(rules) -> dict``: the
  normalised form written back into tag extra.
- ``best_match(rules, package) -> (glob, Constraints) | None``: the most
  specific matching glob (see :func:`glob_specificity`).
- ``resolve(package, defaults, tag_rules) -> Constraints``: the hub defaults'
  best match (lower-case globs, matched regardless of case), overridden key by
  key by the tag's best match (the tag wins).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional

from discomy.common.nvr import name_of_srpm
from discomy.common.units import SizeError, format_size_mb, parse_size_mb
from discomy.placement.hostdata import VIRT_KINDS

TAG_EXTRA_KEY = "discomy.constraints"
CONSTRAINT_KEYS = ("memory", "disk", "cpus", "power", "virt", "features")
_WILDCARDS = "*?["
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_FEATURE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+:-]*$")


class ConstraintError(ValueError):
    """Constraints that cannot be accepted; the message is one sentence naming the culprit."""


@dataclass(frozen=True)
class Constraints:
    """A package's needs. ``None`` / ``()`` means "no requirement" for that key.

    ``virt`` lists acceptable virtualization kinds (any one of them will do);
    ``features`` lists feature tags the host must all have.
    """

    memory_mb: Optional[int] = None
    disk_mb: Optional[int] = None
    cpus: Optional[int] = None
    power: Optional[bool] = None
    virt: tuple = ()
    features: tuple = ()

    def is_empty(self) -> bool:
        return self == Constraints()

    def describe(self) -> str:
        """Short human text: ``memory>=32 GiB cpus>=16 power``."""
        parts = []
        if self.memory_mb is not None:
            parts.append(f"memory>={format_size_mb(self.memory_mb)}")
        if self.disk_mb is not None:
            parts.append(f"disk>={format_size_mb(self.disk_mb)}")
        if self.cpus is not None:
            parts.append(f"cpus>={self.cpus}")
        if self.virt:
            parts.append("virt=" + "|".join(self.virt))
        if self.features:
            parts.append("features=" + ",".join(self.features))
        if self.power:
            parts.append("power")
        return " ".join(parts) or "none"


def _size(key: str, value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise ConstraintError(f"{where}{key} must be a size like '16G', not {value!r}")
    try:
        return parse_size_mb(value)
    except SizeError as exc:
        raise ConstraintError(f"{where}{key}: {exc}") from None


def _cpus(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise ConstraintError(f"{where}cpus must be a whole number of at least 1, not {value!r}")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value < 1:
        raise ConstraintError(f"{where}cpus must be a whole number of at least 1, not {value!r}")
    return value


def _power(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConstraintError(f"{where}power must be true or false, not {value!r}")


def _string_list(key: str, value: Any, where: str) -> tuple:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConstraintError(f"{where}{key} must be a name or a list of names, not {value!r}")
    for item in value:
        if not _FEATURE_RE.match(item):
            raise ConstraintError(f"{where}{key} entry {item!r} is not a valid name")
    return tuple(sorted(set(value)))


def _virt(value: Any, where: str) -> tuple:
    kinds = _string_list("virt", value, where)
    for kind in kinds:
        if kind not in VIRT_KINDS:
            raise ConstraintError(
                f"{where}virt {kind!r} is not one of {', '.join(VIRT_KINDS)}")
    return kinds


_PARSERS = {
    "memory": lambda v, w: ("memory_mb", _size("memory", v, w)),
    "disk": lambda v, w: ("disk_mb", _size("disk", v, w)),
    "cpus": lambda v, w: ("cpus", _cpus(v, w)),
    "power": lambda v, w: ("power", _power(v, w)),
    "virt": lambda v, w: ("virt", _virt(v, w)),
    "features": lambda v, w: ("features", _string_list("features", v, w)),
}


def parse_constraints(value: Any, strict: bool = True,
                      where: str = "") -> tuple[Constraints, list[str]]:
    """Parse one glob's constraints mapping.

    ``where`` prefixes messages (e.g. ``"llvm*: "``). In strict mode the first
    problem raises :class:`ConstraintError`; otherwise bad keys are skipped and
    reported in the returned warnings.
    """
    warnings: list[str] = []
    if not isinstance(value, Mapping):
        msg = f"{where}constraints must be a mapping of {', '.join(CONSTRAINT_KEYS)}, not {value!r}"
        if strict:
            raise ConstraintError(msg)
        return Constraints(), [msg + "; ignored"]
    fields: dict = {}
    for key in sorted(value, key=str):
        if key not in _PARSERS:
            msg = (f"{where}unknown constraint {key!r}; "
                   f"known constraints are {', '.join(CONSTRAINT_KEYS)}")
            if strict:
                raise ConstraintError(msg)
            warnings.append(msg + "; ignored")
            continue
        try:
            name, parsed = _PARSERS[key](value[key], where)
        except ConstraintError as exc:
            if strict:
                raise
            warnings.append(f"{exc}; ignored")
            continue
        fields[name] = parsed
    return Constraints(**fields), warnings


def _check_glob(glob: Any) -> str:
    if not isinstance(glob, str) or not glob.strip() or glob != glob.strip():
        raise ConstraintError(f"package glob {glob!r} must be a non-empty name or glob without spaces")
    if any(c.isspace() for c in glob):
        raise ConstraintError(f"package glob {glob!r} must not contain spaces")
    return glob


def parse_rules(raw: Any, strict: bool = True) -> tuple[dict, list[str]]:
    """Parse a glob -> constraints mapping (tag extra ``discomy.constraints``)."""
    warnings: list[str] = []
    if raw is None:
        return {}, warnings
    if not isinstance(raw, Mapping):
        msg = f"{TAG_EXTRA_KEY} must be a mapping of package glob to constraints, not {type(raw).__name__}"
        if strict:
            raise ConstraintError(msg)
        return {}, [msg + "; ignored"]
    rules: dict = {}
    for glob in sorted(raw, key=str):
        try:
            _check_glob(glob)
        except ConstraintError as exc:
            if strict:
                raise
            warnings.append(f"{exc}; ignored")
            continue
        parsed, more = parse_constraints(raw[glob], strict=strict, where=f"{glob}: ")
        warnings.extend(more)
        rules[glob] = parsed
    return rules, warnings


def to_json(constraints: Constraints) -> dict:
    """The normalised JSON form (sizes as ``"<n>M"`` strings, lists sorted)."""
    out: dict = {}
    if constraints.memory_mb is not None:
        out["memory"] = f"{constraints.memory_mb}M"
    if constraints.disk_mb is not None:
        out["disk"] = f"{constraints.disk_mb}M"
    if constraints.cpus is not None:
        out["cpus"] = constraints.cpus
    if constraints.power is not None:
        out["power"] = constraints.power
    if constraints.virt:
        out["virt"] = list(constraints.virt)
    if constraints.features:
        out["features"] = list(constraints.features)
    return out


def rules_to_json(rules: Mapping[str, Constraints]) -> dict:
    return {glob: to_json(rules[glob]) for glob in sorted(rules)}


def glob_specificity(glob: str) -> tuple:
    """Sort key: smaller is more specific.

    An exact name (no ``*``, ``?`` or ``[``) beats every glob; then the glob
    with more literal characters; then the one with fewer wildcard characters;
    then the glob text itself, so the choice never depends on mapping order.
    """
    wildcards = sum(glob.count(c) for c in _WILDCARDS)
    literal = len(re.sub(r"\[[^\]]*\]|[*?]", "", glob))
    return (0 if wildcards == 0 else 1, -literal, wildcards, glob)


def best_match(rules: Mapping[str, Constraints],
               package: str) -> Optional[tuple[str, Constraints]]:
    """The most specific glob in ``rules`` matching ``package`` (case-sensitive)."""
    if package in rules:
        return package, rules[package]
    matches = [g for g in rules if fnmatch.fnmatchcase(package, g)]
    if not matches:
        return None
    glob = min(matches, key=glob_specificity)
    return glob, rules[glob]


def override(base: Constraints, top: Constraints) -> Constraints:
    """``base`` with every key that ``top`` sets replaced by ``top``'s value."""
    changes = {}
    for name in ("memory_mb", "disk_mb", "cpus", "power"):
        if getattr(top, name) is not None:
            changes[name] = getattr(top, name)
    for name in ("virt", "features"):
        if getattr(top, name):
            changes[name] = getattr(top, name)
    return replace(base, **changes)


def resolve(package: str, defaults: Mapping[str, Constraints],
            tag_rules: Mapping[str, Constraints]) -> Constraints:
    """A package's constraints: hub default's best match, overridden by the tag's best match.

    The hub defaults' globs are lower case (koji's config reader folds option
    names), so they are matched against the lower-cased name; the tag's match case.
    """
    result = Constraints()
    for rules, name in ((defaults, package.lower()), (tag_rules, package)):
        match = best_match(rules, name)
        if match is not None:
            result = override(result, match[1])
    return result


_EXPR_RE = re.compile(r"^\s*(memory|disk|cpus|virt|features|power)\s*(?:(>=|=)\s*(\S+))?\s*$")


def check_expression(expr: str) -> None:
    """Raise :class:`ConstraintError` unless ``expr`` is a valid :func:`meets_expression` term."""
    match = _EXPR_RE.match(expr)
    if not match:
        raise ConstraintError(
            f"{expr!r} is not a constraint test such as 'power', 'memory>=32G', 'cpus>=16', "
            "'virt=kvm' or 'features=ssd'")
    key, op, value = match.groups()
    if op is None:
        return
    if key in ("memory", "disk") and op == ">=":
        _size(key, value, "")
    elif key == "cpus" and op == ">=":
        _cpus(value, "")
    elif key in ("virt", "features") and op == "=":
        _string_list(key, value, "")
    else:
        raise ConstraintError(f"{expr!r}: {key} takes {'=' if key in ('virt', 'features') else '>='}")


def meets_expression(constraints: Constraints, expr: str) -> bool:
    """Does a package's constraints satisfy a policy term?

    ``power`` (a power job), ``memory`` / ``disk`` / ``cpus`` / ``virt`` /
    ``features`` alone (the key is set), ``memory>=32G``, ``disk>=80G``,
    ``cpus>=16`` (the requirement is at least that), ``virt=kvm``,
    ``features=ssd`` (that one is required).
    """
    check_expression(expr)
    key, op, value = _EXPR_RE.match(expr).groups()
    if key == "power":
        return bool(constraints.power)
    field = {"memory": "memory_mb", "disk": "disk_mb"}.get(key, key)
    have = getattr(constraints, field)
    if op is None:
        return bool(have) if key in ("virt", "features") else have is not None
    if key in ("memory", "disk"):
        return have is not None and have >= _size(key, value, "")
    if key == "cpus":
        return have is not None and have >= _cpus(value, "")
    return set(_string_list(key, value, "")) <= set(have)


def package_from_source(source: Optional[str]) -> Optional[str]:
    """The package name in a build source: an SRPM path or an SCM URL.

    ``"tasks/1/2/llvm-17.0.6-1.el9.src.rpm"`` -> ``"llvm"``;
    ``"git+https://git.example/rpms/llvm.git#abc"`` -> ``"llvm"``.
    """
    if not source:
        return None
    text = str(source).split("#", 1)[0].split("?", 1)[0].rstrip("/")
    base = text.rsplit("/", 1)[-1]
    if base.endswith(".src.rpm"):
        return name_of_srpm(base)
    if base.endswith(".git"):
        base = base[:-4]
    if ":" in base or not base:
        return None
    return base
