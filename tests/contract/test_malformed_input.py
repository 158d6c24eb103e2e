"""The known 500s on malformed input (#12 finding 3) are 4xx or a normal answer now."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.contract.cds_app import make_app

HOOKS = Path(__file__).resolve().parents[2] / "fhir_fixtures" / "hooks"
SELECT = "/cds-services/spine-auc-order-select"


def _request() -> dict[str, Any]:
    name = "prefetch-full-rated-appropriate.json"
    return copy.deepcopy(json.loads((HOOKS / name).read_text())["request"])


def _order(request: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = request["context"]["draftOrders"]["entry"][0]["resource"]
    return resource


def _bundle(request: dict[str, Any]) -> dict[str, Any]:
    order = {**_order(request), "status": "active"}
    resources = [request["prefetch"]["patient"]] + [
        e["resource"] for e in request["prefetch"]["conditions"]["entry"]
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in [order, *resources]],
    }


def _post_raw(client: Any, path: str, text: str) -> Any:
    return client.post(path, data=text.encode(), content_type="application/json")


def _assert_answered(response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert isinstance(body, dict)
    assert body.get("resourceType") in {"OperationOutcome", "Bundle"} or "cards" in body or "results" in body


@pytest.mark.parametrize("where", ["patientId", "prefetch", "order-id"])
def test_a_lone_surrogate_is_not_a_500(tmp_path: Path, where: str) -> None:
    request = _request()
    marker = "LONE-SURROGATE"
    if where == "patientId":
        request["context"]["patientId"] = marker
    elif where == "prefetch":
        request["prefetch"]["patient"]["id"] = marker
    else:
        _order(request)["id"] = marker
    text = json.dumps(request).replace(marker, "\\ud800")  # valid JSON, not encodable as UTF-8
    _assert_answered(_post_raw(make_app(tmp_path).test_client(), SELECT, text))


@pytest.mark.parametrize("value", [["ServiceRequest"], {"a": 1}, 7, None])
def test_a_non_string_resource_type_in_draft_orders_is_not_a_500(tmp_path: Path, value: Any) -> None:
    request = _request()
    _order(request)["resourceType"] = value
    _assert_answered(make_app(tmp_path).test_client().post(SELECT, json=request))


@pytest.mark.parametrize("value", [["Condition"], {"a": 1}, 7])
def test_a_non_string_resource_type_in_prefetch_is_not_a_500(tmp_path: Path, value: Any) -> None:
    request = _request()
    request["prefetch"]["conditions"]["entry"][0]["resource"]["resourceType"] = value
    _assert_answered(make_app(tmp_path).test_client().post(SELECT, json=request))


@pytest.mark.parametrize("value", [{"system": "x", "code": "y"}, "72148", 7, None])
@pytest.mark.parametrize("target", ["order", "reason", "condition"])
def test_coding_that_is_not_a_list_is_not_a_500_in_cds(tmp_path: Path, value: Any, target: str) -> None:
    request = _request()
    concept = {
        "order": _order(request)["code"],
        "reason": _order(request)["reasonCode"][0],
        "condition": request["prefetch"]["conditions"]["entry"][0]["resource"]["code"],
    }[target]
    concept["coding"] = value
    _assert_answered(make_app(tmp_path).test_client().post(SELECT, json=request))


@pytest.mark.parametrize("value", [{"system": "x", "code": "y"}, "72148", 7])
@pytest.mark.parametrize("target", ["order", "reason", "condition"])
def test_coding_that_is_not_a_list_is_not_a_500_in_rest(tmp_path: Path, value: Any, target: str) -> None:
    request = _request()
    bundle = _bundle(request)
    concept = {
        "order": bundle["entry"][0]["resource"]["code"],
        "reason": bundle["entry"][0]["resource"]["reasonCode"][0],
        "condition": bundle["entry"][2]["resource"]["code"],
    }[target]
    concept["coding"] = value
    client = make_app(tmp_path).test_client()
    _assert_answered(client.post("/api/v1/appropriateness", json=bundle))
    _assert_answered(client.post("/fhir/ServiceRequest/$appropriateness", json=bundle))
