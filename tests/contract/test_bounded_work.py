"""One request can no longer take a worker down (#12 finding 2): each reproduction, with generous time bounds."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from app.web.limits import TIME_BUDGET_REACHED
from tests.contract.cds_app import make_app
from tests.stubserver import StubServer

HOOKS = Path(__file__).resolve().parents[2] / "fhir_fixtures" / "hooks"
SELECT = "/cds-services/spine-auc-order-select"
SIGN = "/cds-services/spine-auc-order-sign"


def _request(name: str = "prefetch-full-rated-appropriate") -> dict[str, Any]:
    return copy.deepcopy(json.loads((HOOKS / f"{name}.json").read_text())["request"])


def _sign(request: dict[str, Any]) -> dict[str, Any]:
    request["hook"] = "order-sign"
    request["context"].pop("selections", None)
    return request


def _stored_results(app: Any) -> list[dict[str, Any]]:
    rows, _ = app.extensions["spine_auc.store"].list_consultations(limit=200)
    return [row["result"] for row in rows]


def test_a_one_megabyte_code_is_answered_quickly_with_a_data_issue(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    request = _request()
    condition = request["prefetch"]["conditions"]["entry"][0]["resource"]
    condition["code"]["coding"][0]["code"] = "G" + "8" * 1_000_000
    started = time.perf_counter()
    response = app.test_client().post(SELECT, json=request)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert elapsed < 10, f"{elapsed:.1f} s"
    (result,) = _stored_results(app)
    assert any("MAX_CODE_LENGTH" in issue for issue in result["dataIssues"])


def test_a_one_megabyte_order_code_on_the_rest_api_is_a_data_issue(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    request = _request()
    order = request["context"]["draftOrders"]["entry"][0]["resource"]
    order["code"]["coding"][0]["code"] = "7" * 1_000_000
    order["status"] = "active"
    resources = [request["prefetch"]["patient"]] + [
        e["resource"] for e in request["prefetch"]["conditions"]["entry"]
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in [order, *resources]],
    }
    started = time.perf_counter()
    response = app.test_client().post("/api/v1/appropriateness", json=bundle)
    assert time.perf_counter() - started < 10
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    (result,) = response.get_json()["results"]
    assert any("MAX_CODE_LENGTH" in issue for issue in result["dataIssues"])


def test_a_thousand_draft_orders_are_a_422_not_a_worker_timeout(tmp_path: Path) -> None:
    # Before: 1,000 draft orders with unknown facts cost 20 s of CPU in one request.
    app = make_app(tmp_path)
    request = _sign(_request("prefetch-full-insufficient-data"))
    (entry,) = request["context"]["draftOrders"]["entry"]
    entries = []
    for i in range(1000):
        copied = copy.deepcopy(entry)
        copied["resource"]["id"] = f"sr-{i}"
        entries.append(copied)
    request["context"]["draftOrders"]["entry"] = entries
    started = time.perf_counter()
    response = app.test_client().post(SIGN, json=request)
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"{elapsed:.1f} s"
    assert response.status_code == 422
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "too-costly"
    assert "MAX_ORDERS_PER_CALL" in body["issue"][0]["diagnostics"]
    assert _stored_results(app) == []


def test_orders_the_time_budget_does_not_reach_are_not_rated(tmp_path: Path) -> None:
    app = make_app(tmp_path, EVALUATION_BUDGET_SECONDS=0.0)
    request = _sign(_request("prefetch-full-insufficient-data"))
    (entry,) = request["context"]["draftOrders"]["entry"]
    request["context"]["draftOrders"]["entry"] = [
        {**copy.deepcopy(entry), "resource": {**entry["resource"], "id": f"sr-{i}"}} for i in range(3)
    ]
    response = app.test_client().post(SIGN, json=request)
    assert response.status_code == 200
    results = _stored_results(app)
    assert len(results) == 3
    for result in results:
        assert result["status"] == "insufficient-data" and result["category"] is None
        assert f"not rated: {TIME_BUDGET_REACHED}" in result["dataIssues"]
    cards = response.get_json()["cards"]
    assert len(cards) == 3
    assert all(card["indicator"] == "warning" and "time budget reached" in card["detail"] for card in cards)


def test_a_prefetch_key_over_the_limit_is_a_422(tmp_path: Path) -> None:
    app = make_app(tmp_path, MAX_PREFETCH_RESOURCES=10)
    request = _request()
    entry = request["prefetch"]["conditions"]["entry"][1]
    request["prefetch"]["conditions"]["entry"] = [copy.deepcopy(entry) for _ in range(11)]
    response = app.test_client().post(SELECT, json=request)
    assert response.status_code == 422
    issue = response.get_json()["issue"][0]
    assert issue["code"] == "too-costly" and "MAX_PREFETCH_RESOURCES" in issue["diagnostics"]
    assert issue["expression"] == ["prefetch.conditions"]


def test_ten_thousand_medication_references_make_no_medication_reads(
    tmp_path: Path, stub_server: StubServer
) -> None:
    # Before: a FHIR server returning 10,000 Medication references made 1,057 outbound reads for one call.
    statements = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "resource": {
                    "resourceType": "MedicationStatement",
                    "id": f"ms-{i}",
                    "status": "active",
                    "subject": {"reference": "Patient/pt-hook"},
                    "medicationReference": {"reference": f"Medication/med-{i}"},
                }
            }
            for i in range(10_000)
        ],
    }
    stub_server.json("/fhir/MedicationStatement", statements)
    stub_server.json("/fhir/Medication/", {"resourceType": "Medication", "id": "x"})
    app = make_app(tmp_path, FHIR_DEADLINE_SECONDS=20.0, FHIR_TIMEOUT_SECONDS=10.0)
    request = _request()
    del request["prefetch"]["medicationStatements"]
    request["fhirServer"] = stub_server.url + "/fhir"
    started = time.perf_counter()
    response = app.test_client().post(SELECT, json=request)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert elapsed < 20, f"{elapsed:.1f} s"
    medication_reads = [r for r in stub_server.records if r.path.startswith("/fhir/Medication/")]
    assert medication_reads == []
    (result,) = _stored_results(app)
    assert any("MAX_MEDICATION_READS" in issue for issue in result["dataIssues"])


def test_medication_references_within_the_limit_are_read(tmp_path: Path, stub_server: StubServer) -> None:
    statements = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "resource": {
                    "resourceType": "MedicationStatement",
                    "id": f"ms-{i}",
                    "status": "active",
                    "subject": {"reference": "Patient/pt-hook"},
                    "medicationReference": {"reference": f"Medication/med-{i}"},
                }
            }
            for i in range(3)
        ],
    }
    stub_server.json("/fhir/MedicationStatement", statements)
    stub_server.route(
        "/fhir/Medication/",
        lambda req: req.send_json(
            200, {"resourceType": "Medication", "id": req.route_path.rsplit("/", 1)[1]}
        ),
    )
    app = make_app(tmp_path, MAX_MEDICATION_READS=3)
    request = _request()
    del request["prefetch"]["medicationStatements"]
    request["fhirServer"] = stub_server.url + "/fhir"
    response = app.test_client().post(SELECT, json=request)
    assert response.status_code == 200
    assert len([r for r in stub_server.records if r.path.startswith("/fhir/Medication/")]) == 3
