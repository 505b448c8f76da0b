"""The API's systemd unit: it runs the command as it is parsed here, as the same user
as the orchestrator, hardened at least as the orchestrator's unit is."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from discomy.cli import build_parser

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


def service(name: str) -> dict:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(PACKAGING / name)
    return dict(parser["Service"])


def test_the_api_unit_runs_discomy_api_as_the_orchestrators_user_and_at_least_as_hardened():
    api, daemon = service("discomy-api.service"), service("discomy-orchestrator.service")
    argv = shlex.split(api["ExecStart"])
    assert argv[0] == "/usr/bin/discomy"
    args = build_parser().parse_args(argv[1:])
    assert args.command == "api" and str(args.config) == "/etc/discomy/orchestrator.toml"
    for key in ("User", "Group", "StateDirectory", "CacheDirectory", "CacheDirectoryMode",
                "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp",
                "RestartPreventExitStatus"):
        assert api[key] == daemon[key], key
    assert api["CapabilityBoundingSet"] == "" and api["PrivateDevices"] == "yes"
    assert api["RestrictAddressFamilies"] == "AF_INET AF_INET6 AF_UNIX"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_reads_the_api_unit_without_a_complaint_but_the_missing_command():
    proc = subprocess.run(["systemd-analyze", "verify", str(PACKAGING / "discomy-api.service")],
                          capture_output=True, text=True, timeout=60)
    complaints = [line for line in (proc.stdout + proc.stderr).splitlines()
                  if line.strip() and "/usr/bin/discomy is not executable" not in line]
    assert complaints == []
