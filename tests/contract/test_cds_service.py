"""CDS Hooks 2.0 service calls: the fixture table under fhir_fixtures/hooks/, the response invariants of
reference cds-hooks.md §1.14, the status codes of the issue, the CDS Hooks sandbox's quirks and the record cache."""

from __future__ import annotations

import copy
import json
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.cds.cards import PAMA_AUC_APPLIED_URL, PAMA_CONSULT_ID_URL, PAMA_RATING_SYSTEM, PAMA_RATING_URL
from tests.contract.cds_app import make_app
from tests.faultserver import FaultServer

REPO = Path(__file__).resolve().parents[2]
HOOKS = REPO / "fhir_fixtures" / "hooks"
FIXTURES = {p.stem: json.loads(p.read_text()) for p in sorted(HOOKS.glob("*.json"))}
CONTRACT_CASES = sorted(name for name, f in FIXTURES.items() if not f["expected"].get("integration"))
SELECT = "/cds-services/spine-auc-order-select"
SIGN = "/cds-services/spine-auc-order-sign"
PAMA_EXTENSIONS = {PAMA_RATING_URL, PAMA_CONSULT_ID_URL, PAMA_AUC_APPLIED_URL}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    yield make_app(tmp_path)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def fixture_request(name: str) -> dict[str, Any]:
    body = copy.deepcopy(FIXTURES[name]["request"])
    body["hookInstance"] = str(uuid.uuid4())
    return body


# -- invariants (reference §1.1, §1.7, §1.14) ---------------------------------------------------------------------

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _no_nulls_or_empties(value: Any, path: str) -> None:
    """2.0 §Use of JSON: no null, "", [] or {} anywhere (the `cards` array is the only exception)."""
    if isinstance(value, dict):
        assert value, f"empty object at {path}"
        for key, item in value.items():
            if path == "$" and key == "cards":
                assert isinstance(item, list)
                for i, card in enumerate(item):
                    _no_nulls_or_empties(card, f"$.cards[{i}]")
                continue
            _no_nulls_or_empties(item, f"{path}.{key}")
    elif isinstance(value, list):
        assert value, f"empty array at {path}"
        for i, item in enumerate(value):
            _no_nulls_or_empties(item, f"{path}[{i}]")
    else:
        assert value is not None, f"null at {path}"
        assert value != "", f"empty string at {path}"


def _ext(resource: dict[str, Any], url: str) -> dict[str, Any] | None:
    return next((e for e in resource.get("extension", []) if e.get("url") == url), None)


def _without_pama(resource: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    kept = [e for e in out.get("extension", []) if e.get("url") not in PAMA_EXTENSIONS]
    if kept:
        out["extension"] = kept
    else:
        out.pop("extension", None)
    return out


def check_action(action: dict[str, Any], where: str) -> None:
    assert action["type"] in {"create", "update", "delete"}, where
    assert action.get("description"), f"cds-resp-5: {where} has no description"
    if action["type"] == "delete":
        assert action.get("resourceId") and "resource" not in action, f"cds-resp-2: {where}"
    if action["type"] == "update":
        resource = action["resource"]
        assert resource["resourceType"] and resource["id"], f"{where}: update needs the whole resource"
        rating = _ext(resource, PAMA_RATING_URL)
        assert rating is not None, f"{where}: the sandbox crashes without a pama-rating extension"
        codings = rating["valueCodeableConcept"]["coding"]
        assert codings[0]["system"] == PAMA_RATING_SYSTEM
        assert codings[0]["code"] in {"appropriate", "not-appropriate", "no-criteria-apply"}
        consult = _ext(resource, PAMA_CONSULT_ID_URL)
        assert consult is not None and consult["valueUri"].startswith("urn:uuid:"), where
        assert UUID_RE.match(consult["valueUri"][len("urn:uuid:") :]), where


def check_response(body: dict[str, Any], request: dict[str, Any]) -> None:
    """Every machine-checkable rule of a successful CDS Hooks 2.0 response that applies to us."""
    assert isinstance(body.get("cards"), list), "cards must be present, even if empty"
    assert set(body) <= {"cards", "systemActions", "extension"}
    _no_nulls_or_empties(body, "$")
    drafts = {
        f"{e['resource']['resourceType']}/{e['resource'].get('id')}": e["resource"]
        for e in request["context"]["draftOrders"].get("entry", [])
        if isinstance(e.get("resource"), dict)
    }
    for i, card in enumerate(body["cards"]):
        where = f"cards[{i}]"
        assert UUID_RE.match(card["uuid"]), f"{where}: uuid"
        assert isinstance(card["summary"], str) and 0 < len(card["summary"]) < 140, f"{where}: summary < 140"
        assert card["indicator"] in {"info", "warning", "critical"}, where
        assert card["source"]["label"], f"{where}: source.label"
        if "topic" in card["source"]:
            assert card["source"]["topic"]["code"] and card["source"]["topic"]["display"]
        assert isinstance(card.get("detail", ""), str)
        suggestions = card.get("suggestions", [])
        if suggestions:
            assert card.get("selectionBehavior") in {"at-most-one", "any"}, f"cds-resp-6: {where}"
        if card.get("selectionBehavior") == "at-most-one":
            assert sum(1 for s in suggestions if s.get("isRecommended")) <= 1, f"cds-resp-1: {where}"
        for j, suggestion in enumerate(suggestions):
            assert suggestion["label"] and UUID_RE.match(suggestion["uuid"]), f"{where}.suggestions[{j}]"
            assert "actionSelectionBehavior" not in suggestion  # cds-resp-7: not without client support
            for k, action in enumerate(suggestion.get("actions", [])):
                check_action(action, f"{where}.suggestions[{j}].actions[{k}]")
        for reason in card.get("overrideReasons", []):
            assert reason.get("display") and reason.get("code"), f"cds-resp-4: {where}"
        for link in card.get("links", []):
            assert link["type"] in {"absolute", "smart"} and link["label"] and link["url"]
            if link["type"] != "smart":
                assert "appContext" not in link, f"cds-resp-3: {where}"
    uuids = [c["uuid"] for c in body["cards"]] + [
        s["uuid"] for c in body["cards"] for s in c.get("suggestions", [])
    ]
    assert len(uuids) == len(set(uuids)), "card and suggestion uuids are unique"
    for i, action in enumerate(body.get("systemActions", [])):
        check_action(action, f"systemActions[{i}]")
        assert action["type"] == "update"
        ref = f"{action['resource']['resourceType']}/{action['resource']['id']}"
        assert ref in drafts, f"systemActions[{i}] updates an order that was not in draftOrders"
        assert _without_pama(action["resource"]) == _without_pama(drafts[ref]), "no semantic change"
    if "extension" in body:
        assert body["extension"]["systemActions"] == body["systemActions"], "legacy placement mirrors 2.0's"


# -- the fixture table -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONTRACT_CASES)
def test_hook_fixture_gets_its_expected_response(client: FlaskClient, name: str) -> None:
    case = FIXTURES[name]
    expected = case["expected"]
    request = fixture_request(name)
    resp = client.post(f"/cds-services/{case['service']}", json=request)
    assert resp.status_code == expected["status"], resp.get_data(as_text=True)
    body = resp.get_json()
    if expected["status"] != 200:
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["code"] == expected["operationOutcomeCode"]
        assert body["issue"][0]["diagnostics"]
        return
    check_response(body, request)
    assert len(body["cards"]) == len(expected["cards"]), body["cards"]
    for card, want in zip(body["cards"], expected["cards"], strict=True):
        assert card["indicator"] == want["indicator"], card
        for text in want.get("summaryContains", []):
            assert text in card["summary"], card["summary"]
        if "suggestions" in want:
            assert len(card.get("suggestions", [])) == want["suggestions"], card.get("suggestions")
        if "suggestionsAtLeast" in want:
            assert len(card.get("suggestions", [])) >= want["suggestionsAtLeast"]
            assert card["suggestions"][0]["isRecommended"] is True
    actions = body.get("systemActions", [])
    assert len(actions) == len(expected["systemActions"])
    for action, want in zip(actions, expected["systemActions"], strict=True):
        resource = action["resource"]
        assert f"{resource['resourceType']}/{resource['id']}" == want["resource"]
        codings = _ext(resource, PAMA_RATING_URL)["valueCodeableConcept"]["coding"]  # type: ignore[index]
        assert codings[0]["code"] == want["pamaRating"]
        if "category" in want:
            assert want["category"] in {c["code"] for c in codings}
        else:
            assert len(codings) == 1  # no category or score for no-criteria-apply


def test_every_hook_fixture_is_exercised() -> None:
    integration = {name for name, f in FIXTURES.items() if f["expected"].get("integration")}
    assert set(CONTRACT_CASES) | integration == set(FIXTURES)
    for required in (
        "prefetch-full-rated-appropriate",
        "prefetch-partial",
        "prefetch-null",
        "prefetch-absent-no-fhir-server",
        "prefetch-operationoutcome-no-fhir-server",
    ):
        assert required in FIXTURES


# -- cards in detail ---------------------------------------------------------------------------------------------


def test_rated_card_detail_names_reasons_evidence_rrl_version_and_source(client: FlaskClient) -> None:
    resp = client.post(SELECT, json=fixture_request("prefetch-full-rated-appropriate"))
    card = resp.get_json()["cards"][0]
    detail = card["detail"]
    assert "Condition/cond-ces" in detail  # the resource behind the cauda equina reason
    assert "Relative radiation level" in detail
    assert "Criteria version" in detail
    assert "Source:" in detail and card["source"]["url"] in detail
    assert card["source"]["topic"]["code"] == "acr-low-back-pain"
    assert "overrideReasons" not in card  # nothing to override on an info card


def test_swap_suggestion_is_the_full_draft_with_the_new_code_and_its_own_rating(client: FlaskClient) -> None:
    request = fixture_request("prefetch-full-rated-swap")
    body = client.post(SELECT, json=request).get_json()
    card = body["cards"][0]
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    assert card["selectionBehavior"] == "at-most-one"
    best = card["suggestions"][0]
    assert best["isRecommended"] is True
    assert all(s.get("isRecommended") is not True for s in card["suggestions"][1:])
    swapped = best["actions"][0]["resource"]
    assert swapped["id"] == draft["id"] and swapped["reasonCode"] == draft["reasonCode"]
    assert swapped["subject"] == draft["subject"] and swapped["status"] == draft["status"]
    assert swapped["code"]["coding"][0]["code"] != draft["code"]["coding"][0]["code"]
    rating = _ext(swapped, PAMA_RATING_URL)["valueCodeableConcept"]["coding"]  # type: ignore[index]
    assert rating[0]["code"] == "appropriate"
    assert card["overrideReasons"] and all(r["display"] for r in card["overrideReasons"])


def test_insufficient_data_card_lists_missing_facts_and_gives_no_rating(client: FlaskClient) -> None:
    body = client.post(SELECT, json=fixture_request("prefetch-full-insufficient-data")).get_json()
    card = body["cards"][0]
    assert "systemActions" not in body and "extension" not in body  # Argonaut: SHALL NOT produce a rating
    assert "Missing information" in card["detail"]
    assert "suggestions" not in card
    assert not re.search(r"\d/9", card["summary"])


def test_critical_only_for_the_contraindication(client: FlaskClient) -> None:
    indicators = {}
    for name in CONTRACT_CASES:
        if FIXTURES[name]["expected"]["status"] != 200:
            continue
        body = client.post(
            f"/cds-services/{FIXTURES[name]['service']}", json=fixture_request(name)
        ).get_json()
        indicators[name] = [c["indicator"] for c in body["cards"]]
    critical = {name for name, inds in indicators.items() if "critical" in inds}
    assert critical == {"mr-unsafe-device-critical"}


def test_legacy_system_actions_can_be_switched_off(tmp_path: Path) -> None:
    client = make_app(tmp_path, CDS_LEGACY_SYSTEM_ACTIONS=False).test_client()
    body = client.post(SELECT, json=fixture_request("prefetch-full-rated-appropriate")).get_json()
    assert body["systemActions"] and "extension" not in body


# -- status codes ------------------------------------------------------------------------------------------------


def test_unknown_service_is_404_with_operation_outcome(client: FlaskClient) -> None:
    resp = client.post("/cds-services/no-such-service", json=fixture_request("prefetch-null"))
    assert resp.status_code == 404
    assert resp.get_json()["resourceType"] == "OperationOutcome"


def test_hook_that_does_not_match_the_service_is_400(client: FlaskClient) -> None:
    resp = client.post(SIGN, json=fixture_request("prefetch-null"))  # an order-select request
    assert resp.status_code == 400
    assert resp.get_json()["issue"][0]["expression"] == ["hook"]


def test_invalid_json_is_400(client: FlaskClient) -> None:
    resp = client.post(SELECT, data=b'{"hook": "order-select",', content_type="application/json")
    assert resp.status_code == 400
    assert "line 1" in resp.get_json()["issue"][0]["diagnostics"]


def test_body_that_is_not_an_object_is_400(client: FlaskClient) -> None:
    resp = client.post(SELECT, json=[1, 2])
    assert resp.status_code == 400
    assert resp.get_json()["resourceType"] == "OperationOutcome"


def test_wrong_media_type_is_415(client: FlaskClient) -> None:
    resp = client.post(SELECT, data=json.dumps(fixture_request("prefetch-null")), content_type="text/plain")
    assert resp.status_code == 415
    assert resp.get_json()["resourceType"] == "OperationOutcome"


def test_body_over_the_limit_is_413(tmp_path: Path) -> None:
    client = make_app(tmp_path, MAX_BODY_BYTES=2000).test_client()
    resp = client.post(SELECT, json=fixture_request("prefetch-full-rated-appropriate"))
    assert resp.status_code == 413
    assert resp.get_json()["resourceType"] == "OperationOutcome"


def test_get_on_a_service_is_405(client: FlaskClient) -> None:
    assert client.get(SELECT).status_code == 405


def test_400_names_the_failing_field(client: FlaskClient) -> None:
    body = fixture_request("prefetch-null")
    del body["context"]["patientId"]
    resp = client.post(SELECT, json=body)
    assert resp.status_code == 400
    assert "patientId" in resp.get_json()["issue"][0]["diagnostics"]


def test_412_when_the_fhir_server_is_down_and_required_data_is_missing(client: FlaskClient) -> None:
    with FaultServer() as server:
        body = fixture_request("prefetch-absent-no-fhir-server")
        body["fhirServer"] = server.base("error500")
        resp = client.post(SELECT, json=body)
    assert resp.status_code == 412
    outcome = resp.get_json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] == "incomplete"


def test_access_token_is_sent_to_the_fhir_server_but_never_logged_or_returned(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = "tok-" + uuid.uuid4().hex
    with FaultServer() as server:
        body = fixture_request("prefetch-absent-no-fhir-server")
        body["fhirServer"] = server.base("error500")
        body["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "spine-auc",
            "patient": body["context"]["patientId"],
        }
        with caplog.at_level(logging.DEBUG):
            resp = client.post(SELECT, json=body)
        sent = [r.headers.get("Authorization") for r in server.records]
    assert resp.status_code == 412
    assert f"Bearer {token}" in sent
    assert token not in resp.get_data(as_text=True)
    assert token not in caplog.text


# -- the CDS Hooks sandbox (reference §7) -------------------------------------------------------------------------


def test_sandbox_first_call_gets_200_no_cards_and_no_fetch(client: FlaskClient) -> None:
    with FaultServer() as server:
        body = fixture_request("sandbox-first-call")
        body["fhirServer"] = server.base("error500")
        resp = client.post(SELECT, json=body)
        hits = server.hits_under("/error500")
    assert resp.status_code == 200
    assert resp.get_json() == {"cards": []}
    assert hits == 0


def test_an_unreadable_draft_order_is_skipped_not_a_400(client: FlaskClient) -> None:
    body = fixture_request("order-sign-mixed")
    body["context"]["draftOrders"]["entry"].append(
        {
            "resource": {
                "resourceType": "ServiceRequest",
                "id": "broken",
                "status": 42,
                "code": "not-a-concept",
            }
        }
    )
    resp = client.post(SIGN, json=body)
    assert resp.status_code == 200
    assert len(resp.get_json()["cards"]) == 1


# -- repeated order-select: the record cache ----------------------------------------------------------------------


def test_identical_prefetch_reuses_the_record(app: Flask, client: FlaskClient) -> None:
    first = client.post(SELECT, json=fixture_request("prefetch-full-rated-appropriate")).get_json()
    cache = app.extensions["spine_auc.cds_record_cache"]
    hits_before = cache.hits
    swapped = fixture_request("prefetch-full-rated-swap")  # same prefetch, another study
    second = client.post(SELECT, json=swapped).get_json()
    assert cache.hits == hits_before + 1
    assert first["cards"][0]["indicator"] == "info" and second["cards"][0]["indicator"] == "warning"
    changed = fixture_request("prefetch-full-rated-swap")
    changed["prefetch"]["patient"]["birthDate"] = "1979-05-01"
    client.post(SELECT, json=changed)
    assert cache.hits == hits_before + 1  # a different prefetch is a miss


def test_results_are_recorded_with_the_card_uuid(app: Flask, client: FlaskClient) -> None:
    request = fixture_request("prefetch-full-rated-appropriate")
    body = client.post(SELECT, json=request).get_json()
    store = app.extensions["spine_auc.store"]
    rows, _cursor = store.list_consultations(patient=request["context"]["patientId"], limit=10)
    mine = [r for r in rows if r["audit"]["hookInstance"] == request["hookInstance"]]
    assert len(mine) == 1
    assert mine[0]["result"]["cdsCard"]["uuid"] == body["cards"][0]["uuid"]
    assert mine[0]["audit"]["pamaRating"] == "appropriate"


def test_identical_order_and_prefetch_reuse_the_result_with_a_fresh_consultation(
    app: Flask, client: FlaskClient
) -> None:
    request = fixture_request("prefetch-full-rated-appropriate")
    first = client.post(SELECT, json=request).get_json()
    cache = app.extensions["spine_auc.cds_result_cache"]
    hits = cache.hits
    request["hookInstance"] = str(uuid.uuid4())
    second = client.post(SELECT, json=request).get_json()
    assert cache.hits == hits + 1
    assert second["cards"][0]["summary"] == first["cards"][0]["summary"]
    exts = [_ext(b["systemActions"][0]["resource"], PAMA_CONSULT_ID_URL) for b in (first, second)]
    consult = [e["valueUri"] for e in exts if e is not None]
    assert len(consult) == 2
    assert consult[0] != consult[1]  # every call is its own consultation
    rows, _ = app.extensions["spine_auc.store"].list_consultations(patient="pt-hook", limit=10)
    assert {r["consultationId"] for r in rows} >= set(consult)


def test_caches_can_be_switched_off(tmp_path: Path) -> None:
    app = make_app(tmp_path, CDS_RECORD_CACHE_SIZE=0, CDS_RESULT_CACHE_SIZE=0)
    client = app.test_client()
    for _ in range(2):
        assert client.post(SELECT, json=fixture_request("prefetch-full-rated-appropriate")).status_code == 200
    assert app.extensions["spine_auc.cds_result_cache"].hits == 0
    assert len(app.extensions["spine_auc.cds_record_cache"]) == 0


def test_non_spine_order_without_prefetch_or_fhir_server_is_200_not_412(client: FlaskClient) -> None:
    body = fixture_request("non-spine-order")
    del body["prefetch"]
    resp = client.post(SELECT, json=body)
    assert resp.status_code == 200
    assert resp.get_json() == {"cards": []}


EXCHANGES = sorted((HOOKS / "exchanges").glob("*.json"))


@pytest.mark.parametrize("path", EXCHANGES, ids=[p.stem for p in EXCHANGES])
def test_recorded_exchanges_meet_the_invariants_and_match_a_fresh_call(
    client: FlaskClient, path: Path
) -> None:
    """The request/response pairs recorded over HTTP still satisfy every invariant, and today's service gives
    the same status, summaries and ratings for the same request."""
    exchange = json.loads(path.read_text())
    fresh = client.post(f"/cds-services/{exchange['service']}", json=exchange["request"])
    assert fresh.status_code == exchange["status"]
    if exchange["status"] != 200:
        assert exchange["response"]["resourceType"] == "OperationOutcome"
        assert exchange["responseHeaders"]["Content-Type"].startswith("application/fhir+json")
        return
    check_response(exchange["response"], exchange["request"])
    now = fresh.get_json()
    assert [c["summary"] for c in now["cards"]] == [c["summary"] for c in exchange["response"]["cards"]]

    def ratings(body: dict[str, Any]) -> list[str]:
        return [
            _ext(a["resource"], PAMA_RATING_URL)["valueCodeableConcept"]["coding"][0]["code"]  # type: ignore[index]
            for a in body.get("systemActions", [])
        ]

    assert ratings(now) == ratings(exchange["response"])
