"""The benchmark code must not rot: run its pure parts on tiny inputs (no timing is asserted here)."""

from __future__ import annotations

from collections import Counter

import pytest

from app.config import REPO_ROOT
from app.criteria.loader import load_criteria
from app.criteria.model import Criteria
from bench.engine import bench_engine, bench_scale, profile_engine
from bench.http_load import parse_wrk
from bench.patients import hook_request, patient_resources

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:18765/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.93ms    8.58ms  81.25ms   96.98%
    Req/Sec     3.42k     0.98k    4.91k    63.64%
  Latency Distribution
     50%  477.00us
     75%  671.00us
     90%    0.89ms
     99%   57.77ms
  3742 requests in 1.10s, 1.36MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec:   3402.99
Transfer/sec:      1.24MB
"""


@pytest.fixture(scope="module")
def criteria() -> Criteria:
    return load_criteria(str(REPO_ROOT / "criteria"))


def test_typical_patient_has_the_issue_mix() -> None:
    counts = Counter(r["resourceType"] for r in patient_resources(50))
    assert sum(counts.values()) == 50
    assert counts["Patient"] == 1
    assert 24 <= counts["Condition"] <= 30
    assert 12 <= counts["MedicationStatement"] + counts["MedicationRequest"] <= 16
    assert counts["Procedure"] >= 3 and counts["Device"] >= 1


def test_hook_request_carries_prefetch_or_not() -> None:
    with_prefetch = hook_request("order-select", 20)
    assert with_prefetch["context"]["selections"] == ["ServiceRequest/sr-bench-mri"]
    assert len(with_prefetch["prefetch"]["conditions"]["entry"]) >= 5
    without = hook_request("order-sign", None, fhir_server="http://127.0.0.1:1/fhir")
    assert "prefetch" not in without and without["fhirServer"] == "http://127.0.0.1:1/fhir"


def test_engine_benchmark_returns_its_figures(criteria: Criteria) -> None:
    result = bench_engine(criteria, n_resources=10, seconds=0.05, max_calls=5)
    assert {"engine", "baseline_json_loads", "ratio_engine_over_json_loads", "evaluations_per_second"} <= set(
        result
    )
    assert result["status"] in {"rated", "insufficient-data"}
    assert 3 <= result["engine"]["calls"] <= 5
    assert result["ratio_engine_over_json_loads"] > 0


def test_profile_lists_top_functions(criteria: Criteria) -> None:
    result = profile_engine(criteria, n_resources=10, calls=3, top=10)
    assert len(result["top_cumulative"]) == 10
    assert any("assess_bundle" in row["function"] for row in result["top_cumulative"])


def test_scale_benchmark_reports_growth(criteria: Criteria) -> None:
    result = bench_scale(criteria, sizes=(10, 40), seconds_per_size=0.05, max_calls=3)
    assert [row["resources"] for row in result["sizes"]] == [10, 40]
    assert len(result["growth"]) == 1 and isinstance(result["linear_or_better"], bool)


def test_wrk_output_is_parsed() -> None:
    parsed = parse_wrk(WRK_OUTPUT)
    assert parsed["requests_per_second"] == 3402.99
    assert parsed["requests"] == 3742
    assert parsed["non_2xx"] == 12 and parsed["socket_errors"] == 3
    assert parsed["p50_ms"] == 0.477 and parsed["p99_ms"] == 57.77
