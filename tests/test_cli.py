"""The ``discomy`` command line as a user meets it: help for everything, a version, and
every subcommand answering bad input with exit status 2 and one line, never a traceback."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from discomy import __version__
from discomy.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def _undocumented(parser: argparse.ArgumentParser, where: str) -> list:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    missing.append(f"{where} {name}")
                missing += _undocumented(sub, f"{where} {name}")
        elif action.help != argparse.SUPPRESS and not action.help:
            missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_subcommand_and_option_says_what_it_does():
    assert _undocumented(build_parser(), "discomy") == []


def test_version_is_printed():
    out = subprocess.run([sys.executable, "-m", "discomy", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"discomy {__version__}"


@pytest.fixture(scope="module")
def world(tmp_path_factory, example_repos):
    """Files the bad inputs point at: a store, configs good and bad, a fleet, durations."""
    d = tmp_path_factory.mktemp("cli-world")
    store = f"sqlite:///{d / 'state.sqlite'}"
    (d / "good.toml").write_text(f'[store]\nurl = "{store}"\n[plan]\ncache_dir = "{d / "cache"}"\n')
    (d / "port.toml").write_text(f'[store]\nurl = "{store}"\n[metrics]\nport = 70000\n')
    (d / "amqp.toml").write_text(f'[store]\nurl = "{store}"\n[messaging]\namqp_url = "not a url"\n')
    (d / "mysql.toml").write_text('[store]\nurl = "mysql://u:secret@db.example.org/discomy"\n')
    (d / "webhook.toml").write_text(f'[store]\nurl = "{store}"\n'
                                    f'[notify]\nwebhook_url = "file:///etc/passwd"\n')
    (d / "nan-fleet.yaml").write_text("- {name: a, count: 1, arches: [x86_64], speed: .nan, "
                                      "capacity: 4, maxjobs: 2}\n")
    (d / "latin1.yaml").write_bytes(b"- {name: \xe9t\xe9, count: 1}\n")
    (d / "huge.json").write_text('{"corelib": 1e400}')
    (d / "adir").mkdir()
    (d / "bad.yaml").write_text("document: modulemd\nversion: 2\ndata: [\n")
    return {"d": d, "src": str(example_repos.source_repo), "bin": str(example_repos.binary_repo),
            "fleet": str(ROOT / "examples" / "fleet.yaml"), "store": store}


def _repos(w):
    return ["--repo", w["src"], "--repo", w["bin"], "--cache-dir", str(w["d"] / "cache")]


# (name, argv from the world): each must exit 2 with one line on stderr
BAD_INPUTS = [
    ("no subcommand", lambda w: []),
    ("unknown subcommand", lambda w: ["frobnicate"]),
    ("unknown option", lambda w: ["plan", "--frobnicate"]),
    ("plan without --changed", lambda w: ["plan", "--repo", w["src"]]),
    ("plan of a missing repo", lambda w: ["plan", "--repo", "/nonexistent", "--changed", "x"]),
    ("plan of a repo name too long", lambda w: ["plan", "--repo", "x" * 300, "--changed", "x"]),
    ("plan without binaries", lambda w: ["plan", "--repo", w["src"], "--changed", "corelib",
                                         "--no-cache"]),
    ("plan of an empty change", lambda w: ["plan", *_repos(w), "--changed", ","]),
    ("plan of an unknown package", lambda w: ["plan", *_repos(w), "--changed", "nosuch"]),
    ("plan with a depth typo", lambda w: ["plan", *_repos(w), "--changed", "corelib",
                                          "--depth", "deep"]),
    ("durations naming a directory", lambda w: ["plan", *_repos(w), "--changed", "corelib",
                                                "--durations", str(w["d"] / "adir")]),
    ("durations of 1e400", lambda w: ["plan", *_repos(w), "--changed", "corelib",
                                      "--durations", str(w["d"] / "huge.json")]),
    ("estimate without a fleet", lambda w: ["estimate", *_repos(w), "--changed", "corelib"]),
    ("estimate on a NaN fleet", lambda w: ["estimate", *_repos(w), "--changed", "corelib",
                                           "--fleet", str(w["d"] / "nan-fleet.yaml")]),
    ("estimate on a latin-1 fleet", lambda w: ["estimate", *_repos(w), "--changed", "corelib",
                                               "--fleet", str(w["d"] / "latin1.yaml")]),
    ("estimate with NaN regeneration", lambda w: ["estimate", *_repos(w), "--all", "--fleet",
                                                  w["fleet"], "--regen-seconds", "nan"]),
    ("estimate with negative regeneration", lambda w: ["estimate", *_repos(w), "--all",
                                                       "--fleet", w["fleet"],
                                                       "--regen-seconds", "-100"]),
    ("estimate for an arch nobody builds", lambda w: ["estimate", *_repos(w), "--all",
                                                      "--fleet", w["fleet"], "--arches", "mips"]),
    ("estimate plot into a missing directory", lambda w: ["estimate", *_repos(w), "--all",
                                                          "--fleet", w["fleet"], "--plot",
                                                          "/nonexistent/dir/t.svg"]),
    ("rebuild with a fleet but no dry run", lambda w: ["rebuild", "corelib", "--fleet",
                                                       w["fleet"], "--store", w["store"]]),
    ("koji rebuild without a target", lambda w: ["rebuild", "corelib", "--backend", "koji",
                                                 "--config", str(w["d"] / "good.toml")]),
    ("rebuild of an unknown package", lambda w: ["rebuild", "nosuch", *_repos(w)[:4],
                                                 "--config", str(w["d"] / "good.toml")]),
    ("campaigns with a metrics port of 70000", lambda w: ["campaigns", "--config",
                                                          str(w["d"] / "port.toml")]),
    ("campaigns with a file:// webhook", lambda w: ["campaigns", "--config",
                                                    str(w["d"] / "webhook.toml")]),
    ("campaigns on a mysql store", lambda w: ["campaigns", "--config", str(w["d"] / "mysql.toml")]),
    ("campaigns with a missing config", lambda w: ["campaigns", "--config", "/nonexistent.toml"]),
    ("status of a huge campaign number", lambda w: ["status", "99999999999999999999999",
                                                    "--store", w["store"]]),
    ("status of a campaign that is not there", lambda w: ["status", "4242", "--store",
                                                          w["store"]]),
    ("status of a negative campaign", lambda w: ["status", "-3", "--store", w["store"]]),
    ("resume of a campaign that is not there", lambda w: ["resume", "4242", "--store",
                                                          w["store"]]),
    ("cancel of a word", lambda w: ["cancel", "all", "--store", w["store"]]),
    ("serve that would spin", lambda w: ["serve", "--tick", "0", "--config",
                                         str(w["d"] / "good.toml")]),
    ("serve deaf to a bad broker URL", lambda w: ["serve", "--config", str(w["d"] / "amqp.toml")]),
    ("rejected with a limit of zero", lambda w: ["rejected", "--limit", "0", "--store",
                                                 w["store"]]),
    ("module-build of nothing", lambda w: ["module-build", "--local"]),
    ("module-build of a file and a URL", lambda w: ["module-build", "--file", "x.yaml",
                                                    "file:///m.git", "1"]),
    ("module-build of a missing file", lambda w: ["module-build", "--local", "--file",
                                                  "/nonexistent.yaml"]),
    ("module-build of a directory", lambda w: ["module-build", "--local", "--file",
                                               str(w["d"] / "adir")]),
    ("module-build of a bad modulemd", lambda w: ["module-build", "--local", "--file",
                                                  str(w["d"] / "bad.yaml"), "--workdir",
                                                  str(w["d"] / "mods")]),
    ("module-build from an ext:: URL", lambda w: ["module-build", "ext::sh -c id", "1"]),
    ("module-build of a branch that is an option", lambda w: ["module-build", "file:///m.git",
                                                              "--", "--upload-pack=id"]),
    ("module-build with a reuse typo", lambda w: ["module-build", "--local", "--file",
                                                  "x.yaml", "--reuse", "some"]),
    ("api on a listen address without a port", lambda w: ["api", "--listen", "127.0.0.1",
                                                          "--store", w["store"]]),
    ("api on an IPv6 address without brackets", lambda w: ["api", "--listen", "::1:8080",
                                                           "--store", w["store"]]),
    ("api on a mysql store", lambda w: ["api", "--config", str(w["d"] / "mysql.toml")]),
    ("token without an action", lambda w: ["token"]),
    ("token named with a space", lambda w: ["token", "create", "a b", "--store", w["store"]]),
    ("token named too long", lambda w: ["token", "create", "x" * 65, "--store", w["store"]]),
    ("revoke of a token that is not there", lambda w: ["token", "revoke", "nosuch", "--store",
                                                       w["store"]]),
]


@pytest.mark.parametrize("argv_of", [case[1] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_exit_status_2_and_one_line(world, argv_of):
    argv = argv_of(world)
    out = subprocess.run([sys.executable, "-m", "discomy", *argv], capture_output=True,
                         text=True, timeout=120, cwd=world["d"],
                         env={**os.environ, "XDG_CACHE_HOME": str(world["d"] / "xdg")})
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 2, (out.returncode, out.stderr, out.stdout[-500:])
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("discomy"), lines[0]


# -- any command line -----------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

WORDS = st.sampled_from(["corelib", "nosuch", "0", "-1", "1", "99999999999999999999999",
                         "nan", "inf", "-inf", "", "\udcff", "/nonexistent", "x" * 300,
                         "koji", "local", "direct", "per-edge", "a,b,,c", "1e400", "-", "."])


def _options(parser: argparse.ArgumentParser) -> dict:
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    # servers run until stopped; token has only actions (its bad inputs are listed above)
    return {name: [s for a in sub._actions for s in a.option_strings if s not in
                   ("-h", "--help", "--follow")]
            for name, sub in subs.choices.items() if name not in ("serve", "api", "token")}


OPTIONS = _options(build_parser())


@st.composite
def command_lines(draw, world):
    sub = draw(st.sampled_from(sorted(OPTIONS)))
    argv = [sub]
    if sub == "rebuild":
        argv.append("--dry-run")            # a real rebuild would build with rpmbuild
    if sub in ("plan", "estimate", "rebuild"):
        argv += _repos(world)
    if sub in ("status", "resume", "cancel"):
        argv.append(draw(WORDS))
    for _ in range(draw(st.integers(0, 4))):
        argv.append(draw(st.sampled_from(OPTIONS[sub])))
        if draw(st.booleans()):
            argv.append(draw(WORDS | st.text(max_size=20)))
    if sub in ("rebuild", "campaigns", "status", "resume", "cancel", "rejected", "module-build"):
        argv += ["--store", world["store"]]
    return argv


def test_any_command_line_runs_or_is_one_line_with_status_2(world, monkeypatch):
    import contextlib
    import io

    from discomy import cli

    monkeypatch.chdir(world["d"])
    monkeypatch.setenv("XDG_CACHE_HOME", str(world["d"] / "xdg"))

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(command_lines(world))
    def check(argv):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                rc = cli.main(argv)
            except SystemExit as exc:      # argparse's own exit
                rc = exc.code
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        assert rc in (0, 1, 2), (argv, rc, lines)
        if rc == 2:
            assert len(lines) == 1 and lines[0].startswith("discomy"), (argv, lines)

    check()
