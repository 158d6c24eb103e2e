"""``POST /api/v1/appropriateness`` and ``POST /fhir/ServiceRequest/$appropriateness`` with inline data.

Real app (``create_app``), real criteria, real fixture patients, real SQLite audit store under a temp dir.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.clinical.assessment import assess_orders, record_from_resources
from app.fhir.input import checked_orders, split_input
from app.fhir.models import validate_guidance_response

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = ROOT / "fhir_fixtures" / "patients"
ORDERS = ROOT / "fhir_fixtures" / "orders"
FHIR_JSON = "application/fhir+json"


def load_patient(name: str) -> list[dict[str, Any]]:
    bundle = json.loads((PATIENTS / f"{name}.json").read_text())
    return [entry["resource"] for entry in bundle["entry"]]


def load_order(name: str, patient: str, order_id: str | None = None) -> dict[str, Any]:
    order = json.loads((ORDERS / f"{name}.json").read_text())
    order["subject"] = {"reference": f"Patient/pt-{patient}"}
    if order_id:
        order["id"] = order_id
    return dict(order)


def inline_bundle(patient: str, orders: list[dict[str, Any]]) -> dict[str, Any]:
    resources = [*orders, *load_patient(patient)]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{i:08d}-0000-4000-8000-000000000000", "resource": r}
            for i, r in enumerate(resources)
        ],
    }


def strip_ids(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = copy.deepcopy(results)
    for result in out:
        result.pop("consultationId", None)
        result.pop("latencyMs", None)
    return out


@pytest.fixture()
def app(tmp_path: Path) -> Any:
    return create_app({"DATA_DIR": str(tmp_path), "FHIR_BASE_URL": None})


@pytest.fixture()
def client(app: Any) -> Any:
    return app.test_client()


def post_json(
    client: Any, url: str, body: Any, content_type: str = "application/json", **headers: str
) -> Any:
    return client.post(url, data=json.dumps(body), headers={"Content-Type": content_type, **headers})


def test_inline_bundle_is_rated_with_the_engines_answer(app: Any, client: Any) -> None:
    body = inline_bundle("lbp-acute", [load_order("mri-lumbar-wo-72148", "lbp-acute")])
    response = post_json(client, "/api/v1/appropriateness", body)
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.get_json()["results"]
    assert len(results) == 1
    result = results[0]
    assert result["consultationId"].startswith("urn:uuid:")
    assert result["status"] == "rated"
    assert result["topic"]["id"] == "acr-low-back-pain"
    assert result["criteriaVersion"] == app.extensions["spine_auc.criteria"].version
    # The API adds nothing and loses nothing: same as calling the engine on the same input.
    orders, others = split_input(body)
    assessed = assess_orders(
        checked_orders(orders), record_from_resources(others), app.extensions["spine_auc.criteria"]
    )
    expected = [result.to_json() for result in assessed]
    assert strip_ids(results) == strip_ids(json.loads(json.dumps(expected)))


def test_several_orders_give_one_result_each_in_input_order(client: Any) -> None:
    orders = [
        load_order("mri-lumbar-wo-72148", "lbp-acute", "sr-a"),
        load_order("xr-chest-71046", "lbp-acute", "sr-b"),
        load_order("xr-lumbar-72100", "lbp-acute", "sr-c"),
    ]
    response = post_json(client, "/api/v1/appropriateness", inline_bundle("lbp-acute", orders))
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["serviceRequest"] for r in results] == [
        "ServiceRequest/sr-a",
        "ServiceRequest/sr-b",
        "ServiceRequest/sr-c",
    ]
    assert results[1]["status"] == "not-applicable"
    assert len({r["consultationId"] for r in results}) == 3


@pytest.mark.parametrize(
    "content_type", [FHIR_JSON, "application/fhir+json; charset=UTF-8", "application/json"]
)
def test_fhir_and_plain_json_media_types_are_accepted(client: Any, content_type: str) -> None:
    body = inline_bundle("lbp-acute", [load_order("mri-lumbar-wo-72148", "lbp-acute")])
    response = post_json(client, "/api/v1/appropriateness", body, content_type)
    assert response.status_code == 200
    assert response.get_json()["results"][0]["status"] == "rated"


def test_request_id_is_echoed_and_the_consultation_is_stored(client: Any) -> None:
    body = inline_bundle("lbp-acute", [load_order("mri-lumbar-wo-72148", "lbp-acute", "sr-stored")])
    response = post_json(client, "/api/v1/appropriateness", body, **{"X-Request-ID": "req-123"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-123"
    result = response.get_json()["results"][0]
    stored = client.get(f"/api/v1/consultations/{result['consultationId']}")
    assert stored.status_code == 200
    record = stored.get_json()
    assert record["result"] == result
    assert record["audit"]["requestId"] == "req-123"
    assert record["audit"]["patient"] == "Patient/pt-lbp-acute"


def test_malformed_request_id_is_replaced_by_a_generated_one(client: Any) -> None:
    body = inline_bundle("lbp-acute", [load_order("mri-lumbar-wo-72148", "lbp-acute")])
    response = post_json(client, "/api/v1/appropriateness", body, **{"X-Request-ID": "bad id with spaces"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] != "bad id with spaces"
    assert len(response.headers["X-Request-ID"]) == 36


def test_order_without_subject_is_400_even_with_inline_data(client: Any) -> None:
    """R4 ServiceRequest.subject is 1..1: an order without one is invalid whatever else is sent."""
    order = load_order("mri-lumbar-wo-72148", "lbp-acute")
    del order["subject"]
    response = post_json(client, "/api/v1/appropriateness", inline_bundle("lbp-acute", [order]))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["issue"][0]["expression"] == ["ServiceRequest.subject"]


# ---------------------------------------------------------------------------------- FHIR operation


def _contained(resource: dict[str, Any], reference: str) -> dict[str, Any]:
    wanted = reference.removeprefix("#")
    found = [c for c in resource["contained"] if c.get("id") == wanted]
    assert len(found) == 1, f"{reference} not contained"
    return found[0]


def _param(parameters: dict[str, Any], name: str) -> Any:
    values = [p for p in parameters["parameter"] if p["name"] == name]
    assert len(values) == 1, f"parameter {name}: {values}"
    item = values[0]
    return next(v for k, v in item.items() if k.startswith("value") or k == "part")


def test_fhir_operation_returns_guidance_responses_matching_the_rest_results(client: Any) -> None:
    orders = [
        load_order("mri-lumbar-wo-72148", "lbp-acute", "sr-1"),
        load_order("xr-chest-71046", "lbp-acute", "sr-2"),
    ]
    body = inline_bundle("lbp-acute", orders)
    rest = post_json(client, "/api/v1/appropriateness", body).get_json()["results"]
    response = post_json(
        client, "/fhir/ServiceRequest/$appropriateness", body, FHIR_JSON, **{"X-Request-ID": "r-9"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    bundle = response.get_json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert len(bundle["entry"]) == 2
    for entry, result in zip(bundle["entry"], rest, strict=True):
        gr = entry["resource"]
        validate_guidance_response(gr)  # raises if not valid R4
        assert entry["fullUrl"] == gr["identifier"][0]["value"]
        assert gr["identifier"][0]["value"].startswith("urn:uuid:")
        assert gr["requestIdentifier"]["value"] == "r-9"
        assert gr["subject"] == {"reference": "Patient/pt-lbp-acute"}
        assert gr["status"] == "success"
        params = _contained(gr, gr["outputParameters"]["reference"])
        assert params["resourceType"] == "Parameters"
        assert _param(params, "status") == result["status"]
        assert gr["moduleUri"].startswith("https://spine-auc.org/criteria/")
        if result["status"] == "rated":
            assert gr["moduleUri"].endswith("/" + result["topic"]["id"])
            assert _param(params, "category")["code"] == result["category"]
            assert float(_param(params, "score")) == float(result["score"])
            assert _param(params, "pamaRating") == result["pamaRating"]
            variant_parts = _param(params, "variant")
            assert variant_parts[0] == {"name": "number", "valueInteger": result["variant"]["number"]}
            evidence = {ref for reason in result["reasons"] for ref in reason.get("evidence", [])}
            assert {r["reference"] for r in gr.get("reasonReference", [])} >= evidence


def test_fhir_operation_accepts_a_parameters_wrapper(client: Any) -> None:
    body = inline_bundle("lbp-acute", [load_order("mri-lumbar-wo-72148", "lbp-acute")])
    wrapped = {"resourceType": "Parameters", "parameter": [{"name": "request", "resource": body}]}
    direct = post_json(client, "/fhir/ServiceRequest/$appropriateness", body, FHIR_JSON).get_json()
    response = post_json(client, "/fhir/ServiceRequest/$appropriateness", wrapped, FHIR_JSON)
    assert response.status_code == 200
    got = response.get_json()["entry"][0]["resource"]
    want = direct["entry"][0]["resource"]
    assert got["status"] == want["status"]
    assert _contained(got, "#params-1")["parameter"] == _contained(want, "#params-1")["parameter"]


def _all_patients() -> list[str]:
    return sorted(p.stem for p in PATIENTS.glob("*.json"))


def test_every_fixture_patient_and_order_gives_valid_guidance_responses(client: Any) -> None:
    """No fixture may make a GuidanceResponse fail R4 validation (that would be a 500)."""
    order_names = sorted(p.stem for p in ORDERS.glob("*.json"))
    data_required = 0
    checked = 0
    studies = 0  # an order carrying codes of two regions is two studies, two results (clinical-rules §1.3)
    for patient in _all_patients():
        orders = [load_order(name, patient, f"sr-{i}") for i, name in enumerate(order_names)]
        body = inline_bundle(patient, orders)
        response = post_json(client, "/fhir/ServiceRequest/$appropriateness", body, FHIR_JSON)
        assert response.status_code == 200, (patient, response.get_data(as_text=True)[:500])
        rest = post_json(client, "/api/v1/appropriateness", body).get_json()["results"]
        studies += len(rest)
        for entry, result in zip(response.get_json()["entry"], rest, strict=True):
            gr = entry["resource"]
            validate_guidance_response(gr)
            checked += 1
            if result["status"] == "insufficient-data":
                data_required += 1
                assert gr["status"] == "data-required"
                facts = [r["extension"][0]["valueString"] for r in gr["dataRequirement"]]
                assert facts == [m["fact"] for m in result["missing"]]
                params = _contained(gr, gr["outputParameters"]["reference"])
                assert "score" not in {p["name"] for p in params["parameter"]}
            else:
                assert gr["status"] == "success"
                assert "dataRequirement" not in gr
    assert checked == studies >= len(_all_patients()) * len(order_names)
    assert data_required > 0, "the fixtures should include at least one insufficient-data case"
