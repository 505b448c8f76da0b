"""The orchestrator's TOML configuration: defaults, the shipped example, clear errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from discomy.orchestration.config import DEFAULTS, ConfigError, load_config, merge_config

EXAMPLE = Path(__file__).resolve().parents[2] / "orchestrator" / "discomy" / "orchestration" / "orchestrator.example.toml"


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
    ('[koji]\nload_threshold = 9223372036854775808\n', ["load_threshold", "finite number"]),
    ('[koji]\nretries = 100000000000000000000\n', ["retries", "at most 2147483647"]),
    ('[koji]\nretries = -1\n', ["retries", "negative"]),
    ('[campaign]\npriority_high = 40\n', ["priority_high", "lower numbers first"]),
    ('[watch]\npackages = "bash"\n', ["packages", "a list"]),
    ('[store\nurl = 1', ["not valid TOML"]),
    ('[messaging]\namqp_url = "not a url"\n', ["amqp_url", "amqp:// or amqps://"]),
    ('[messaging]\namqp_url = "amqp://broker:5672x/"\n', ["amqp_url", "not a URL"]),
    ('[messaging]\namqp_url = "amqp://broker/?heartbeat=often"\n', ["amqp_url", "heartbeat"]),
    ('[messaging]\namqp10_url = "https://broker"\n', ["amqp10_url", "amqp://"]),
    ('[messaging]\ntls_ca_cert = "/nonexistent/ca.pem"\n', ["tls_ca_cert", "not a file"]),
    ('[messaging]\nprefetch = 100000\nbatch = 1\n', ["prefetch", "65535"]),
    ('[messaging]\nqueue = ""\n', ["queue", "1 to 255 bytes"]),
    ('[metrics]\nport = 70000\n', ["[metrics] port", "0 to 65535"]),
    ('[notify]\nwebhook_url = "file:///etc/passwd"\n', ["webhook_url", "http://"]),
    ('[notify]\nsmtp_port = 0\n', ["smtp_port", "1 to 65535"]),
    ('[notify]\nsubject_template = "$nosuch"\n', ["subject_template", "placeholder"]),
    ('[store]\nurl = "mysql://discomy@db.example.org/discomy"\n',
     ["[store] url", "mysql driver is not installed"]),
    ('[store]\nurl = "postgres ql://x"\n', ["[store] url", "not a SQLAlchemy database URL"]),
    ('[koji]\npoll_seconds = nan\n', ["poll_seconds", "finite"]),
    ('[koji]\nserver = "koji.example.org/kojihub"\n', ["[koji] server", "https://"]),
    ('[gate]\nkind = "resultsdb"\nurl = "resultsdb.example.org"\ntestcases = ["t"]\n'
     '[campaign]\nbackend = "koji"\ntarget = "t"\nmode = "sidetag"\n', ["[gate] url", "http"]),
    ('[plan]\nrepos = ["ftp://mirror.example.org/el9"]\n', ["repos", "http(s) URL"]),
    ('[api]\nlisten = "localhost"\n', ["[api] listen", "HOST:PORT"]),
    ('[api]\nlisten = "::1:8080"\n', ["[api] listen", "brackets"]),
    ('[api]\nlisten = "127.0.0.1:0"\n', ["[api] listen", "1 to 65535"]),
    ('[api]\nproxy_user_header = "Authorization"\ntrusted_proxies = ["127.0.0.1"]\n',
     ["[api] proxy_user_header", "not a header name"]),
    ('[api]\nproxy_user_header = "X-Remote-User"\n', ["proxy_user_header needs trusted_proxies"]),
    ('[api]\ntrusted_proxies = ["10.0.0.5"]\n', ["trusted_proxies needs proxy_user_header"]),
    ('[api]\nproxy_user_header = "X-Remote-User"\ntrusted_proxies = ["10.0.0.0/33"]\n',
     ["[api] trusted_proxies", "not an address"]),
    ('[api]\nplanning_slots = 0\n', ["planning_slots", "positive"]),
    ('[api]\nreads_public = "no"\n', ["reads_public", "a boolean"]),
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


@pytest.mark.parametrize("text, words", [
    ('[metrics]\nport = 70000\n', ["[metrics] port"]),
    ('[notify]\nwebhook_url = "file:///etc/passwd"\n', ["webhook_url"]),
    ('[messaging]\namqp_url = "not a url"\n', ["amqp_url"]),
])
def test_every_command_refuses_a_config_the_daemon_could_not_run(tmp_path, capsys, text, words):
    from discomy.cli import main

    path = tmp_path / "orchestrator.toml"
    path.write_text(text + f'[store]\nurl = "sqlite:///{tmp_path / "s.sqlite"}"\n')
    assert main(["campaigns", "--config", str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"discomy campaigns: error: {path}: ")
    assert all(word in line for word in words)


def test_serve_refuses_a_config_it_could_not_run_at_once_in_one_line(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "orchestrator.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.sqlite"}"\n'
                    '[messaging]\namqp_url = "not a url"\n')
    proc = subprocess.run([sys.executable, "-m", "discomy", "serve", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"discomy serve: error: {path}: [messaging] amqp_url must be an amqp:// or amqps:// "
        f"URL, not 'not a url'"]


def test_serve_with_a_config_file_that_is_not_there_says_so(tmp_path, capsys):
    from discomy.cli import main

    assert main(["serve", "--config", str(tmp_path / "absent.toml")]) == 2
    assert "absent.toml: no such file" in capsys.readouterr().err


# -- any document at all ---------------------------------------------------------------------

def _toml_values():
    import datetime

    from hypothesis import strategies as st

    scalars = (st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats()
               | st.text(st.characters(blacklist_categories=()), max_size=20)
               | st.sampled_from(["amqp://", "amqps://h:99999/", "http://", "file:///x",
                                  "sqlite://", "mysql://u@h/d", "postgresql+psycopg://u@h/d",
                                  "not a url", "", "local", "koji", "per-edge", "$kind ${"])
               | st.dates() | st.datetimes() | st.just(datetime.time(1, 2)))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


def _documents():
    from hypothesis import strategies as st

    keys = {section: st.sampled_from(sorted(values) + ["nosuch"])
            for section, values in DEFAULTS.items()}
    known = st.sampled_from(sorted(DEFAULTS)).flatmap(
        lambda section: st.tuples(st.just(section),
                                  st.dictionaries(keys[section], _toml_values(), max_size=4)))
    sections = st.lists(known, max_size=5).map(dict)
    return sections | st.dictionaries(st.text(max_size=8), _toml_values(), max_size=3)


@settings(max_examples=500, deadline=None)
@given(_documents())
def test_any_document_is_a_config_or_one_config_error(data):
    try:
        config = merge_config(data, "/etc/discomy/orchestrator.toml")
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("/etc/discomy/orchestrator.toml: ") and "\n" not in message
        return
    assert set(config) == set(DEFAULTS)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_file_is_a_config_or_one_config_error(raw):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "orchestrator.toml"
        path.write_bytes(raw)
        try:
            load_config(path)
        except ConfigError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)


def test_a_config_path_holding_a_nul_is_one_config_error():
    # argv never holds a NUL, but a path from Python (an API, a test) may
    with pytest.raises(ConfigError, match="cannot hold a NUL"):
        load_config(Path("a\0b.toml"), missing_ok=True)
