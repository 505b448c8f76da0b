"""The orchestrator's configuration: ``/etc/discomy/orchestrator.toml``.

Every option has a default (:data:`DEFAULTS`), so an empty or missing file
gives a working embedded setup: the local backend and an SQLite store. The
file is read once with :mod:`tomllib`; an unknown section or key, or a value of
the wrong type or out of range, raises :class:`ConfigError` with one sentence
naming the file, the key and the reason. Relative paths in the file
(:data:`PATH_KEYS`) are relative to the file's own directory, so a config
means the same from any working directory. The documented example is
``orchestrator.example.toml`` next to this module.
"""

from __future__ import annotations

import copy
try:
    import tomllib
except ImportError:     # Python < 3.11 (EL9): the same parser as a package
    import tomli as tomllib
from pathlib import Path
from typing import Any, Mapping, Optional

from .notify import DEFAULT_SUBJECT, DEFAULT_TEXT
from .paths import absolute, absolute_location, absolute_store_url

DEFAULT_PATH = Path("/etc/discomy/orchestrator.toml")

DEFAULTS: dict = {
    "store": {
        "url": "sqlite:////var/lib/discomy/orchestrator.sqlite",
    },
    "campaign": {
        "backend": "local",              # local | koji
        "target": "",                    # koji build target of automatic campaigns
        "mode": "scratch",               # scratch | sidetag
        "release": "per-tier",           # per-tier | per-edge
        "depth": "direct",               # planner depth: direct | buildroot
        "max_in_flight": 10,             # per campaign
        "max_in_flight_global": 50,      # across campaigns
        "max_infra_retries": 3,
        "priority_high": 20,             # koji priority of the longest chain
        "priority_low": 30,              # koji priority of the shortest
        "workdir": "/var/lib/discomy/campaigns",
    },
    "plan": {
        "repos": [],                     # rpm-md repos (directories or URLs) the plan is made from
        "cache_dir": "/var/cache/discomy",
    },
    "watch": {
        "packages": [],                  # a COMPLETE build of one of these starts a campaign
        "tags": [],                      # ... when tagged into one of these (empty: any build)
    },
    "koji": {
        "profile": "koji",
        "server": "",
        "scm_url": "",                   # "{name}" template; empty: the latest build's source
        "dist": "",                      # side tags' %dist; empty: the build tag's rpm.macro.dist
        "release_suffix": ".discomy{campaign}",
        "retries": 5,
        "retry_backoff_seconds": 2.0,
        "load_threshold": 0.8,           # hold back above this share of arch capacity
        "poll_seconds": 30.0,
        "weburl": "",                    # koji web, for task links; empty: the profile's
        "topurl": "",                    # koji's file server, for build log links; ditto
    },
    "local": {
        "source_repos": [],
        "dist": ".el9",
    },
    "messaging": {
        "amqp_url": "",
        "topic_prefix": "org.fedoraproject.prod",
        "topics": [],                    # empty: the buildsys.* topics under topic_prefix
        "queue": "discomy",
        "queue_durable": True,
        "prefetch": 100,
        "batch": 100,                    # events stored per commit when they queue up
        "dead_letter_exchange": "",
        "amqp10_url": "",
        "amqp10_source": "/topic/koji.#",
        "amqp10_prefix": "koji",
        "tls_ca_cert": "",
        "tls_certfile": "",
        "tls_keyfile": "",
        "reconcile_seconds": 300,
        "reconnect_max_seconds": 60.0,   # backoff cap between attempts to reach a broker
    },
    "notify": {
        "smtp_host": "",
        "smtp_port": 25,
        "mail_from": "discomy@localhost",
        "mail_to": [],
        "webhook_url": "",
        "webhook_secret": "",
        "rate_per_hour": 20.0,
        "burst": 5,
        "subject_template": DEFAULT_SUBJECT,
        "text_template": DEFAULT_TEXT,
        "maintainer_email": "",          # "$owner@example.org": mail a failed package's owner
    },
    "gate": {
        "kind": "none",                  # none | resultsdb
        "url": "",
        "testcases": [],
        "timeout_seconds": 21600.0,
    },
    "metrics": {
        "port": 0,                       # 0: no metrics endpoint
        "address": "127.0.0.1",
    },
}

CHOICES = {
    ("campaign", "backend"): ("local", "koji"),
    ("campaign", "mode"): ("scratch", "sidetag"),
    ("campaign", "release"): ("per-tier", "per-edge"),
    ("campaign", "depth"): ("direct", "buildroot"),
    ("gate", "kind"): ("none", "resultsdb"),
}
POSITIVE = {("campaign", "max_in_flight"), ("campaign", "max_in_flight_global"),
            ("koji", "poll_seconds"), ("messaging", "reconcile_seconds"), ("notify", "burst"),
            ("messaging", "prefetch"), ("messaging", "batch"),
            ("messaging", "reconnect_max_seconds")}


# keys naming files or directories; [store] url is an SQLAlchemy URL whose SQLite file
# may be relative, and [plan] repos may also hold URLs
PATH_KEYS = {("campaign", "workdir"), ("plan", "cache_dir"), ("plan", "repos"),
             ("local", "source_repos"), ("messaging", "tls_ca_cert"),
             ("messaging", "tls_certfile"), ("messaging", "tls_keyfile"), ("store", "url")}


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names file, key and reason."""


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list"}.get(type(value), type(value).__name__)


def _check(path: str, section: str, key: str, value: Any, default: Any) -> Any:
    where = f"{path}: [{section}] {key}"
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{where} must be {_type_name(default)}, not {value!r}")
    choices = CHOICES.get((section, key))
    if choices and value not in choices:
        raise ConfigError(f"{where} must be one of {', '.join(choices)}, not {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise ConfigError(f"{where} must not be negative, got {value!r}")
    if (section, key) in POSITIVE and value <= 0:
        raise ConfigError(f"{where} must be positive, got {value!r}")
    return value


def merge_config(data: Mapping, path: str = "<config>") -> dict:
    """Defaults overlaid with ``data`` (a parsed TOML document), checked key by key."""
    config = copy.deepcopy(DEFAULTS)
    for section, values in data.items():
        if section not in DEFAULTS:
            raise ConfigError(f"{path}: unknown section [{section}] "
                              f"(known: {', '.join(DEFAULTS)})")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{path}: [{section}] must be a table")
        for key, value in values.items():
            if key not in DEFAULTS[section]:
                raise ConfigError(f"{path}: [{section}] {key} is not an option "
                                  f"(known: {', '.join(DEFAULTS[section])})")
            config[section][key] = _check(path, section, key, value, DEFAULTS[section][key])
    c = config["campaign"]
    if c["priority_high"] > c["priority_low"]:
        raise ConfigError(f"{path}: [campaign] priority_high must not be above priority_low "
                          f"(koji runs lower numbers first)")
    if c["max_in_flight"] > c["max_in_flight_global"]:
        raise ConfigError(f"{path}: [campaign] max_in_flight must not exceed "
                          f"max_in_flight_global")
    if config["gate"]["kind"] == "resultsdb":
        if not config["gate"]["url"] or not config["gate"]["testcases"]:
            raise ConfigError(f"{path}: [gate] a resultsdb gate needs url and testcases")
        if c["backend"] == "koji" and c["mode"] == "scratch":
            raise ConfigError(f"{path}: [gate] gates real builds: a koji campaign with a gate "
                              f"needs [campaign] mode = \"sidetag\"")
    m = config["messaging"]
    if m["batch"] > m["prefetch"]:
        raise ConfigError(f"{path}: [messaging] batch must not exceed prefetch (a batch is "
                          f"made of the messages the broker has handed over)")
    if c["backend"] == "koji" and not c["target"]:
        raise ConfigError(f"{path}: [campaign] backend koji needs a target")
    return config


def notify_config(config: dict):
    """The :class:`discomy.notify.NotifyConfig` of ``[notify]``, or None when it sends nothing."""
    from .notify import NotifyConfig

    n = config["notify"]
    if not n["smtp_host"] and not n["webhook_url"]:
        return None
    return NotifyConfig.from_mapping({k: (v or None) if k in ("smtp_host", "webhook_url",
                                                             "webhook_secret") else v
                                      for k, v in n.items() if k != "maintainer_email"})


def gate_config(config: dict):
    from .gating import GateConfig

    return GateConfig.from_mapping(config["gate"])


def load_config(path: Optional[Path] = None, missing_ok: bool = True) -> dict:
    """Read the TOML file at ``path`` (default ``/etc/discomy/orchestrator.toml``)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return copy.deepcopy(DEFAULTS)
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return absolute_paths(merge_config(data, str(path)), absolute(path).parent)


def absolute_paths(config: dict, base: Path) -> dict:
    """``config`` with the relative paths of :data:`PATH_KEYS` made relative to ``base``
    (the config file's directory); empty values stay empty (unset)."""
    for section, key in PATH_KEYS:
        value = config[section][key]
        if (section, key) == ("store", "url"):
            config[section][key] = absolute_store_url(value, base)
        elif isinstance(value, list):
            config[section][key] = [absolute_location(v, base) for v in value]
        elif value:
            config[section][key] = str(absolute(value, base))
    return config
