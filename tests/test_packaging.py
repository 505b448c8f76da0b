"""discomy.spec builds with rpmbuild -ba and rpmlint reports no errors."""

import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL = ["orchestrator", "koji-plugins", "mock-configs", "examples", "packaging", "docs",
             "discomy.rpmlintrc",
             "README.md", "LICENSE", "discomy.spec"]
SUBPACKAGES = ["python3-discomy", "discomy-hub", "discomy-builder", "discomy-cli",
               "discomy-orchestrator", "discomy-mock-configs"]


def _version() -> str:
    return re.search(r"^Version:\s*(\S+)", (ROOT / "discomy.spec").read_text(), re.M).group(1)


def _skip_junk(info: tarfile.TarInfo):
    parts = Path(info.name).parts
    if "__pycache__" in parts or any(p.endswith(".egg-info") for p in parts):
        return None
    return info


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    top = tmp_path_factory.mktemp("rpmbuild")
    name = f"discomy-{_version()}"
    (top / "SOURCES").mkdir()
    with tarfile.open(top / "SOURCES" / f"{name}.tar.gz", "w:gz") as tar:
        for entry in TOP_LEVEL:
            if (ROOT / entry).exists():     # git keeps no empty directories
                tar.add(ROOT / entry, arcname=f"{name}/{entry}", filter=_skip_junk)
    proc = subprocess.run(
        ["rpmbuild", "-ba", "--nodeps", "--define", f"_topdir {top}", "--define", "dist .el9",
         str(ROOT / "discomy.spec")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
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
