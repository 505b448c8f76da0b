"""Relative paths on the command line and in the config file: made absolute where they
are read, so every part below sees the same directories."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from discomy.orchestration.backends.local import LocalBackend
from discomy.orchestration.config import load_config
from discomy.orchestration.store import absolute_store_url


def discomy(*args, cwd):
    return subprocess.run([sys.executable, "-m", "discomy", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_a_rebuild_with_relative_options_builds_inside_the_working_directory(
        tmp_path, example_repos):
    here = tmp_path / "here"
    here.mkdir()
    # the repositories next to the working directory, named relative to it
    shutil.copytree(example_repos.source_repo, here / "src")
    shutil.copytree(example_repos.binary_repo, here / "bin")
    (here / "etc").mkdir()
    (here / "etc" / "orchestrator.toml").write_text('[plan]\ncache_dir = "cache"\n')
    run = discomy("rebuild", "corelib", "--backend", "local", "--repo", "src", "--repo", "bin",
                  "--store", "sqlite:///c.sqlite", "--workdir", "work", "--config",
                  "etc/orchestrator.toml", "--no-progress", "--json", cwd=here)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["state"] == "done"
    campaign = here / "work" / "campaign-1"
    assert Path(summary["repo"]) == campaign / "repo"
    assert len(list((campaign / "repo").glob("*.el9.discomy1.*.rpm"))) >= 4
    # rpmbuild's tree is where the campaign put it, nothing landed elsewhere
    assert (campaign / "rpmbuild" / "SPECS").is_dir()
    assert not (campaign / "rpmbuild" / "BUILD" / "work").exists()
    assert sorted(p.name for p in here.iterdir()) == ["bin", "c.sqlite", "etc", "src", "work"]
    # the config's relative cache_dir is relative to the config file
    assert (here / "etc" / "cache").is_dir()
    # the store found again from the same place, and the recorded workdir is absolute
    status = discomy("status", "1", "--store", "sqlite:///c.sqlite", "--json", cwd=here)
    assert json.loads(status.stdout)["state"] == "done"


def test_relative_paths_in_the_config_file_are_relative_to_its_directory(tmp_path, monkeypatch):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "orchestrator.toml").write_text(
        '[store]\nurl = "sqlite:///state/discomy.sqlite"\n'
        '[campaign]\nworkdir = "campaigns"\n'
        '[plan]\nrepos = ["repos/bin", "https://kojipkgs.example.org/repos/x"]\n'
        'cache_dir = "../cache"\n'
        '[local]\nsource_repos = ["/srv/src", "repos/src"]\n')
    monkeypatch.chdir(tmp_path)       # not the config's directory
    config = load_config(Path("etc/orchestrator.toml"), missing_ok=False)
    assert config["campaign"]["workdir"] == str(etc / "campaigns")
    assert config["plan"]["cache_dir"] == str(tmp_path / "cache")
    assert config["plan"]["repos"] == [str(etc / "repos" / "bin"),
                                       "https://kojipkgs.example.org/repos/x"]
    assert config["local"]["source_repos"] == ["/srv/src", str(etc / "repos" / "src")]
    assert config["store"]["url"] == f"sqlite:///{etc / 'state' / 'discomy.sqlite'}"
    assert config["messaging"]["tls_ca_cert"] == ""        # unset stays unset


@pytest.mark.parametrize("url, absolute", [
    ("sqlite:///c.sqlite", "sqlite:////base/c.sqlite"),
    ("sqlite:////var/lib/d.sqlite", "sqlite:////var/lib/d.sqlite"),
    ("sqlite://", "sqlite://"),
    ("postgresql+psycopg://discomy@db/discomy", "postgresql+psycopg://discomy@db/discomy"),
])
def test_only_a_relative_sqlite_file_in_a_store_url_is_made_absolute(url, absolute):
    assert absolute_store_url(url, "/base") == absolute


def test_the_local_backend_refuses_a_relative_workdir(example_repos):
    with pytest.raises(ValueError, match="absolute"):
        LocalBackend(Path("work"), [example_repos.source_repo], 1)
