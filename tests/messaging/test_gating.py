"""The CI gate: pure decisions, and ResultsDB through resultsdb_api against a local
stand-in of ResultsDB's /api/v2.0/results endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from hypothesis import given, strategies as st

from discomy.orchestration.gating import GateConfig, GateConfigError, ResultsDBGate, decide

NVR = "zlib-1.3-2.el9"


def result(testcase, outcome, stamp="2026-11-22T10:00:00", nvr=NVR):
    return {"testcase": {"name": testcase}, "outcome": outcome, "submit_time": stamp,
            "data": {"item": [nvr], "type": ["koji_build"]}}


def test_all_required_passing_passes_and_a_rerun_supersedes_a_failure():
    results = [result("rpmdeplint", "FAILED", "2026-11-22T09:00:00"),
               result("rpmdeplint", "PASSED", "2026-11-22T10:00:00"),
               result("rpminspect", "PASSED")]
    assert decide(results, NVR, ["rpmdeplint", "rpminspect"], 0, 60).state == "pass"


def test_a_failed_or_suspect_required_test_fails_the_gate_with_its_name():
    verdict = decide([result("rpminspect", "NEEDS_INSPECTION")], NVR, ["rpminspect"], 0, 60)
    assert verdict.state == "fail" and "rpminspect NEEDS_INSPECTION" in verdict.reason


def test_missing_results_wait_then_fail_at_the_timeout():
    assert decide([], NVR, ["rpminspect"], 59, 60).state == "pending"
    verdict = decide([], NVR, ["rpminspect"], 60, 60)
    assert verdict.state == "fail" and "no passing result for rpminspect" in verdict.reason


def test_results_for_another_nvr_do_not_count():
    assert decide([result("t", "PASSED", nvr="zlib-1.3-1.el9")], NVR, ["t"], 0, 60).state == "pending"


outcomes = st.sampled_from(["PASSED", "FAILED", "INFO", "NEEDS_INSPECTION", "ERROR", "RUNNING"])


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), outcomes), max_size=10),
       st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True))
def test_gate_passes_only_when_every_required_test_passed(pairs, required):
    results = [result(t, o, f"2026-11-22T10:00:{i:02d}") for i, (t, o) in enumerate(pairs)]
    verdict = decide(results, NVR, required, 0, 60)
    latest = {t: o for t, o in pairs}
    if verdict.state == "pass":
        assert all(latest.get(t) in ("PASSED", "INFO") for t in required)
    if any(latest.get(t) in ("FAILED", "NEEDS_INSPECTION", "ERROR") for t in required):
        assert verdict.state == "fail"


class ResultsDBStandIn(BaseHTTPRequestHandler):
    """Stand-in for ResultsDB's GET /api/v2.0/results (filters by item and testcases)."""

    results: list = []
    queries: list = []

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        type(self).queries.append((url.path, query))
        wanted = set(",".join(query.get("testcases", [""])).split(","))
        items = query.get("item", [])
        data = [r for r in self.results if r["testcase"]["name"] in wanted
                and any(i in r["data"]["item"] for i in items)]
        body = json.dumps({"data": data, "next": None, "prev": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def resultsdb():
    server = HTTPServer(("127.0.0.1", 0), ResultsDBStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api/v2.0", ResultsDBStandIn
    server.shutdown()
    server.server_close()


def test_resultsdb_gate_asks_for_the_nvr_and_required_testcases(resultsdb):
    url, standin = resultsdb
    standin.results = [result("rpminspect", "PASSED"), result("rpmdeplint", "FAILED")]
    gate = ResultsDBGate(GateConfig(kind="resultsdb", url=url, testcases=("rpminspect",)))
    assert gate.check(NVR).state == "pass"
    path, query = standin.queries[-1]
    assert path == "/api/v2.0/results" and query["item"] == [NVR]
    gate = ResultsDBGate(GateConfig(kind="resultsdb", url=url,
                                    testcases=("rpminspect", "rpmdeplint")))
    assert gate.check(NVR).state == "fail"


def test_unreachable_resultsdb_keeps_the_gate_pending_until_the_timeout():
    gate = ResultsDBGate(GateConfig(kind="resultsdb", url="http://127.0.0.1:9/api/v2.0",
                                    testcases=("t",), timeout_seconds=60))
    assert gate.check(NVR, waited_seconds=1).state == "pending"
    assert gate.check(NVR, waited_seconds=61).state == "fail"


def test_gate_config_is_checked():
    with pytest.raises(GateConfigError, match="needs url and testcases"):
        GateConfig.from_mapping({"kind": "resultsdb"})
    with pytest.raises(GateConfigError, match="kind must be"):
        GateConfig.from_mapping({"kind": "jenkins"})
