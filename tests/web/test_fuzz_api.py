"""No input from the API's own OpenAPI document gives a server error, on SQLite and on a
real PostgreSQL (schemathesis, a bounded number of cases; bench/fuzz_api.py runs many
more against a real server)."""

from __future__ import annotations

import logging

import schemathesis

from api_world import make_api, make_config
from schema_fuzz import Seeds, fuzz

log = logging.getLogger(__name__)

EXAMPLES = 25           # per operation, mode and seeding


def seeded(api) -> Seeds:
    """Campaigns to find: a local one and a koji one, started through the API."""
    for body in ({"names": ["corelib"]},
                 {"names": ["corelib"], "backend": "koji", "target": "el9-candidate"}):
        assert api.client.post("/api/v1/campaigns", json=body,
                               headers=api.auth).status_code == 201
    starts = [{"names": ["corelib"], "release": "per-edge"}, {"names": ["parsekit"]},
              {"names": ["alpha-0.9-1.el9"], "backend": "koji", "target": "el9-candidate",
               "mode": "sidetag"}, {"names": ["standalone"], "depth": "buildroot"}]
    previews = [{"names": ["corelib"]}, {"names": ["beta"], "backend": "koji",
                                         "target": "el9-candidate"},
                {"names": ["corelib"], "fleet": [{"name": "a", "count": 3,
                                                  "arches": ["x86_64"], "speed": 1.0,
                                                  "capacity": 8, "maxjobs": 4}]}]
    changes = [{"state": "running"}, {"state": "running", "fixed": "alpha"},
               {"state": "cancelled"}, {"state": "cancelled", "kill": True}]
    return Seeds([1, 2], ["alpha", "beta", "parsekit", "appsuite", "corelib"], {
        "POST /api/v1/campaigns": starts, "POST /api/v1/campaigns/preview": previews,
        "PATCH /api/v1/campaigns/{campaign_id}": changes})


def test_no_input_from_the_schema_gives_a_server_error(any_store_url, tmp_path, example_repos,
                                                      koji_hub):
    api = make_api(any_store_url, make_config(tmp_path, example_repos, koji_hub.url))
    seeds = seeded(api)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    outcome = fuzz(schema, EXAMPLES, api.token, seeds)
    log.info("schemathesis: %d cases, %s", outcome.cases, sorted(outcome.statuses.items()))
    assert outcome.failures == []
    reached = {status for (label, status) in outcome.statuses if label.startswith("POST")}
    assert {200, 201, 400, 401, 409, 422} <= reached, outcome.statuses
    assert outcome.cases >= 500
