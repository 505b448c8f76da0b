"""The world an API test runs in: the orchestrator config of a test, and the API over
a store with a token that may write (FastAPI's in-process client)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
