"""Fixtures of the API tests: a store on SQLite or a real PostgreSQL, the example
repositories to plan from, a stand-in koji hub for the fleet view, the application
over them (FastAPI's in-process client) and a token that may write.

The PostgreSQL server is the orchestrator tests' (``tests/orchestrator/conftest.py``),
loaded from there rather than written twice.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from api_world import make_api, make_config

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS / "standins") not in sys.path:
    sys.path.insert(0, str(TESTS / "standins"))

_spec = importlib.util.spec_from_file_location("orchestrator_fixtures",
                                               TESTS / "orchestrator" / "conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
postgres_url = _fixtures.postgres_url
postgres_server = _fixtures.postgres_server
fresh_postgres_url = _fixtures.fresh_postgres_url
sources = _fixtures.sources



def pytest_configure(config):
    # Starlette's test client asks for the httpx2 fork; httpx does the same job here
    config.addinivalue_line("filterwarnings", "ignore:.*install `httpx2`")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store_url(request, tmp_path):
    """An empty store's URL: an SQLite file, then a database on the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture(scope="session")
def koji_hub():
    """A stand-in koji hub (tests/standins) with two builders, one publishing host data."""
    from kojihub_xmlrpc import StandinKojiHub

    hub = StandinKojiHub()
    hub.host_data[1] = {"maxjobs": 4, "methods": ["build"], "discomy": {
        "version": 1, "cpus": 16, "memory_mb": 32768, "disk_free_mb": {"/var/lib/mock": 400000},
        "speed": 1.5, "virt": ["kvm", "chroot"], "arches_native": ["x86_64"],
        "features": ["ssd"], "draining": False, "load1": 2.5, "probed_at": 1700000000}}
    yield hub
    hub.stop()


@pytest.fixture
def api(tmp_path, example_repos, koji_hub):
    """The API over an SQLite store, the example repositories and the stand-in hub."""
    return make_api(f"sqlite:///{tmp_path / 'state.sqlite'}",
                    make_config(tmp_path, example_repos, koji_hub.url))
