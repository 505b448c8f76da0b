"""Fixtures of the API tests: a store on SQLite or a real PostgreSQL, the example
repositories to plan from, a stand-in koji hub for the fleet view, the application
over them (FastAPI's in-process client) and a token that may write.

The PostgreSQL server is the orchestrator tests' (``tests/orchestrator/conftest.py``),
loaded from there rather than written twice.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS / "standins") not in sys.path:
    sys.path.insert(0, str(TESTS / "standins"))

_spec = importlib.util.spec_from_file_location("orchestrator_fixtures",
                                               TESTS / "orchestrator" / "conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
postgres_url = _fixtures.postgres_url
fresh_postgres_url = _fixtures.fresh_postgres_url
sources = _fixtures.sources

# Starlette's test client asks for the httpx2 fork; httpx does the same job here
warnings.filterwarnings("ignore", message=".*httpx2.*")


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


def make_config(tmp_path: Path, example_repos, hub_url: str = "", **api) -> dict:
    """The orchestrator config of a test: plans from the example repositories, local
    builds under ``tmp_path``, koji at ``hub_url``; ``api`` overrides ``[api]``."""
    from discomy.orchestration.config import merge_config

    data = {"plan": {"repos": [str(example_repos.source_repo), str(example_repos.binary_repo)],
                     "cache_dir": str(tmp_path / "cache")},
            "campaign": {"workdir": str(tmp_path / "work")},
            "local": {"source_repos": [str(example_repos.source_repo)]},
            "api": api}
    if hub_url:
        data["koji"] = {"server": hub_url}
    return merge_config(data)


@dataclass
class Api:
    store: object
    config: dict
    app: object
    client: object
    token: str

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


def make_api(store_url: str, config: dict, **kwargs) -> Api:
    from fastapi.testclient import TestClient

    from discomy.orchestration.store import Store
    from discomy.web import tokens
    from discomy.web.app import create_app

    store = Store(store_url)
    token, digest = tokens.new_token()
    store.add_token("tester", digest)
    app = create_app(store, config, **kwargs)
    return Api(store, config, app, TestClient(app, raise_server_exceptions=False), token)


@pytest.fixture
def api(tmp_path, example_repos, koji_hub):
    """The API over an SQLite store, the example repositories and the stand-in hub."""
    return make_api(f"sqlite:///{tmp_path / 'state.sqlite'}",
                    make_config(tmp_path, example_repos, koji_hub.url))
