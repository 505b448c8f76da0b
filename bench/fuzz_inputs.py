#!/usr/bin/env python3
"""Fuzz every boundary where outside data enters Discomy, and count what happens.

Generated inputs (valid seeds, mutated structurally and byte-wise, plus hostile
values: NaN, inf, huge integers, lone surrogates, deep nesting, NUL bytes, paths)
go through the same entry points the daemon and the CLI use:

- koji messages: fedora-messaging bodies (parse, then the daemon's handler and
  its store) and protonmsg messages;
- rpm-md metadata: corrupted primary, filelists and repomd.xml of a real repo
  made with rpmbuild and createrepo_c, loaded with libsolv and planned;
- fleet YAML and durations JSON, through ``discomy estimate`` / ``plan``;
- modulemd documents (v2 and packager v3) through libmodulemd, stream expansion, the
  build order and the module build's own document; ``modules.yaml`` of a repository;
- the orchestrator TOML, through the config loader and what ``serve`` builds from it;
- command lines: every subcommand with random options and hostile values.

Each input runs under a per-input timeout. An input is *accepted* (it ran),
*rejected* (the documented error class, or exit status 2 with one line on
stderr), *unclear* (rejected, but with an empty or multi-line message),
*crashed* (any other exception) or *hung* (the timeout fired). The goal is zero
crashed and zero hung::

    .venv/bin/python bench/fuzz_inputs.py                 # 100,000 inputs
    .venv/bin/python bench/fuzz_inputs.py --inputs 5000 --seed 7
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import gzip
import io
import json
import logging
import lzma
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "orchestrator"))

ACCEPTED, REJECTED, UNCLEAR, CRASHED, HUNG = "accepted", "rejected", "unclear", "crashed", "hung"


class Hung(BaseException):
    """Raised by the per-input alarm; a BaseException so no ``except Exception`` eats it."""


def _on_alarm(signum, frame):
    raise Hung()


# -- hostile values and mutations ---------------------------------------------------

def _deep(n: int, opener: str = "[") -> str:
    return opener * n


HOSTILE_SCALARS = [
    None, True, False, 0, -1, 1, 7, 2 ** 31, 2 ** 63, -2 ** 63, 10 ** 30, 10 ** 400,
    float("nan"), float("inf"), float("-inf"), 1e308, -0.0, 0.5, 1e-320,
    "", " ", "\udcff", "\ud800x", "\x00", "a\nb", "a" * 5000, "../../etc/passwd",
    "$(touch /tmp/discomy-fuzz-pwned)", "; rm -rf /", "名前", "\u202e", "-1", "nan", "1e400",
    "0x10", "NaN", "inf", "%s%n", "{name}", "{0.__class__}",
]
HOSTILE_CONTAINERS = [[], {}, [1, 2], {"a": 1}, [[[[]]]], {"": None}, ["\udcff"]]


def hostile(rng: random.Random):
    if rng.random() < 0.15:
        return rng.choice(HOSTILE_CONTAINERS)
    return rng.choice(HOSTILE_SCALARS)


def mutate(value, rng: random.Random, depth: int = 0, rate: float = -1.0):
    """A structurally mutated copy of a JSON-like ``value``; ``rate`` is the chance that
    each part changes (drawn per input when not given: a light touch reaches deeper code,
    a heavy one the parsers' edges)."""
    if rate < 0:
        rate = rng.choice((0.02, 0.05, 0.1, 0.3))
    if rng.random() < rate / 4 or depth > 6:
        return hostile(rng)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            r = rng.random()
            if r < rate / 4:
                continue                                  # drop the key
            if r < rate / 3:
                key = rng.choice(["", "\udcff", key + "\udcff", key.upper(), "a" * 300])
            out[key] = mutate(item, rng, depth + 1, rate) if rng.random() < rate else item
        if rng.random() < rate / 3:
            out[rng.choice(["extra", "name", "new", "count", "\udcff", ""])] = hostile(rng)
        return out
    if isinstance(value, list):
        out = [mutate(item, rng, depth + 1, rate) if rng.random() < rate else item
               for item in value]
        if out and rng.random() < rate / 3:
            del out[rng.randrange(len(out))]
        if rng.random() < rate / 3:
            out.append(hostile(rng))
        return out
    return hostile(rng) if rng.random() < rate else value


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        if not data:
            data += os.urandom(rng.randint(1, 64))
            continue
        pos = rng.randrange(len(data))
        if r < 0.3:
            data[pos] = rng.randrange(256)
        elif r < 0.5:
            del data[pos:pos + rng.randint(1, 200)]
        elif r < 0.7:
            data[pos:pos] = rng.choice([b"\x00", b"<", b">", b"\xff\xfe", b"&#0;", b"]]>",
                                        os.urandom(rng.randint(1, 32)), b"\xed\xb3\xbf"])
        elif r < 0.85:
            end = min(len(data), pos + rng.randint(1, 500))
            data[pos:pos] = data[pos:end]
        else:
            del data[pos:]
    return bytes(data)


def json_text(value, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.03:
        return _deep(rng.choice([1000, 100_000]), rng.choice("[{"))
    if r < 0.06:
        return "[" * 50 + "]" * 50
    try:
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5, allow_nan=True)
    except (ValueError, TypeError, OverflowError):
        text = repr(value)
    if rng.random() < 0.1:
        text = mutate_bytes(text.encode("utf-8", "surrogatepass"), rng).decode("utf-8", "replace")
    return text


# -- boundaries ---------------------------------------------------------------------

class Boundary:
    name = ""
    timeout = 2.0
    errors: tuple = ()

    def generate(self, rng: random.Random):
        raise NotImplementedError

    def run(self, item) -> str:
        """ACCEPTED, or raise one of ``errors`` (a rejection), or anything else (a crash)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


FEDORA_SEEDS = {
    "buildsys.build.state.change": {
        "name": "zlib", "version": "1.3", "release": "2.el9", "epoch": None,
        "attribute": "state", "old": 0, "new": 1, "build_id": 101, "task_id": 555,
        "task": None, "request": None, "owner": "packager", "instance": "primary",
        "url": "https://koji.example.org/koji/buildinfo?buildID=101",
        "creation_time": "2026-11-22T09:00:00+00:00",
        "completion_time": "2026-11-22T09:30:00+00:00"},
    "buildsys.tag": {"tag": "el9-build", "name": "zlib", "version": "1.3", "release": "2.el9",
                     "build_id": 101, "user": "kojiadmin", "owner": "packager",
                     "instance": "primary", "tag_id": 3},
    "buildsys.untag": {"tag": "el9-build", "name": "zlib", "version": "1.3",
                       "release": "2.el9", "build_id": 101, "user": "kojiadmin",
                       "owner": "packager", "instance": "primary", "tag_id": 3},
    "buildsys.repo.done": {"tag": "el9-build", "repo_id": 7, "tag_id": 3, "instance": "primary"},
    "buildsys.task.state.change": {
        "id": 9, "method": "buildArch", "attribute": "state", "old": "OPEN", "new": "CLOSED",
        "info": {"id": 9, "method": "buildArch"}, "srpm": None, "owner": "packager",
        "base_url": "https://koji.example.org", "files_base_url": "https://koji.example.org",
        "instance": "primary"},
}


class FedoraMessages(Boundary):
    """fedora-messaging bodies through the parser and the daemon's handler (its store)."""
    name = "messages (fedora-messaging)"

    def __init__(self, workdir: Path):
        from discomy.orchestration.config import merge_config
        from discomy.orchestration.events import MessageError
        from discomy.orchestration.daemon import Service

        self.errors = (MessageError,)
        self.service = Service(merge_config({
            "store": {"url": f"sqlite:///{workdir / 'fuzz-events.sqlite'}"},
            "watch": {"packages": []}}))

    def generate(self, rng):
        kind = rng.choice(list(FEDORA_SEEDS))
        topic = rng.choice([kind, f"org.fedoraproject.prod.{kind}", f"x.{kind}",
                            "buildsys.rpm.sign", "", f"{kind}\udcff"])
        body = mutate(FEDORA_SEEDS[kind], rng) if rng.random() < 0.9 else hostile(rng)
        text = json_text(body, rng) if rng.random() < 0.8 else body
        if isinstance(text, str) and rng.random() < 0.5:
            text = text.encode("utf-8", "surrogatepass")
        msg_id = rng.choice(["m-1", f"m-{rng.randrange(10 ** 9)}", "", None, "\udcff"])
        return topic, text, msg_id, rng.random() < 0.7

    def run(self, item):
        from discomy.orchestration.events import parse_fedora_message

        topic, body, msg_id, validate = item
        event = parse_fedora_message(topic, body, msg_id, validate=validate)
        self.service.handle(event)
        return ACCEPTED


class ProtonMessages(Boundary):
    name = "messages (protonmsg)"

    def __init__(self, workdir: Path):
        from discomy.orchestration.events import MessageError

        self.errors = (MessageError,)

    def generate(self, rng):
        build = {"attribute": "state", "old": 0, "new": 1,
                 "info": {"id": 101, "name": "zlib", "version": "1.3", "release": "2.el9",
                          "task_id": 555, "owner_name": "packager"}}
        seeds = [
            ("topic://koji.build.complete", build,
             {"type": "BuildStateChange", "name": "zlib", "version": "1.3", "release": "2.el9",
              "attribute": "state", "old": "BUILDING", "new": "COMPLETE"}),
            ("koji.build.tag", {"build": {"id": 5}},
             {"type": "Tag", "tag": "el9", "name": "a", "version": "1", "release": "1"}),
            ("topic://koji.repo.done", {}, {"type": "RepoDone", "tag": "el9-build", "repo_id": 8}),
            ("koji.task.closed", {}, {"type": "TaskStateChange", "id": 9, "method": "buildArch",
                                      "old": "OPEN", "new": "CLOSED"}),
            (None, build, {"type": "BuildStateChange", "new": "COMPLETE", "old": "BUILDING"}),
        ]
        address, body, props = rng.choice(seeds)
        if rng.random() < 0.2:
            address = rng.choice(["", None, "koji.", "topic://", "koji.build.", "\udcff",
                                  "koji.task.", "a" * 10000, 7])
        body = json_text(mutate(body, rng), rng) if rng.random() < 0.9 else hostile(rng)
        props = mutate(props, rng) if rng.random() < 0.9 else hostile(rng)
        return address, body, props

    def run(self, item):
        from discomy.orchestration.events import parse_protonmsg

        parse_protonmsg(*item)
        return ACCEPTED


class Cli(Boundary):
    """``discomy.cli.main`` in this process: exit status 2 with one line is a rejection."""
    timeout = 20.0

    def __init__(self, workdir: Path, repos):
        self.workdir = workdir
        self.repo_args = [a for r in repos.repos for a in ("--repo", str(r))]
        self.cache = workdir / "cache"
        self.config = workdir / "orchestrator.toml"
        self.config.write_text(f'[store]\nurl = "sqlite:///{workdir / "fuzz-cli.sqlite"}"\n'
                               f'[plan]\ncache_dir = "{self.cache}"\n'
                               f'[campaign]\nworkdir = "{workdir / "campaigns"}"\n')
        self.n = 0

    def cli(self, argv) -> str:
        from discomy import cli

        out, err = io.StringIO(), io.StringIO()
        root = logging.getLogger()
        handlers = root.handlers[:]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = cli.main(argv)
            except SystemExit as exc:       # argparse
                rc = exc.code if isinstance(exc.code, int) else 2
            finally:
                root.handlers[:] = handlers
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        if rc in (0, 1):
            return ACCEPTED
        if rc == 2:
            if len(lines) == 1 and "Traceback" not in lines[0]:
                return REJECTED
            raise UnclearError(" | ".join(lines[:4]) or "(nothing on stderr)")
        raise RuntimeError(f"exit status {rc}: {' | '.join(lines[:3])}")

    def file(self, suffix: str, data) -> Path:
        self.n += 1
        path = self.workdir / f"input-{self.n % 50}{suffix}"
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        path.write_bytes(data)
        return path


class UnclearError(Exception):
    """A rejection without one clear line."""


FLEET_SEED = [
    {"name": "x86", "count": 4, "arches": ["x86_64"], "cpus": 16, "speed": 1.0,
     "capacity": 8, "maxjobs": 4, "memory": "64G", "disk": "1T"},
    {"name": "arm", "count": 2, "arches": ["aarch64"], "cpus": 8, "speed": 0.8,
     "capacity": 4, "maxjobs": 2},
]


class FleetFiles(Cli):
    name = "fleet YAML (discomy estimate)"

    def generate(self, rng):
        import yaml

        if rng.random() < 0.1:
            text = mutate_bytes(yaml.safe_dump(FLEET_SEED).encode(), rng)
        else:
            fleet = mutate(FLEET_SEED, rng)
            try:
                text = yaml.safe_dump(fleet, allow_unicode=rng.random() < 0.5)
            except Exception:
                text = "- {name: a, count: .nan}"
        policy = rng.choice(["all", "koji-stock", "tiered", "discomy-stock-hub", "discomy"])
        return text, policy, rng.choice([None, "0", "300", "nan", "inf", "-100", "1e300"])

    def run(self, item):
        text, policy, regen = item
        argv = ["estimate", *self.repo_args, "--cache-dir", str(self.cache), "--changed",
                "corelib", "--fleet", str(self.file(".yaml", text)), "--policy", policy, "--json"]
        if regen is not None:
            argv += ["--regen-seconds", regen]
        return self.cli(argv)


class DurationFiles(Cli):
    name = "durations JSON (discomy plan)"

    def generate(self, rng):
        seed = {"corelib": 600, "parsekit": 1200.5, "alpha": 60, "appsuite": 3600}
        return json_text(mutate(seed, rng), rng) if rng.random() < 0.9 \
            else mutate_bytes(json.dumps(seed).encode(), rng)

    def run(self, item):
        return self.cli(["plan", *self.repo_args, "--cache-dir", str(self.cache), "--changed",
                         "corelib", "--durations", str(self.file(".json", item)), "--json"])


class Commands(Cli):
    """Every subcommand (but serve, which runs until stopped) with random options."""
    name = "command lines"

    def generate(self, rng):
        values = ["corelib", "zlib", "1", "0", "-1", "99999999999999999999999", "nan", "inf",
                  "", "\udcff", "/nonexistent", "/", "x" * 300, "koji", "local", "direct",
                  "all", "per-edge", "sidetag", "a,b,,c", "--json", str(self.workdir),
                  "../../etc", "1e400", "-", "@file"]
        sub = rng.choice(["plan", "estimate", "rebuild", "campaigns", "status", "resume",
                          "cancel", "bogus", ""])
        argv = [sub] if sub else []
        if sub in ("plan", "estimate", "rebuild") and rng.random() < 0.8:
            argv += self.repo_args
        if sub in ("plan", "estimate") and rng.random() < 0.7:
            argv += ["--cache-dir", str(self.cache)]
        if sub == "rebuild":
            argv += ["--dry-run"]                     # a real rebuild builds with rpmbuild
        if sub in ("rebuild", "campaigns", "status", "resume", "cancel") and rng.random() < 0.9:
            argv += ["--config", str(self.config)]
        options = {
            "plan": ["--changed", "--depth", "--durations", "--exclude", "--max-names", "--json",
                     "--no-cache", "--repo"],
            "estimate": ["--changed", "--all", "--fleet", "--policy", "--regen-seconds",
                         "--regen-mode", "--arches", "--plot", "--depth", "--json"],
            "rebuild": ["--target", "--mode", "--release", "--backend", "--depth", "--repo",
                        "--workdir", "--fleet", "--json", "--store"],
            "campaigns": ["--store"], "status": ["--json", "--store"],
            "resume": ["--repo", "--workdir", "--detach", "--store"],
            "cancel": ["--kill", "--store"],
        }.get(sub, ["--verbose", "--help", "--version"])
        for _ in range(rng.randint(0, 4)):
            argv.append(rng.choice(options))
            if rng.random() < 0.8:
                argv.append(rng.choice(values))
        if sub == "rebuild" and rng.random() < 0.8:
            argv.append(rng.choice(["corelib", "nosuch", "\udcff", "-x"]))
        if sub in ("status", "resume", "cancel"):
            argv.insert(1, rng.choice(["1", "0", "-5", "99999999999999999999999", "x", ""]))
        if rng.random() < 0.1:
            argv.append("--" + rng.choice(["nonsense", "", "x" * 50]))
        if sub == "estimate" and "--fleet" not in argv and rng.random() < 0.8:
            argv += ["--fleet", str(ROOT / "examples" / "fleet.yaml")]
        return argv

    def run(self, item):
        if "--help" in item or "--version" in item:
            item = [a for a in item if a not in ("--help", "--version")]
        return self.cli(item)


class Configs(Boundary):
    """The orchestrator TOML through the loader, then what serve builds from it."""
    name = "orchestrator TOML"

    def __init__(self, workdir: Path):
        from discomy.orchestration.config import DEFAULTS, ConfigError

        self.errors = (ConfigError,)
        self.defaults = DEFAULTS
        self.path = workdir / "fuzz.toml"
        self.workdir = workdir

    def generate(self, rng):
        doc = {}
        for section, values in self.defaults.items():
            if rng.random() < 0.4:
                continue
            doc[section] = {k: v for k, v in values.items() if rng.random() < 0.3}
        doc.setdefault("store", {})["url"] = f"sqlite:///{self.workdir / 'fuzz-config.sqlite'}"
        doc = mutate(doc, rng)
        text = _toml(doc)
        if rng.random() < 0.1:
            text = mutate_bytes(text.encode("utf-8", "surrogatepass"), rng).decode("utf-8", "replace")
        return text

    def run(self, item):
        from discomy.orchestration.config import load_config
        from discomy.orchestration.runner import engine_settings, side_services

        self.path.write_bytes(item.encode("utf-8", "surrogatepass"))
        config = load_config(self.path, missing_ok=False)
        engine_settings(config)
        gate, notifier = side_services(config)
        if notifier:
            notifier.close()
        _listener_configs(config)
        return ACCEPTED


def _listener_configs(config) -> None:
    """What ``Service.listeners`` builds from ``[messaging]``, without connecting."""
    from types import SimpleNamespace

    from discomy.orchestration.daemon import Service

    shell = SimpleNamespace(config=config, handle=None, handle_batch=None,
                            request_reconcile=None)
    Service.listeners(shell)


def _toml(doc) -> str:
    """A TOML rendering good enough for fuzzing (strings escaped, floats as TOML spells them)."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return "nan" if v != v else ("inf" if v == float("inf") else
                                         "-inf" if v == float("-inf") else repr(v))
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(str(k))} = {value(x)}" for k, x in v.items()) + "}"
        return '""'
    lines = []
    items = doc.items() if isinstance(doc, dict) else [("x", doc)]
    for section, values in items:
        lines.append(f"[{json.dumps(str(section))}]")
        if isinstance(values, dict):
            for k, v in values.items():
                lines.append(f"{json.dumps(str(k))} = {value(v)}")
        else:
            lines.append(f"value = {value(values)}")
    return "\n".join(lines) + "\n"


class Modulemds(Boundary):
    """Modulemd documents through what a module submission does before any git or store:
    libmodulemd, expansion, the build order, the module build's document."""
    name = "modulemd documents"

    def __init__(self, workdir: Path):
        from discomy.cli.examples import EXAMPLE_MODULE
        from discomy.planning.modules import ModuleError

        self.errors = (ModuleError,)
        self.seeds = [EXAMPLE_MODULE.read_text(),
                      (ROOT / "tests" / "modules" / "moduledocs.py").read_text()
                      .split('V2 = """\\\n')[1].split('"""')[0]]
        from discomy.planning.modulemd import StreamInfo, index_text

        self.seeds.append(index_text([StreamInfo("m", "1", 1, "c", ("m-0:1-1.x86_64",),
                                                 {"platform": ("el9",)})], {"m": "1"}))

    def generate(self, rng):
        text = rng.choice(self.seeds)
        r = rng.random()
        if r < 0.5:
            text = mutate_bytes(text.encode(), rng).decode("utf-8", "replace")
        elif r < 0.8:       # a value swapped for a hostile one, the document kept whole
            lines = text.splitlines()
            i = rng.randrange(len(lines))
            if ":" in lines[i]:
                key, _, _ = lines[i].partition(":")
                value = hostile(rng)
                lines[i] = f"{key}: {value if isinstance(value, str) else json.dumps(value)}"
            text = "\n".join(lines) + "\n"
        elif r < 0.9:
            lines = text.splitlines()
            rng.shuffle(lines)
            text = "\n".join(lines)
        return text, rng.random() < 0.2

    def run(self, item):
        from discomy.planning import modulemd
        from discomy.planning.modules import expand, module_version, order_components

        text, as_index = item
        if as_index or text.lstrip("-\n ").startswith("document: modulemd-defaults"):
            modulemd.read_index(text)
            return ACCEPTED
        source = modulemd.parse(text, what="fuzz.yaml")
        expansions = expand(source, {"platform": ["el8", "el9"]})
        if source.components:
            order_components(source.components)
        for e in expansions[:2]:
            modulemd.render(text, source, e, source.version or
                            module_version("20261204120000", e.platform))
        return ACCEPTED


class Repodata(Boundary):
    """Corrupted rpm-md (primary, filelists, repomd.xml) loaded with libsolv and planned."""
    name = "rpm-md metadata"

    def __init__(self, workdir: Path, repos):
        from discomy.planning.planner import PlanError
        from discomy.planning.repodata import RepodataError

        self.errors = (RepodataError, PlanError)
        self.workdir = workdir
        self.pristine = [Path(r) for r in repos.repos]
        self.n = 0

    def generate(self, rng):
        which = rng.randrange(len(self.pristine))
        target = rng.choice(["primary", "filelists", "repomd", "delete", "location"])
        return which, target, rng.random(), rng.randrange(2 ** 32)

    def run(self, item):
        from discomy.planning.planner import make_plan
        from discomy.planning.repodata import load_graph

        which, target, r, seed = item
        rng = random.Random(seed)
        self.n += 1
        base = self.workdir / "repos" / str(self.n % 4)
        shutil.rmtree(base, ignore_errors=True)
        dirs = []
        for i, repo in enumerate(self.pristine):
            d = base / str(i) / "repodata"
            shutil.copytree(repo / "repodata", d)
            dirs.append(d.parent)
        repodata = dirs[which] / "repodata"
        if target in ("primary", "filelists"):
            path = next(repodata.glob(f"*-{target}.xml*"))
            raw = gzip.decompress(path.read_bytes())
            raw = mutate_bytes(raw, rng) if r < 0.8 else raw
            pack = rng.choice([gzip.compress, lzma.compress, bz2.compress, lambda b: b,
                               lambda b: mutate_bytes(gzip.compress(b), rng)])
            path.write_bytes(pack(raw))
        elif target == "repomd":
            path = repodata / "repomd.xml"
            path.write_bytes(mutate_bytes(path.read_bytes(), rng))
        elif target == "delete":
            victim = rng.choice(sorted(repodata.iterdir()))
            victim.unlink()
        else:
            path = repodata / "repomd.xml"
            text = path.read_text()
            evil = rng.choice(["../../../../etc/passwd", "/dev/zero", "repodata/", "",
                               "repodata/../repodata/x.xml.gz", "\x00"])
            text = text.replace('href="repodata/', f'href="{evil}', 1)
            path.write_text(text, errors="surrogateescape")
        graph = load_graph(dirs, use_cache=False)
        make_plan(graph, ["corelib"])
        return ACCEPTED


# -- running --------------------------------------------------------------------------

def run_one(boundary: Boundary, item, timeout: float) -> tuple:
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return boundary.run(item), None
    except Hung:
        return HUNG, f"no answer within {timeout:g} s"
    except UnclearError as exc:
        return UNCLEAR, str(exc)
    except Exception as exc:
        if boundary.errors and isinstance(exc, boundary.errors):
            text = str(exc)
            if text.strip() and "\n" not in text.strip():
                return REJECTED, None
            return UNCLEAR, repr(text[:200])
        return CRASHED, "".join(traceback.format_exception_only(type(exc), exc)).strip()[:300] \
            + " at " + _where(exc)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "discomy" in f.filename] or frames
    f = ours[-1] if ours else None
    return f"{Path(f.filename).name}:{f.lineno}" if f else "?"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs in all (default 100000)")
    parser.add_argument("--seed", type=int, default=20261130, help="random seed")
    parser.add_argument("--show", type=int, default=3, help="examples shown per failing boundary")
    args = parser.parse_args(argv)

    logging.disable(logging.CRITICAL)           # the daemon's warnings would drown the table
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))
    from discomy.cli.examples import build_examples

    workdir = Path(tempfile.mkdtemp(prefix="discomy-fuzz-"))
    home = os.getcwd()
    # generated command lines name relative files (--plot x): they land in the workdir
    os.chdir(workdir)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            repos = build_examples(workdir / "examples")
        # shares of the inputs: cheap parsers get most, process-heavy ones fewer
        boundaries = [
            (FedoraMessages(workdir), 0.37), (ProtonMessages(workdir), 0.30),
            (Modulemds(workdir), 0.03),
            (Configs(workdir), 0.14), (DurationFiles(workdir, repos), 0.05),
            (FleetFiles(workdir, repos), 0.04), (Commands(workdir, repos), 0.04),
            (Repodata(workdir, repos), 0.03),
        ]
        rng = random.Random(args.seed)
        rows = []
        started = time.perf_counter()
        for boundary, share in boundaries:
            count = max(1, round(args.inputs * share))
            tally, samples = Counter(), {}
            t0 = time.perf_counter()
            for _ in range(count):
                item = boundary.generate(rng)
                outcome, detail = run_one(boundary, item, boundary.timeout)
                tally[outcome] += 1
                if detail and outcome in (CRASHED, HUNG, UNCLEAR):
                    samples.setdefault(detail, (outcome, item))
            rows.append((boundary.name, count, tally, time.perf_counter() - t0, samples))
            boundary.close()
        total = time.perf_counter() - started
    finally:
        os.chdir(home)
        shutil.rmtree(workdir, ignore_errors=True)

    head = f"{'BOUNDARY':<32}{'INPUTS':>8}{'ACCEPTED':>10}{'REJECTED':>10}{'UNCLEAR':>9}" \
           f"{'CRASHED':>9}{'HUNG':>6}{'SECONDS':>9}"
    print(head)
    sums = Counter()
    for name, count, tally, seconds, _ in rows:
        sums.update(tally)
        print(f"{name:<32}{count:>8}{tally[ACCEPTED]:>10}{tally[REJECTED]:>10}"
              f"{tally[UNCLEAR]:>9}{tally[CRASHED]:>9}{tally[HUNG]:>6}{seconds:>9.1f}")
    print(f"{'total':<32}{sum(r[1] for r in rows):>8}{sums[ACCEPTED]:>10}{sums[REJECTED]:>10}"
          f"{sums[UNCLEAR]:>9}{sums[CRASHED]:>9}{sums[HUNG]:>6}{total:>9.1f}")
    for name, _, _, _, samples in rows:
        for detail, (outcome, item) in list(samples.items())[:args.show]:
            print(f"\n{name}: {outcome}: {detail}\n  input: {_short(item)}")
    return 1 if sums[CRASHED] or sums[HUNG] else 0


def _short(item) -> str:
    text = repr(item)
    return text if len(text) < 400 else text[:400] + f"... ({len(text)} chars)"


if __name__ == "__main__":
    sys.exit(main())
