"""No input from the API's own OpenAPI document gives a server error, on SQLite and on a
real PostgreSQL (schemathesis, a bounded number of cases; bench/fuzz_api.py runs many
more against a real server)."""

from __future__ import annotations

import logging

import schemathesis

from api_world import make_api, make_config
from schema_fuzz import fuzz, seed

log = logging.getLogger(__name__)

EXAMPLES = 25           # per operation, mode and seeding


def test_no_input_from_the_schema_gives_a_server_error(any_store_url, tmp_path, example_repos,
                                                      koji_hub):
    api = make_api(any_store_url, make_config(tmp_path, example_repos, koji_hub.url))
    seeds = seed(lambda url, body: api.client.post(url, json=body, headers=api.auth).status_code)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    outcome = fuzz(schema, EXAMPLES, api.token, seeds)
    log.info("schemathesis: %d cases, %s", outcome.cases, sorted(outcome.statuses.items()))
    assert outcome.failures == []
    reached = {status for (label, status) in outcome.statuses if label.startswith("POST")}
    assert {200, 201, 400, 401, 409, 422} <= reached, outcome.statuses
    assert outcome.cases >= 500
