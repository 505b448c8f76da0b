"""Every mock config loads the way mock loads it (exec into config_opts, with
include()) and names its arch, root and the Rocky repositories."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

MOCK_DIR = Path(__file__).resolve().parents[2] / "mock-configs"
CONFIGS = sorted(MOCK_DIR.glob("*.cfg"))


def load(path: Path) -> dict:
    config_opts: dict = {"macros": {}, "plugin_conf": {}}

    def include(name):
        target = MOCK_DIR / name
        exec(compile(target.read_text(), str(target), "exec"),
             {"config_opts": config_opts, "include": include})

    exec(compile(path.read_text(), str(path), "exec"),
         {"config_opts": config_opts, "include": include})
    return config_opts


def test_every_version_and_arch_has_a_native_config():
    names = {p.name for p in CONFIGS}
    for version in (8, 9):
        for arch in ("x86_64", "aarch64", "ppc64le", "s390x"):
            assert f"discomy-rocky-{version}-{arch}.cfg" in names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_loads_and_names_arch_root_and_repositories(path):
    opts = load(path)
    version = path.name.split("-")[2]
    arch = path.name.split("-")[3].replace(".cfg", "")
    assert opts["root"] == path.name[:-4]
    assert opts["target_arch"] == arch
    assert opts["package_manager"] == "dnf" and opts["releasever"] == version
    assert opts["chroot_setup_cmd"].startswith("install @")
    dnf = configparser.ConfigParser(interpolation=None)
    dnf.read_string(opts["dnf.conf"])
    extra = "crb" if version == "9" else "powertools"
    assert {"main", "baseos", "appstream", extra} <= set(dnf.sections()) | {"main"}
    for section in ("baseos", "appstream", extra):
        assert "{{ target_arch }}" in dnf[section]["mirrorlist"]
        assert dnf[section]["gpgcheck"] == "1"
    if "-on-" in path.name:
        assert opts["forcearch"] == arch and opts["legal_host_arches"] == ("x86_64",)
    else:
        assert opts["legal_host_arches"] == (arch,)
