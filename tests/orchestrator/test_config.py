"""The orchestrator's TOML configuration: defaults, the shipped example, clear errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from discomy.config import DEFAULTS, ConfigError, load_config, merge_config

EXAMPLE = Path(__file__).resolve().parents[2] / "orchestrator" / "discomy" / "orchestrator.example.toml"


def test_a_missing_file_gives_every_default():
    assert load_config(Path("/nonexistent/orchestrator.toml")) == DEFAULTS


def test_a_missing_file_is_an_error_when_required(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml", missing_ok=False)


def test_the_documented_example_lists_every_option_with_its_default():
    data = tomllib.loads(EXAMPLE.read_text())
    assert {s: set(v) for s, v in data.items()} == {s: set(v) for s, v in DEFAULTS.items()}
    assert merge_config(data, str(EXAMPLE)) == DEFAULTS


def test_values_override_defaults_key_by_key(tmp_path):
    path = tmp_path / "o.toml"
    path.write_text('[campaign]\nrelease = "per-edge"\nmax_in_flight = 4\n')
    config = load_config(path)
    assert config["campaign"]["release"] == "per-edge"
    assert config["campaign"]["max_in_flight"] == 4
    assert config["campaign"]["backend"] == "local"
    assert config["store"] == DEFAULTS["store"]


@pytest.mark.parametrize("text, words", [
    ('[campain]\nx = 1\n', ["[campain]", "unknown section"]),
    ('[campaign]\nrelese = "per-tier"\n', ["relese", "not an option"]),
    ('[campaign]\nrelease = "sometimes"\n', ["release", "per-tier, per-edge"]),
    ('[campaign]\nmax_in_flight = "ten"\n', ["max_in_flight", "an integer"]),
    ('[campaign]\nmax_in_flight = 0\n', ["max_in_flight", "positive"]),
    ('[koji]\npoll_seconds = 0.0\n', ["poll_seconds", "positive"]),
    ('[koji]\nretries = -1\n', ["retries", "negative"]),
    ('[campaign]\npriority_high = 40\n', ["priority_high", "lower numbers first"]),
    ('[watch]\npackages = "bash"\n', ["packages", "a list"]),
    ('[store\nurl = 1', ["not valid TOML"]),
])
def test_bad_files_name_the_file_the_key_and_the_reason(tmp_path, text, words):
    path = tmp_path / "orchestrator.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message
