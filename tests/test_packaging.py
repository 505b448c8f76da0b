"""discomy.spec builds with rpmbuild -ba, rpmlint reports no errors, and the RPMs
follow the package's layout: the koji plugins' packages pull in only the lean core."""

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL = ["orchestrator", "koji-plugins", "mock-configs", "examples", "packaging", "docs",
             "discomy.rpmlintrc",
             "README.md", "LICENSE", "discomy.spec"]
SUBPACKAGES = ["python3-discomy-core", "python3-discomy", "discomy-hub", "discomy-builder",
               "discomy-cli", "discomy-orchestrator", "discomy-mock-configs"]
SITELIB = "/usr/lib/python3.{}/site-packages".format(sys.version_info.minor)
# python3-discomy-core: what the koji plugins import; python3-discomy: the rest
CORE_PARTS = {"__init__.py", "__pycache__", "py.typed", "common", "placement", "builder"}
FULL_PARTS = {"__main__.py", "planning", "orchestration", "cli", "web"}
PLUGIN_PACKAGES = ["discomy-hub", "discomy-builder", "discomy-cli"]
# what a hub, builder or koji client may pull in besides our own packages
PLUGIN_REQUIRES = {"python(abi)", "/usr/bin/python3", "python3-koji", "python3-pyyaml",
                   "koji", "koji-hub", "koji-builder"}
HEAVY = re.compile(r"numpy|scipy|solv|sqlalchemy|alembic", re.I)
HEAVY_MODULES = ("numpy", "scipy", "solv", "sqlalchemy", "alembic", "rich", "pika", "proton",
                 "prometheus_client")


def _version() -> str:
    return re.search(r"^Version:\s*(\S+)", (ROOT / "discomy.spec").read_text(), re.M).group(1)


def _skip_junk(info: tarfile.TarInfo):
    parts = Path(info.name).parts
    if "__pycache__" in parts or any(p.endswith(".egg-info") for p in parts):
        return None
    return info


def _query(rpm: Path, *args: str) -> list:
    out = subprocess.run(["rpm", "-qp", *args, str(rpm)], capture_output=True, text=True,
                         check=True).stdout
    return [line for line in out.splitlines() if line and line != "(contains no files)"]


def _packages(built) -> dict:
    """Our binary RPMs by package name."""
    return {_query(p, "--qf", "%{NAME}")[0]: p for p in (built / "RPMS" / "noarch").glob("*.rpm")}


def _extract(rpms, dest: Path) -> Path:
    dest.mkdir(exist_ok=True)
    for rpm in rpms:
        payload = subprocess.run(["rpm2cpio", str(rpm)], capture_output=True, check=True).stdout
        subprocess.run(["cpio", "-idm", "--quiet"], input=payload, cwd=dest, check=True)
    return dest


def _distributions_dir(names, dest: Path) -> Path:
    """A directory holding the named installed distributions and what they require (links
    to their top-level modules), so that a Python run on it sees those and nothing else."""
    dest.mkdir(exist_ok=True)
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue                    # an optional requirement not installed here
        tops = (dist.read_text("top_level.txt") or "").split() or {
            f.parts[0].removesuffix(".py") for f in dist.files or ()}
        for top in filter(str.isidentifier, tops):
            spec = importlib.util.find_spec(top)
            if spec is None:
                continue
            origin = (list(spec.submodule_search_locations)[0] if spec.submodule_search_locations
                      else spec.origin)
            link = dest / Path(origin).name
            if not link.exists():
                link.symlink_to(origin)
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return dest


def _run_isolated(paths, code: str) -> subprocess.CompletedProcess:
    """Python without site-packages (-I -S): the standard library, then ``paths``."""
    prelude = f"import sys\nsys.path += {[str(p) for p in paths]!r}\n"
    return subprocess.run([sys.executable, "-I", "-S", "-c", prelude + code],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    top = tmp_path_factory.mktemp("rpmbuild")
    name = f"discomy-{_version()}"
    (top / "SOURCES").mkdir()
    with tarfile.open(top / "SOURCES" / f"{name}.tar.gz", "w:gz") as tar:
        for entry in TOP_LEVEL:
            if (ROOT / entry).exists():     # git keeps no empty directories
                tar.add(ROOT / entry, arcname=f"{name}/{entry}", filter=_skip_junk)
    # rpm's Python dependency generator runs under the system python3, which may lack
    # `packaging`; lend it ours so the generated requirements are built and checked too
    generator_path = top / "generator-path"
    generator_path.mkdir()
    (generator_path / "packaging").symlink_to(Path(importlib.util.find_spec("packaging").origin).parent)
    env = dict(os.environ, PYTHONPATH=str(generator_path))
    # this interpreter (the test venv) has pip, setuptools and wheel: the spec's
    # fallback builds and installs the wheel with it
    proc = subprocess.run(
        ["rpmbuild", "-ba", "--nodeps", "--define", f"_topdir {top}", "--define", "dist .el9",
         "--define", f"__python3 {sys.executable}", str(ROOT / "discomy.spec")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Traceback" not in proc.stdout, proc.stdout[-3000:]
    return top


def test_spec_builds_every_subpackage(built):
    rpms = sorted(p.name for p in (built / "RPMS" / "noarch").glob("*.rpm"))
    for sub in SUBPACKAGES:
        assert any(r.startswith(f"{sub}-{_version()}") for r in rpms), (sub, rpms)
    assert list((built / "SRPMS").glob("discomy-*.src.rpm"))


def test_orchestrator_package_ships_command_unit_and_config(built):
    rpm = next((built / "RPMS" / "noarch").glob("discomy-orchestrator-*.rpm"))
    files = subprocess.run(["rpm", "-qlp", str(rpm)], capture_output=True, text=True).stdout
    assert "/usr/bin/discomy\n" in files
    assert "/etc/discomy/orchestrator.toml" in files
    assert "discomy-orchestrator.service" in files
    # the unit runs as User=discomy: the package makes that user before its files land
    scripts = subprocess.run(["rpm", "-qp", "--scripts", str(rpm)], capture_output=True,
                             text=True).stdout
    assert "useradd -r -g discomy" in scripts
    unit = (ROOT / "packaging" / "discomy-orchestrator.service").read_text()
    assert "User=discomy" in unit and "StateDirectory=discomy" in unit


@pytest.mark.skipif(shutil.which("rpmlint") is None, reason="rpmlint is installed by make test")
def test_rpmlint_reports_no_errors(built):
    targets = [str(ROOT / "discomy.spec")] + [str(p) for p in (built / "RPMS" / "noarch").glob("*.rpm")]
    proc = subprocess.run(["rpmlint", "-r", str(ROOT / "discomy.rpmlintrc"), *targets], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    match = re.search(r"(\d+) errors?", summary)
    assert match and int(match.group(1)) == 0, proc.stdout[-4000:]


def test_hub_builder_and_cli_packages_pull_in_no_numpy_solv_or_sqlalchemy(built):
    packages = _packages(built)
    provides = {}                       # a capability or file -> our package that has it
    for name, rpm in packages.items():
        for cap in _query(rpm, "--provides") + _query(rpm, "-l"):
            provides[cap.split()[0]] = name
    for plugin in PLUGIN_PACKAGES:
        # dnf installs what a package requires and, by default, what it recommends
        ours, outside, todo = set(), set(), [plugin]
        while todo:
            name = todo.pop()
            if name in ours:
                continue
            ours.add(name)
            for dep in _query(packages[name], "--requires") + _query(packages[name], "--recommends"):
                cap = dep.split()[0]
                if cap.startswith("rpmlib("):
                    continue
                if cap in provides:
                    todo.append(provides[cap])
                else:
                    outside.add(cap)
        assert ours <= {plugin, "python3-discomy-core"}, (plugin, ours)
        assert not [cap for cap in outside if HEAVY.search(cap)], (plugin, sorted(outside))
        assert outside <= PLUGIN_REQUIRES, (plugin, sorted(outside - PLUGIN_REQUIRES))


def test_core_and_full_library_split_the_package_by_role(built):
    packages = _packages(built)
    shipped = {name: {f for f in _query(packages[name], "-l") if f.startswith(SITELIB + "/discomy")}
               for name in ("python3-discomy-core", "python3-discomy")}
    top = SITELIB + "/discomy/"
    core_parts = {f[len(top):].split("/")[0] for f in shipped["python3-discomy-core"] if f.startswith(top)}
    full_parts = {f[len(top):].split("/")[0] for f in shipped["python3-discomy"] if f.startswith(top)}
    assert core_parts == CORE_PARTS, core_parts
    assert full_parts <= FULL_PARTS | {"__pycache__"}, full_parts
    # the shared __pycache__ holds each package's own top-level modules only
    assert all(re.search(r"/discomy/__pycache__/__main__\.", f)
               for f in shipped["python3-discomy"] if "/discomy/__pycache__/" in f)
    # every module of the source tree ships, in exactly one of the two
    for path in (ROOT / "orchestrator" / "discomy").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            installed = f"{SITELIB}/{path.relative_to(ROOT / 'orchestrator').as_posix()}"
            owners = [name for name, files in shipped.items() if installed in files]
            assert len(owners) == 1, (installed, owners)
    # the metadata, and so the generated python3dist() requirements, are the full library's
    assert any(f.endswith(".dist-info") for f in shipped["python3-discomy"])
    assert not any(".dist-info" in f for f in shipped["python3-discomy-core"])
    assert any(p.startswith("python3dist(discomy)") for p in _query(packages["python3-discomy"], "--provides"))
    full_requires = {dep.split()[0] for dep in _query(packages["python3-discomy"], "--requires")}
    assert {"python3-discomy-core", "python3-numpy", "python3-solv", "python3-sqlalchemy"} <= full_requires
    # the builder's own commands come with the builder, the orchestrator's with it
    builder_files = _query(packages["discomy-builder"], "-l")
    assert {"/usr/bin/discomy-builder", "/usr/bin/discomy-builder-setup"} <= set(builder_files)
    assert "/usr/bin/discomy" not in builder_files


def test_core_package_and_plugins_run_on_the_standard_library_koji_and_yaml_alone(built, tmp_path):
    packages = _packages(built)
    root = _extract([packages[name] for name in ("python3-discomy-core", "discomy-builder",
                                                 "discomy-cli")], tmp_path / "root")
    sitelib = root / SITELIB.lstrip("/")
    deps = _distributions_dir(["koji", "PyYAML"], tmp_path / "deps")
    modules = sorted(".".join(p.relative_to(sitelib).with_suffix("").parts).removesuffix(".__init__")
                     for p in (sitelib / "discomy").rglob("*.py"))
    assert "discomy.placement.schedule" in modules and "discomy.builder.probe" in modules
    # the kojid and koji CLI plugins load from their directories; kojihub is not here
    plugin_dirs = [root / "usr/lib/koji-builder-plugins", sitelib / "koji_cli_plugins"]
    proc = _run_isolated([sitelib, deps, *plugin_dirs], f"""
import importlib, json
for name in {modules!r} + ["discomy_builder", "discomy_cli"]:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)))
""")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == []
    # the builder's commands, as installed, run on the same
    for command in ("discomy-builder", "discomy-builder-setup"):
        proc = _run_isolated([sitelib, deps], f"""
import runpy
sys.argv = [{command!r}, "--help"]
runpy.run_path({str(root / 'usr/bin' / command)!r}, run_name="__main__")
""")
        assert proc.returncode == 0 and "usage:" in proc.stdout, (command, proc.stderr[-2000:])
