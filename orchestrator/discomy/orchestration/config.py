"""The orchestrator's configuration: ``/etc/discomy/orchestrator.toml``.

Every option has a default (:data:`DEFAULTS`), so an empty or missing file
gives a working embedded setup: the local backend and an SQLite store. The
file is read once with :mod:`tomllib`; an unknown section or key, or a value of
the wrong type or out of range, raises :class:`ConfigError` with one sentence
naming the file, the key and the reason. Relative paths in the file
(:data:`PATH_KEYS`) are relative to the file's own directory, so a config
means the same from any working directory. The documented example is
``orchestrator.example.toml`` next to this module.

:func:`merge_config` checks the whole file, for every command alike: what
``discomy campaigns`` accepts, ``discomy serve`` can run on. URLs are parsed
(the store's by SQLAlchemy, with its driver installed), ports are in range,
TLS files exist, notification templates and the gate are well-formed, the API's
listen address, proxy header and trusted proxies parse.
"""

from __future__ import annotations

import copy
import ipaddress
import math
import os
import re

try:
    import tomllib
except ImportError:     # Python < 3.11 (EL9): the same parser as a package
    import tomli as tomllib
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from discomy.common.paths import absolute, absolute_location
from discomy.common.modulebuilds import REUSE_STRATEGIES
from discomy.orchestration.notify import DEFAULT_SUBJECT, DEFAULT_TEXT

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
        "module_streams": [],            # "NAME:STREAM": module streams seen in modular
                                         # repos instead of their defaults
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
    "modules": {
        "backend": "local",              # local | koji: where module builds run
        "workdir": "/var/lib/discomy/modules",
        "rpms_repository": "",           # a component's git repository when the modulemd
                                         # names none, "{name}" replaced
        "platforms": [],                 # "STREAM:TAG": the koji tag a platform stream's
                                         # builds inherit, e.g. "el9:el9-build"
        "arches": [],                    # koji module tags' arches; empty: the platform tag's
        "dist_prefix": "module+",        # %dist = .<prefix><platform>+<id>+<hash>
        "reuse": "changed-and-after",    # changed-and-after | only-changed | all
        "gate": False,                   # the [gate] CI gate on each batch before the next
        "koji_topdir": "/mnt/koji",      # koji's topdir as this host sees it (dist repos)
        "amqp_url": "",                  # discomy.module.state.change goes to this broker
        "exchange": "amq.topic",
        "topic_prefix": "",
    },
    "api": {
        "serve": False,                  # discomy serve also serves the REST API
        "listen": "127.0.0.1:8080",      # HOST:PORT, [V6ADDR]:PORT
        "reads_public": True,            # false: reads need a token or the proxy header too
        "proxy_user_header": "",         # e.g. "X-Remote-User", set by a trusted front end
        "trusted_proxies": [],           # addresses or networks the header is believed from
        "max_body_bytes": 1048576,
        "planning_slots": 2,             # plans (start, preview) made at once
        "koji_timeout_seconds": 15.0,    # the fleet view's calls to koji
        "hosts_cache_seconds": 10.0,     # the fleet view is read from koji this often at most
        "metrics": True,                 # Prometheus /metrics on the API's own address
        "session_secret_file": "",       # signs the dashboard's login cookies; empty: a
                                         # random secret per process
        "koji_admin_profile": "",        # koji CLI profile with the admin permission: the
                                         # dashboard may drain hosts; empty: it may not
    },
    "webhooks": {
        "public_url": "",                # the dashboard's address, linked from commit statuses
        "workdir": "/var/lib/discomy/webhooks",   # warm clones and per-build workdirs
        "allowed_urls": [],              # URL prefixes git may fetch from
        "max_body_bytes": 1048576,       # a larger delivery is refused (so is one above [api]'s)
        "git_timeout_seconds": 300.0,    # each git call
        "build_timeout_seconds": 7200.0, # rpmbuild, here
        "queue_size": 100,               # pushes waiting for the worker; more get a 503
        "status_retries": 6,             # attempts at each commit status
        "status_backoff_seconds": 2.0,   # before the second attempt, doubling after
        "poll_seconds": 30.0,            # koji builds followed this often
        "amqp_url": "",                  # discomy.webhook.build.state.change goes here
        "exchange": "amq.topic",
        "topic_prefix": "",
        "repos": [],                     # [[webhooks.repos]] tables: one per repository
    },
}

CHOICES = {
    ("campaign", "backend"): ("local", "koji"),
    ("campaign", "mode"): ("scratch", "sidetag"),
    ("campaign", "release"): ("per-tier", "per-edge"),
    ("campaign", "depth"): ("direct", "buildroot"),
    ("gate", "kind"): ("none", "resultsdb"),
    ("modules", "backend"): ("local", "koji"),
    ("modules", "reuse"): REUSE_STRATEGIES,
}
POSITIVE = {("campaign", "max_in_flight"), ("campaign", "max_in_flight_global"),
            ("koji", "poll_seconds"), ("messaging", "reconcile_seconds"), ("notify", "burst"),
            ("messaging", "prefetch"), ("messaging", "batch"),
            ("messaging", "reconnect_max_seconds"), ("api", "max_body_bytes"),
            ("api", "planning_slots"), ("api", "koji_timeout_seconds"),
            ("webhooks", "max_body_bytes"), ("webhooks", "git_timeout_seconds"),
            ("webhooks", "build_timeout_seconds"), ("webhooks", "queue_size"),
            ("webhooks", "status_retries"), ("webhooks", "status_backoff_seconds"),
            ("webhooks", "poll_seconds")}


# keys naming files or directories; [store] url is an SQLAlchemy URL whose SQLite file
# may be relative, and [plan] repos may also hold URLs
PATH_KEYS = {("campaign", "workdir"), ("plan", "cache_dir"), ("plan", "repos"),
             ("local", "source_repos"), ("messaging", "tls_ca_cert"),
             ("messaging", "tls_certfile"), ("messaging", "tls_keyfile"), ("store", "url"),
             ("modules", "workdir"), ("modules", "koji_topdir"), ("api", "session_secret_file"),
             ("webhooks", "workdir")}
URLS = {        # keys holding a URL (when set): the schemes they take
    ("messaging", "amqp_url"): ("amqp", "amqps"),
    ("messaging", "amqp10_url"): ("amqp", "amqps"),
    ("modules", "amqp_url"): ("amqp", "amqps"),
    ("notify", "webhook_url"): ("http", "https"),
    ("gate", "url"): ("http", "https"),
    ("koji", "server"): ("http", "https"),
    ("koji", "weburl"): ("http", "https"),
    ("webhooks", "public_url"): ("http", "https"),
    ("webhooks", "amqp_url"): ("amqp", "amqps"),
}
PORTS = {("notify", "smtp_port"): 1, ("metrics", "port"): 0}     # the lowest each takes
FILES = (("messaging", "tls_ca_cert"), ("messaging", "tls_certfile"),
         ("messaging", "tls_keyfile"), ("api", "session_secret_file"))
AMQP_NAME_BYTES = 255          # AMQP 0-9-1 short strings: queue names, routing keys
MAX_PREFETCH = 65535           # basic.qos prefetch-count is 16 bits


# no option means anything beyond this; a larger number would overflow a float or a column
MAX_INTEGER = 2 ** 31 - 1


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
        if ok and (isinstance(value, int) and abs(value) > MAX_INTEGER
                   or not math.isfinite(value)):
            raise ConfigError(f"{where} must be a finite number, not {value!r}")
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and abs(value) > MAX_INTEGER:
            raise ConfigError(f"{where} must be at most {MAX_INTEGER}, not {value}")
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


def _name(text: Any) -> str:
    """A name from the file as the error shows it: quoted when TOML quoted it."""
    text = str(text)
    return text if text.replace("_", "").replace("-", "").isalnum() else repr(text)


def merge_config(data: Mapping, path: str = "<config>", base: Optional[Path] = None) -> dict:
    """Defaults overlaid with ``data`` (a parsed TOML document), checked key by key;
    relative paths are taken against ``base`` (the file's directory) before the files
    they name are checked."""
    config = copy.deepcopy(DEFAULTS)
    for section, values in data.items():
        if section not in DEFAULTS:
            raise ConfigError(f"{path}: unknown section [{_name(section)}] "
                              f"(known: {', '.join(DEFAULTS)})")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{path}: [{section}] must be a table")
        for key, value in values.items():
            if key not in DEFAULTS[section]:
                raise ConfigError(f"{path}: [{section}] {_name(key)} is not an option "
                                  f"(known: {', '.join(DEFAULTS[section])})")
            if (section, key) == ("webhooks", "repos"):
                config[section][key] = _repo_tables(path, value, base)
                continue
            config[section][key] = _check(path, section, key, value, DEFAULTS[section][key])
    if base is not None:
        absolute_paths(config, base)
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
    _check_modules(config, path)
    _check_connections(config, path)
    _check_webhooks(config, path)
    return config


def _repo_tables(path: str, value: Any, base: Optional[Path]) -> list:
    """``[[webhooks.repos]]``: a list of tables, their secret and token files taken
    against ``base``."""
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ConfigError(f"{path}: [webhooks] repos must be [[webhooks.repos]] tables")
    tables = []
    for entry in value:
        entry = dict(entry)
        for key in ("secret_file", "token_file"):
            if isinstance(entry.get(key), str) and entry[key] and base is not None:
                entry[key] = str(absolute(entry[key], base))
        tables.append(entry)
    return tables


# what stands for a secret kept in a file while the config is only checked
_UNREAD = "(kept in a file, read when the webhooks start)"


def webhook_repos(config: dict, path: str = "<config>", read_files: bool = True) -> list:
    """``[[webhooks.repos]]`` as :class:`discomy.orchestration.webhooks.decide.RepoSettings`,
    with each ``secret_file`` and ``token_file`` read (``read_files``; else only found:
    the files may be readable by the service's user only); ConfigError naming the table."""
    from discomy.orchestration.webhooks.decide import repo_settings

    w = config["webhooks"]
    out, seen = [], set()
    for number, entry in enumerate(w["repos"], 1):
        where = f"{path}: [[webhooks.repos]] #{number}"
        values = dict(entry)
        for key, file_key in (("secret", "secret_file"), ("token", "token_file")):
            if values.get(key) and values.get(file_key):
                raise ConfigError(f"{where}: give {key} or {file_key}, not both")
            name = values.get(file_key)
            if name:
                if not isinstance(name, str):
                    raise ConfigError(f"{where}: {file_key} must be a string")
                if not read_files:
                    if not os.path.isfile(name):
                        raise ConfigError(f"{where}: {file_key}: {name} is not a file")
                    values[key] = _UNREAD
                    continue
                try:
                    values[key] = Path(name).read_text().strip()
                except OSError as exc:
                    raise ConfigError(f"{where}: {file_key} {name} cannot be read "
                                      f"({exc.strerror})") from None
        try:
            repo = repo_settings(values, where, w["allowed_urls"])
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if repo.key in seen:
            raise ConfigError(f"{where}: {repo.forge} repository {repo.repository} is "
                              f"configured twice")
        seen.add(repo.key)
        out.append(repo)
    return out


def _check_webhooks(config: dict, path: str) -> None:
    w = config["webhooks"]
    for prefix in w["allowed_urls"]:
        try:
            parts = urlsplit(prefix)
        except ValueError:
            parts = None
        if not parts or parts.scheme not in ("https", "http", "ssh", "git", "file") \
                or (parts.scheme != "file" and not parts.hostname):
            raise ConfigError(f"{path}: [webhooks] allowed_urls: {prefix!r} is not a URL "
                              f"prefix (https://git.example.org/rpms/)")
    webhook_repos(config, path, read_files=False)


def _check_modules(config: dict, path: str) -> None:
    for entry in config["plan"]["module_streams"]:
        name, _, stream = entry.partition(":")
        if not name or not stream or ":" in stream:
            raise ConfigError(f"{path}: [plan] module_streams: {entry!r} is not NAME:STREAM "
                              f"(e.g. \"nodejs:20\")")
    m = config["modules"]
    for entry in m["platforms"]:
        stream, _, tag = entry.partition(":")
        if not stream or not tag or ":" in tag or any(c.isspace() for c in entry):
            raise ConfigError(f"{path}: [modules] platforms: {entry!r} is not STREAM:TAG "
                              f"(e.g. \"el9:el9-build\")")
    if len({e.partition(":")[0] for e in m["platforms"]}) != len(m["platforms"]):
        raise ConfigError(f"{path}: [modules] platforms names a stream twice")
    if m["rpms_repository"] and "{name}" not in m["rpms_repository"]:
        raise ConfigError(f"{path}: [modules] rpms_repository: {m['rpms_repository']!r} "
                          f"must hold {{name}}, where each component's name goes")
    if m["backend"] == "koji" and not m["platforms"]:
        raise ConfigError(f"{path}: [modules] backend koji needs platforms (the koji tag "
                          f"each platform stream's module builds inherit)")


def platform_tags(config: dict) -> dict:
    """``[modules] platforms`` as ``stream -> koji tag``."""
    return dict(entry.split(":", 1) for entry in config["modules"]["platforms"])


def _check_connections(config: dict, path: str) -> None:
    """What ``discomy serve`` would otherwise only find out when it connects."""
    for (section, key), schemes in URLS.items():
        if config[section][key]:
            _check_url(f"{path}: [{section}] {key}", config[section][key], schemes)
    for (section, key), lowest in PORTS.items():
        if not lowest <= config[section][key] <= 65535:
            raise ConfigError(f"{path}: [{section}] {key} must be a port number from {lowest} "
                              f"to 65535, not {config[section][key]}")
    for section, key in FILES:
        name = config[section][key]
        # exists, not readable: the key may be readable by the daemon's user only
        if name and not os.path.isfile(name):
            raise ConfigError(f"{path}: [{section}] {key}: {name} is not a file")
    m = config["messaging"]
    if m["tls_keyfile"] and not m["tls_certfile"]:
        raise ConfigError(f"{path}: [messaging] tls_keyfile needs tls_certfile")
    if m["prefetch"] > MAX_PREFETCH:
        raise ConfigError(f"{path}: [messaging] prefetch must not exceed {MAX_PREFETCH}")
    for key, names in (("queue", [m["queue"]]), ("topics", m["topics"])):
        for name in names:
            if not name or len(name.encode("utf-8", "surrogatepass")) > AMQP_NAME_BYTES:
                raise ConfigError(f"{path}: [messaging] {key}: {name!r} must be 1 to "
                                  f"{AMQP_NAME_BYTES} bytes long")
    for repo in config["plan"]["repos"]:
        if "://" in repo and not repo.startswith(("http://", "https://")):
            raise ConfigError(f"{path}: [plan] repos: {repo!r} is neither a directory nor an "
                              f"http(s) URL")
    _check_store(config, path)
    _check_side_services(config, path)
    _check_api(config, path)


# an HTTP header name (RFC 9110 token)
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
# what the front end must never be trusted to say: the credentials and the framing
RESERVED_HEADERS = {"authorization", "cookie", "host", "content-length", "content-type",
                    "transfer-encoding", "connection"}
MAX_PLANNING_SLOTS = 64


def parse_listen(text: str) -> tuple:
    """``(host, port)`` of ``HOST:PORT`` or ``[IPV6]:PORT``; ValueError with the reason."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{text!r}: {host!r} is not an IPv6 address") from None
    elif ":" in host:
        raise ValueError(f"{text!r}: an IPv6 address goes in brackets, [::1]:8080")
    elif not HOST_NAME.fullmatch(host):
        raise ValueError(f"{text!r}: {host!r} is not a host name or address")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port)


HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def _check_api(config: dict, path: str) -> None:
    a = config["api"]
    try:
        parse_listen(a["listen"])
    except ValueError as exc:
        raise ConfigError(f"{path}: [api] listen: {exc}") from None
    header = a["proxy_user_header"]
    if header and (not HEADER_NAME.fullmatch(header) or header.lower() in RESERVED_HEADERS):
        raise ConfigError(f"{path}: [api] proxy_user_header: {header!r} is not a header name "
                          f"a front end may set for the user")
    for entry in a["trusted_proxies"]:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"{path}: [api] trusted_proxies: {entry!r} is not an address "
                              f"or network (10.0.0.5, 10.0.0.0/24, ::1)") from None
    if header and not a["trusted_proxies"]:
        raise ConfigError(f"{path}: [api] proxy_user_header needs trusted_proxies: the "
                          f"addresses of the front ends that set it")
    if a["trusted_proxies"] and not header:
        raise ConfigError(f"{path}: [api] trusted_proxies needs proxy_user_header: the "
                          f"header those front ends name the user in")
    if a["planning_slots"] > MAX_PLANNING_SLOTS:
        raise ConfigError(f"{path}: [api] planning_slots must be at most {MAX_PLANNING_SLOTS}")


def _check_url(where: str, url: str, schemes: tuple) -> None:
    try:
        parts = urlsplit(url)
        parts.port             # raises on a port that is not a number in range
    except ValueError as exc:
        raise ConfigError(f"{where}: {url!r} is not a URL ({exc})") from None
    if parts.scheme not in schemes:
        raise ConfigError(f"{where} must be an {' or '.join(s + '://' for s in schemes)} URL, "
                          f"not {url!r}")
    if not parts.hostname:
        raise ConfigError(f"{where}: {url!r} names no host")
    if parts.scheme.startswith("amqp") and where.endswith("amqp_url"):
        import pika

        try:
            pika.URLParameters(url)    # its query options (heartbeat=...) too
        except Exception as exc:       # pika's parser raises what it meets
            raise ConfigError(f"{where}: {url!r} is not an AMQP URL ({exc})") from None


def _check_store(config: dict, path: str) -> None:
    from discomy.orchestration.store import StoreError, check_url

    try:
        check_url(config["store"]["url"])
    except StoreError as exc:
        raise ConfigError(f"{path}: [store] url: {exc}") from None


def _check_side_services(config: dict, path: str) -> None:
    """The notifier's and the gate's own checks (templates, URLs), whether or not they
    send anything yet."""
    from discomy.orchestration.gating import GateConfig, GateConfigError
    from discomy.orchestration.notify import NotifyConfig, NotifyConfigError

    try:
        NotifyConfig.from_mapping({k: v for k, v in config["notify"].items()
                                   if k != "maintainer_email"}, where=f"{path}: [notify]")
        GateConfig.from_mapping(config["gate"], where=f"{path}: [gate]")
    except (NotifyConfigError, GateConfigError) as exc:
        raise ConfigError(str(exc)) from None


def notify_config(config: dict):
    """The :class:`discomy.orchestration.notify.NotifyConfig` of ``[notify]``, or None when it sends nothing."""
    from discomy.orchestration.notify import NotifyConfig

    n = config["notify"]
    if not n["smtp_host"] and not n["webhook_url"]:
        return None
    return NotifyConfig.from_mapping({k: (v or None) if k in ("smtp_host", "webhook_url",
                                                             "webhook_secret") else v
                                      for k, v in n.items() if k != "maintainer_email"})


def gate_config(config: dict):
    from discomy.orchestration.gating import GateConfig

    return GateConfig.from_mapping(config["gate"])


def load_config(path: Optional[Path] = None, missing_ok: bool = True) -> dict:
    """Read the TOML file at ``path`` (default ``/etc/discomy/orchestrator.toml``)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    if "\0" in str(path):          # no file has such a name: the OS would refuse it
        raise ConfigError(f"{str(path)!r}: a file name cannot hold a NUL character")
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
    return merge_config(data, str(path), base=absolute(path).parent)


def absolute_paths(config: dict, base: Path) -> dict:
    """``config`` with the relative paths of :data:`PATH_KEYS` made relative to ``base``
    (the config file's directory); empty values stay empty (unset)."""
    for section, key in PATH_KEYS:
        value = config[section][key]
        if (section, key) == ("store", "url"):
            from discomy.orchestration.store import absolute_store_url

            config[section][key] = absolute_store_url(value, base)
        elif isinstance(value, list):
            config[section][key] = [absolute_location(v, base) for v in value]
        elif value:
            config[section][key] = str(absolute(value, base))
    return config
