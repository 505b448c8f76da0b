"""The koji CLI plugin's module-build commands, run as the real ``koji`` command against a
real ``discomy serve`` (its REST API on 127.0.0.1, module builds on the local backend from
git repositories the tests make): submit and watch to the end, list, info, cancel; the
exit codes; and one line when the profile has no ``discomy_url`` or the token is refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from discomy.cli.examples import EXAMPLE_MODULE, commit_spec

from test_server import free_port, start, stop, token, wait_until_up, write_config

ROOT = Path(__file__).resolve().parents[2]
KOJI = Path(sys.executable).parent / "koji"
PLUGINS = ROOT / "koji-plugins" / "cli"

BROKEN_SPEC = """\
Name:           broken
Version:        1
Release:        1%{?dist}
Summary:        A component whose build fails
License:        MIT

%description
Fails in %build.

%build
echo "the build step fails" >&2
exit 1

%files

%changelog
* Sun Nov 22 2026 Discomy <discomy@example.org> - 1-1
- Example
"""


@pytest.fixture(scope="module")
def orchestrator(tmp_path_factory, example_repos, module_git):
    """``discomy serve`` with ``[api] serve`` and local module builds; its URL and a token."""
    tmp = tmp_path_factory.mktemp("serve")
    port = free_port()
    config = write_config(tmp, example_repos, port, "serve = true\n"
                          f'[modules]\nworkdir = "{tmp / "modules"}"\n'
                          f'rpms_repository = "file://{module_git}/{{name}}.git"\n')
    secret = token(config, "packager")
    log = tmp / "serve.log"
    proc = start(["serve", "--config", str(config), "--tick", "0.2"], log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        yield {"url": base, "token": secret, "log": log}
    finally:
        status = stop(proc)
    assert status == 0, log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()


def profile(tmp_path, url=None, token_text=None, name="koji") -> Path:
    """A koji config with one profile: the hub it never needs, the plugin, and Discomy's
    keys when given."""
    lines = [f"[{name}]", "server = http://127.0.0.1:9/kojihub", f"plugin_paths = {PLUGINS}",
             "poll_interval = 1"]
    if url is not None:
        lines.append(f"discomy_url = {url}")
    if token_text is not None:
        (tmp_path / "discomy.token").write_text(token_text + "\n")
        lines.append(f"discomy_token_file = {tmp_path / 'discomy.token'}")
    path = tmp_path / "koji.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


def koji(conf: Path, *argv, timeout=600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(conf.parent)}
    return subprocess.run([str(KOJI), "-c", str(conf), *argv], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture
def conf(tmp_path, orchestrator):
    return profile(tmp_path, orchestrator["url"], orchestrator["token"])


def test_module_build_watch_follows_each_batch_to_ready_and_exits_zero(conf, module_git):
    done = koji(conf, "module-build", "--watch", f"file://{module_git}/discomy-demo.git", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Module build ") and " submitted: discomy-demo:1:" in lines[0]
    build_id = lines[0].split()[2]
    assert lines[1].endswith(f"/api/v1/module-builds/{build_id}")
    # progress per batch, in batches 1 to 3, as the components went: the watch polls
    # once a second, so which in-between states it catches (building, or built and
    # waiting for the batch's repo) depends on how fast this machine builds
    assert any(line.startswith("  batch 3: ") for line in lines)
    assert any(re.match(r"  batch \d: .*\d (building|waiting-repo)", line) for line in lines), \
        done.stdout
    assert lines[-4].startswith(f"module build {build_id} discomy-demo:1:")
    assert ": ready (module repo " in lines[-4]
    assert lines[-3:] == ["  batch 1: 2 done", "  batch 2: 1 done", "  batch 3: 1 done"]
    repo = Path(lines[-4].split("module repo ")[-1].rstrip(")"))
    assert list((repo / "repodata").glob("*modules.yaml.gz"))

    # the list and the info show it
    table = koji(conf, "module-builds", "--state", "ready")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["ID", "NSVC", "State", "Owner", "Done",
                                                    "Created"]
    row = next(line.split() for line in table.stdout.splitlines()
               if line.split()[0] == build_id)
    assert row[2:5] == ["ready", "packager", "4/4"]
    listed = json.loads(koji(conf, "module-builds", "--name", "discomy-demo", "--json").stdout)
    assert build_id in [str(b["id"]) for b in listed["items"]]
    info = koji(conf, "module-build-info", build_id)
    assert info.returncode == 0, info.stderr
    assert "  State: ready" in info.stdout and "  Owner: packager" in info.stdout
    components = {line.split()[0]: line.split() for line in info.stdout.splitlines()
                  if line.split() and line.split()[0] in ("corelib", "parsekit", "appsuite",
                                                          "standalone")}
    assert components["corelib"][1:3] == ["1", "done"]
    assert components["appsuite"][1:3] == ["3", "done"]
    assert components["appsuite"][3].startswith("appsuite-") and ".module+el9+" in \
        components["appsuite"][3]
    modulemd = koji(conf, "module-build-info", build_id, "--modulemd").stdout
    assert "document: modulemd" in modulemd and "artifacts:" in modulemd


def test_a_watched_build_that_fails_exits_non_zero_naming_the_component(conf, module_git,
                                                                         tmp_path):
    commit_spec(tmp_path / "broken.git", BROKEN_SPEC, "broken", "broken: import")
    text = EXAMPLE_MODULE.read_text().replace('stream: "1"', 'stream: "broken"').replace(
        "      standalone:\n", f"      broken:\n        rationale: fails\n"
                               f"        repository: file://{tmp_path / 'broken.git'}\n"
                               f"        ref: main\n      standalone:\n")
    modulemd = tmp_path / "broken.yaml"
    modulemd.write_text(text)
    done = koji(conf, "module-build", "--file", str(modulemd), "--watch", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    # the JSON alone on stdout: the build as it ended
    (build,) = json.loads(done.stdout)
    assert build["state"] == "failed" and build["failure_class"] == "package"
    # progress and the failure for people on stderr
    err = done.stderr.splitlines()
    assert err[0].startswith(f"Module build {build['id']} submitted: discomy-demo:broken:")
    assert f"module build {build['id']} {build['nsvc']}: failed (component broken failed: " \
           "rpmbuild failed for broken in %build" in done.stderr
    assert any(line.startswith("  broken: package: ") for line in err), done.stderr
    assert "Traceback" not in done.stderr


def test_module_build_cancel_cancels_once_then_refuses_in_one_line(conf, tmp_path):
    modulemd = tmp_path / "demo.yaml"
    modulemd.write_text(EXAMPLE_MODULE.read_text().replace('stream: "1"', 'stream: "cx"'))
    submitted = koji(conf, "module-build", "--file", str(modulemd), "--json")
    assert submitted.returncode == 0, submitted.stderr
    (build,) = json.loads(submitted.stdout)
    canceled = koji(conf, "module-build-cancel", str(build["id"]))
    assert canceled.returncode == 0, canceled.stderr
    assert canceled.stdout.strip() == f"Module build {build['id']} canceled: {build['nsvc']}"
    again = koji(conf, "module-build-cancel", str(build["id"]))
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.strip() == (f"discomy: module build {build['id']} is canceled: only a "
                                    f"build that has not finished can be canceled (HTTP 409)")
    missing = koji(conf, "module-build-info", "424242")
    assert (missing.returncode, missing.stderr.strip()) == \
        (1, "discomy: no module build 424242 (HTTP 404)")
    usage = koji(conf, "module-build-cancel", "seven")
    assert usage.returncode == 2 and "Please specify one module build ID" in usage.stderr


def test_a_modulemd_libmodulemd_refuses_is_one_line_and_status_1(conf, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("document: modulemd\nversion: 2\ndata: {}\n")
    done = koji(conf, "module-build", "--file", str(bad))
    assert done.returncode == 1
    assert done.stderr.strip() == "discomy: bad.yaml: Summary is missing (HTTP 400)"


def test_a_profile_without_discomy_url_is_one_clear_line(tmp_path):
    conf = profile(tmp_path)
    done = koji(conf, "module-builds")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == ("the koji profile 'koji' has no discomy_url: set it to the "
                                   "orchestrator's address (e.g. discomy_url = "
                                   "https://discomy.example.org)")
    named = profile(tmp_path, name="stg")
    done = koji(named, "--profile", "stg", "module-build-info", "1")
    assert done.returncode == 1 and "the koji profile 'stg' has no discomy_url" in done.stderr
    odd = profile(tmp_path, url="ftp://example.org")
    done = koji(odd, "module-builds")
    assert done.returncode == 1
    assert done.stderr.strip() == ("discomy_url of the koji profile 'koji' must be an http or "
                                   "https URL, not 'ftp://example.org'")


def test_the_shipped_profile_drop_in_adds_the_keys_to_the_profile_once_uncommented(
        tmp_path, orchestrator):
    # koji.conf.d as koji reads it: the profile's own file and the shipped drop-in
    shipped = (PLUGINS / "discomy.conf").read_text()
    confd = tmp_path / "koji.conf.d"
    confd.mkdir()
    profile(tmp_path).rename(confd / "00-koji.conf")
    (confd / "discomy.conf").write_text(shipped)
    done = koji(confd, "module-builds")
    assert done.returncode == 1 and "the koji profile 'koji' has no discomy_url" in done.stderr
    (tmp_path / "token").write_text(orchestrator["token"] + "\n")
    edited = shipped.replace(";discomy_url = https://discomy.example.org",
                             f"discomy_url = {orchestrator['url']}")
    edited = edited.replace(";discomy_token_file = ~/.config/discomy/token",
                            f"discomy_token_file = {tmp_path / 'token'}")
    assert edited.count("\ndiscomy_") == 2, "the drop-in's example lines changed"
    (confd / "discomy.conf").write_text(edited)
    done = koji(confd, "module-builds")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_a_refused_token_a_missing_one_and_no_server_are_one_line_each(tmp_path, orchestrator,
                                                                       module_git):
    scm = [f"file://{module_git}/discomy-demo.git", "1"]
    wrong = koji(profile(tmp_path, orchestrator["url"], "dsy_wrong"), "module-build", *scm)
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == "discomy: the token is not known or was revoked (HTTP 401)"
    none = koji(profile(tmp_path, orchestrator["url"]), "module-build", *scm)
    assert none.returncode == 1
    assert none.stderr.strip() == ("this needs an API token: set discomy_token_file in the "
                                   "koji profile 'koji' to a file holding one (made with "
                                   "discomy token create)")
    # reads need no token
    assert koji(profile(tmp_path, orchestrator["url"]), "module-builds").returncode == 0
    away = koji(profile(tmp_path, f"http://127.0.0.1:{free_port()}", "dsy_x"), "module-builds")
    assert away.returncode == 1 and len(away.stderr.strip().splitlines()) == 1
    assert away.stderr.startswith("cannot reach the orchestrator at http://127.0.0.1:")
    conf = profile(tmp_path, orchestrator["url"], "dsy_x")
    (tmp_path / "discomy.token").unlink()
    gone = koji(conf, "module-builds")
    assert gone.returncode == 1 and gone.stderr.startswith("cannot read the discomy token file")
