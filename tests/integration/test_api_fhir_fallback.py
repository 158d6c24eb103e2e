"""End to end: fixture patients loaded into a real FHIR server (sekmet-fhir), bare orders POSTed.

The service fetches the patient's record from ``FHIR_BASE_URL`` by the order's subject; its results must
equal those for the same patient sent inline as a Bundle (ignoring the fresh consultation ids). The
instance-level ``$appropriateness`` reads the order itself from the server. The last test measures a
FHIR-fallback evaluation against the slowest single query it makes (run with ``-s`` to see the figures).
"""

from __future__ import annotations

import copy
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app import create_app
from app.fhir.client import client_for
from app.fhir.models import validate_guidance_response

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = ROOT / "fhir_fixtures" / "patients"
ORDERS = ROOT / "fhir_fixtures" / "orders"
FHIR_JSON = "application/fhir+json"
REST = "/api/v1/appropriateness"
OPERATION = "/fhir/ServiceRequest/$appropriateness"
# GuidanceResponse fields that differ between two evaluations of the same input by design.
PER_CALL_FIELDS = ("id", "identifier", "requestIdentifier", "occurrenceDateTime")


def patient_names() -> list[str]:
    return sorted(p.stem for p in PATIENTS.glob("*.json"))


def patient_resources(name: str) -> list[dict[str, Any]]:
    bundle = json.loads((PATIENTS / f"{name}.json").read_text())
    return [entry["resource"] for entry in bundle["entry"]]


def patient_id(name: str) -> str:
    ids = [r["id"] for r in patient_resources(name) if r["resourceType"] == "Patient"]
    return ids[0] if ids else f"pt-{name}"


def order_for(name: str, order: str = "mri-lumbar-wo-72148", order_id: str | None = None) -> dict[str, Any]:
    sr = json.loads((ORDERS / f"{order}.json").read_text())
    sr["subject"] = {"reference": f"Patient/{patient_id(name)}"}
    if order_id:
        sr["id"] = order_id
    return dict(sr)


def inline(name: str, orders: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in [*orders, *patient_resources(name)]],
    }


def without_ids(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results without per-call fields, and without notes on resource types we do not read: the server is only
    asked for the types we read, so such a note (a DiagnosticReport in a fixture) can only come inline."""
    out = copy.deepcopy(results)
    for result in out:
        result.pop("consultationId")
        result.pop("latencyMs", None)
        result["dataIssues"] = [i for i in result["dataIssues"] if "is not a type we read" not in i]
    return out


def comparable_guidance(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for entry in bundle["entry"]:
        resource = copy.deepcopy(entry["resource"])
        for key in PER_CALL_FIELDS:
            resource.pop(key, None)
        out.append(resource)
    return out


def post(client: Any, url: str, body: Any, content_type: str = "application/json") -> Any:
    return client.post(url, data=json.dumps(body), headers={"Content-Type": content_type})


@pytest.fixture(scope="module")
def fhir_base(loaded_fhir_base_url: str) -> str:
    return loaded_fhir_base_url


@pytest.fixture()
def client(tmp_path: Path, fhir_base: str) -> Any:
    return create_app({"DATA_DIR": str(tmp_path), "FHIR_BASE_URL": fhir_base}).test_client()


def _loaded_patients(fhir_base: str) -> list[str]:
    """Fixture patients whose Patient resource is on the server (a loader may refuse a malformed file)."""
    client = client_for(fhir_base)
    names = []
    for name in patient_names():
        try:
            client.read("Patient", patient_id(name))
        except Exception:  # noqa: BLE001 - reported by the assertion below
            continue
        names.append(name)
    return names


def _rejected_patients(report: Any) -> set[str]:
    """Fixture files the server refused resources of (the deliberately malformed ones)."""
    rejected = report["rejected"] if isinstance(report, dict) else report.rejected
    return {str(item).split(".json:", 1)[0] for item in rejected}


def test_bare_order_results_equal_the_inline_bundle_results_for_every_fixture_patient(
    client: Any, fhir_base: str, loaded_fixtures_report: Any
) -> None:
    names = _loaded_patients(fhir_base)
    assert len(names) >= len(patient_names()) - 2, "most fixture patients must be on the server"
    refused = _rejected_patients(loaded_fixtures_report)
    differences = []
    compared = 0
    for name in names:
        for order_name in ("mri-lumbar-wo-72148", "xr-lumbar-72100"):
            order = order_for(name, order_name)
            fetched = post(client, REST, order)
            assert fetched.status_code == 200, (name, fetched.get_data(as_text=True)[:400])
            assert "fhirFetch;dur=" in fetched.headers["Server-Timing"]
            sent = post(client, REST, inline(name, [order]))
            assert sent.status_code == 200
            assert "fhirFetch" not in sent.headers["Server-Timing"]
            got, want = without_ids(fetched.get_json()["results"]), without_ids(sent.get_json()["results"])
            if name in refused:
                # The server refused the malformed resource, so only the inline request sees (and
                # reports) it; everything else must agree.
                assert want[0]["dataIssues"] and not got[0]["dataIssues"], name
                for result in (*got, *want):
                    result.pop("dataIssues")
            compared += 1
            if got != want:
                differences.append((name, order_name))
    assert compared >= 2 * (len(patient_names()) - 2)
    assert differences == []


def test_fhir_operation_with_a_bare_order_equals_the_inline_bundle(client: Any) -> None:
    order = order_for("lbp-acute")
    fetched = post(client, OPERATION, order, FHIR_JSON)
    sent = post(client, OPERATION, inline("lbp-acute", [order]), FHIR_JSON)
    assert fetched.status_code == 200 and sent.status_code == 200
    assert comparable_guidance(fetched.get_json()) == comparable_guidance(sent.get_json())


def _openapi_validator(client: Any, ref: str) -> Draft202012Validator:
    doc = client.get("/openapi.json").get_json()
    uri = "urn:spine-auc:openapi"
    registry: Registry[Any] = Registry().with_resource(
        uri, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": uri + ref}, registry=registry)


def test_instance_operation_reads_the_order_from_the_server(client: Any, fhir_base: str) -> None:
    order = order_for("lbp-acute", order_id="sr-api-e2e-lbp-acute")
    client_for(fhir_base).transaction(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"resource": order, "request": {"method": "PUT", "url": f"ServiceRequest/{order['id']}"}}
            ],
        }
    )
    response = client.post(f"/fhir/ServiceRequest/{order['id']}/$appropriateness")
    assert response.status_code == 200, response.get_data(as_text=True)
    bundle = response.get_json()
    assert len(bundle["entry"]) == 1
    gr = bundle["entry"][0]["resource"]
    validate_guidance_response(gr)
    assert gr["subject"] == {"reference": "Patient/pt-lbp-acute"}
    validator = _openapi_validator(client, "#/components/schemas/GuidanceResponseBundle")
    assert list(validator.iter_errors(bundle)) == []
    sent = post(client, OPERATION, inline("lbp-acute", [order]), FHIR_JSON).get_json()
    # The server adds meta to the stored order; nothing of it reaches the answer.
    assert comparable_guidance(bundle) == comparable_guidance(sent)


def test_instance_operation_on_an_absent_order_is_404(client: Any) -> None:
    response = client.post("/fhir/ServiceRequest/sr-does-not-exist-42/$appropriateness")
    assert response.status_code == 404
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_bare_order_for_a_patient_the_server_does_not_have_is_422(client: Any) -> None:
    order = order_for("lbp-acute")
    order["subject"] = {"reference": "Patient/pt-nobody-here"}
    response = post(client, REST, order)
    assert response.status_code == 422
    assert "Patient/pt-nobody-here was not found" in response.get_json()["issue"][0]["diagnostics"]


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def test_fallback_time_compared_with_the_slowest_single_query(client: Any, fhir_base: str) -> None:
    """Figures for the issue note: a fallback evaluation vs the slowest of the queries it makes."""
    name = "lbp-acute"
    pid = patient_id(name)
    order = order_for(name)
    fhir = client_for(fhir_base)

    def search(rtype: str) -> Callable[[], Any]:
        return lambda: fhir.search(rtype, {"patient": pid, "_count": "100"})

    queries: dict[str, Callable[[], Any]] = {"Patient (read)": lambda: fhir.read("Patient", pid)}
    for rtype in ("Condition", "MedicationStatement", "MedicationRequest", "Procedure", "Device"):
        queries[f"{rtype}?patient"] = search(rtype)
    for _ in range(3):  # warm up both paths (connections, server caches)
        post(client, REST, order)
        for fn in queries.values():
            fn()
    runs = 15
    single: dict[str, list[float]] = {key: [] for key in queries}
    fetch_ms: list[float] = []
    total_ms: list[float] = []
    for _ in range(runs):
        for key, fn in queries.items():
            single[key].append(_timed(fn))
        started = time.perf_counter()
        response = post(client, REST, order)
        total_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        timing = dict(part.strip().split(";dur=") for part in response.headers["Server-Timing"].split(","))
        fetch_ms.append(float(timing["fhirFetch"]))
    medians = {key: statistics.median(values) for key, values in single.items()}
    slowest_key = max(medians, key=lambda k: medians[k])
    slowest = medians[slowest_key]
    sequential = sum(medians.values())
    fetch = statistics.median(fetch_ms)
    total = statistics.median(total_ms)
    print(
        f"\nFHIR fallback ({runs} runs, medians): request {total:.1f} ms, record fetch {fetch:.1f} ms; "
        f"slowest single query {slowest_key} {slowest:.1f} ms; all six queries one after another "
        f"{sequential:.1f} ms; fetch/slowest = {fetch / slowest:.2f}, "
        f"fetch/sequential = {fetch / sequential:.2f}"
    )
    for key, value in medians.items():
        print(f"  {key:<24} {value:7.1f} ms")
    # sekmet-fhir serves requests one at a time (6 reads in 6 threads take as long as 6 in a row), so
    # the parallel fetch cannot beat the sum of its queries here; it must not cost much more than that,
    # and the whole request must be dominated by the fetch, not by our own work.
    assert slowest <= fetch < 1.5 * sequential
    assert total < fetch + 200
