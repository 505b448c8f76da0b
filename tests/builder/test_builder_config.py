"""The kojid plugin's settings: each key checked on its own."""

from __future__ import annotations

import pytest

from discomy.builder.buildopts import SmpBounds
from discomy.builder.config import BuilderConfig, parse_builder_config


def test_an_empty_section_gives_the_documented_defaults():
    assert parse_builder_config({}) == (BuilderConfig(), [])


def test_good_values_apply():
    config, errors = parse_builder_config({
        "paths": "/srv/mock /srv/koji", "probe_ttl": "5", "refuse": "off", "smp_min": "2",
        "smp_max": "32", "reserve_cpus": "1", "bench_cache": "", "cross_config": "/etc/x.yaml"})
    assert errors == []
    assert config.paths == ("/srv/mock", "/srv/koji") and config.probe_ttl == 5.0
    assert config.refuse is False and config.bounds == SmpBounds(2, 32, 1)
    assert config.bench_cache is None and config.cross_config == "/etc/x.yaml"


@pytest.mark.parametrize("key, value, message", [
    ("probe_ttl", "-1", "probe_ttl = '-1': must be a number of seconds, 0 or more"),
    ("smp_min", "0", "smp_min = '0': must be a whole number, 1 or more"),
    ("smp_max", "many", "smp_max = 'many': not a valid value"),
    ("drain_flag", "drain", "drain_flag = 'drain': must be an absolute path"),
    ("paths", "", "paths = '': must name at least one directory"),
])
def test_a_bad_value_keeps_its_default_and_names_the_key(key, value, message):
    config, errors = parse_builder_config({key: value, "reserve_cpus": "2"})
    assert errors == [message + f"; using the default {parse_default(key)}"]
    assert getattr(config, key, None) == getattr(BuilderConfig(), key, None)
    assert config.bounds.reserve_cpus == 2


def parse_default(key):
    from discomy.builder.config import DEFAULTS
    return DEFAULTS[key] or "(none)"


def test_smp_max_below_smp_min_is_dropped_with_both_named():
    config, errors = parse_builder_config({"smp_min": "8", "smp_max": "4"})
    assert config.bounds == SmpBounds(8, None, 0)
    assert errors == ["smp_max = 4 is below smp_min = 8; smp_max ignored"]


def test_the_shipped_example_config_reads_without_a_complaint():
    import configparser
    from pathlib import Path

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(Path(__file__).resolve().parents[2] / "koji-plugins" / "builder" / "discomy.conf")
    config, errors = parse_builder_config(dict(parser["discomy"]))
    assert errors == [] and config.cross_config == "/etc/kojid/plugins/discomy-cross.yaml"
