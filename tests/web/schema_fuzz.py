"""Fuzzing the API from its own OpenAPI document with schemathesis: shared by the
bounded test (``test_fuzz_api.py``, in-process) and ``bench/fuzz_api.py`` (many more
cases, over HTTP against a real ``discomy api``).

Every operation is driven in schemathesis's positive mode (requests the document
allows) and negative mode (requests it forbids), with three kinds of caller (a
valid token, none, a wrong one), and half the time with values that exist
(campaign numbers, node names, bodies naming real packages) so the cases reach
past "not found". Each response is checked: no 5xx, a status and content type
the document lists, a body matching its schema, and forbidden input refused.
Failures are collected, not raised, so a run counts every case.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]


@dataclass
class Seeds:
    """Values that exist in the store the API runs on."""
    campaign_ids: list
    node_names: list
    bodies: dict = field(default_factory=dict)      # operation label -> request bodies


def seed(post: Callable[[str, dict], int]) -> Seeds:
    """Campaigns to find, started with ``post(url, body) -> status``: a local one and a
    koji one over the example packages; and bodies that name real packages."""
    for body in ({"names": ["corelib"]},
                 {"names": ["corelib"], "backend": "koji", "target": "el9-candidate"}):
        status = post("/api/v1/campaigns", body)
        assert status == 201, status
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


@dataclass
class Outcome:
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)     # (operation, status) -> count
    failures: list = field(default_factory=list)

    def failed(self, label: str, status: int, text: str) -> None:
        if len(self.failures) < 50:
            self.failures.append(f"{label} -> {status}: {text[:2000]}")


def fuzz(schema, max_examples: int, token: str, seeds: Seeds,
         call: Callable = lambda case, headers: case.call(headers=headers)) -> Outcome:
    """Run ``max_examples`` cases per operation, mode and seeding over ``schema``."""
    outcome = Outcome()
    callers = [{"Authorization": f"Bearer {token}"}, {}, {"Authorization": "Bearer dsy_wrong"}]
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for strategy in _strategies(operation, mode, seeds):
                _run(operation.label, strategy, callers, max_examples, call, outcome)
    return outcome


def _strategies(operation, mode, seeds: Seeds) -> list:
    out = [operation.as_strategy(generation_mode=mode)]
    names = {p.name for p in operation.path_parameters}
    if names:
        out.append(st.tuples(st.sampled_from(seeds.campaign_ids),
                             st.sampled_from(seeds.node_names)).flatmap(
            lambda pair: operation.as_strategy(generation_mode=mode, path_parameters={
                k: v for k, v in (("campaign_id", pair[0]), ("name", pair[1])) if k in names})))
    bodies = seeds.bodies.get(operation.label)
    if bodies and mode == GenerationMode.POSITIVE:
        out.append(st.sampled_from(bodies).flatmap(
            lambda body: operation.as_strategy(generation_mode=mode, body=body)))
    return out


def _run(label, strategy, callers, max_examples, call, outcome: Outcome) -> None:
    @given(case=strategy, headers=st.sampled_from(callers))
    @settings(max_examples=max_examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def check(case, headers):
        outcome.cases += 1
        response = call(case, headers)
        outcome.statuses[(label, response.status_code)] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except BaseException as exc:        # schemathesis's failure groups, with a curl line
            if isinstance(exc, KeyboardInterrupt):
                raise
            outcome.failed(label, response.status_code, str(exc))

    try:
        with contextlib.redirect_stdout(io.StringIO()):    # Hypothesis's "reproduce with"
            check()
    except Unsatisfiable:          # nothing to negate (an operation with no input)
        pass
