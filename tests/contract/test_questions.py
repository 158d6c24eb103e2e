"""Questions to the ordering clinician: the Questionnaire on every output, the card's link, the page and its
safety (signed expiring token, CSRF, answers validated), and answers applied when the order comes back."""

from __future__ import annotations

import copy
import json
import re
import stat
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.security.links import issue, verify
from app.store import tables as store_schema
from tests.contract.cds_app import make_app

REPO = Path(__file__).resolve().parents[2]
HOOK = json.loads((REPO / "fhir_fixtures" / "hooks" / "prefetch-full-insufficient-data.json").read_text())
SELECT = "/cds-services/spine-auc-order-select"
SIGN = "/cds-services/spine-auc-order-sign"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def hook_request(hook: str = "order-select") -> dict[str, Any]:
    body = copy.deepcopy(HOOK["request"])
    body["hookInstance"] = str(uuid.uuid4())
    body["hook"] = hook
    if hook == "order-sign":
        body["context"].pop("selections", None)
    return body


def page_path(card: dict[str, Any]) -> str:
    (link,) = card["links"]
    assert link["type"] == "absolute"
    return "/" + link["url"].split("/", 3)[3]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def insufficient_card(client: FlaskClient) -> dict[str, Any]:
    response = client.post(SELECT, json=hook_request())
    assert response.status_code == 200
    (card,) = response.json["cards"]
    assert "not rated" in card["summary"]
    return card


def test_the_card_links_to_a_page_whose_token_names_no_patient(client: FlaskClient) -> None:
    card = insufficient_card(client)
    path = page_path(card)
    token = path.rsplit("/", 1)[1]
    assert "pt-hook" not in path and "sr-mri" not in path
    page = client.get(path)
    assert page.status_code == 200
    html = page.data.decode()
    assert "MRI lumbar spine" in html and "pt-hook" not in html
    assert "<fieldset" in html and "<legend>" in html
    assert 'for="management_weeks-0"' in html and 'id="management_weeks-0"' in html
    assert "gives: Low Back Pain V3: usually appropriate" in html
    assert "<script" not in html and "http" not in html.split("<body>")[1].split("<form")[0]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    css = client.get("/questions/static/questions.css")
    body = css.get_data()
    css.close()  # a static file response holds the file open until closed
    assert css.status_code == 200 and b"{" in body and css.mimetype == "text/css"
    assert len(token) > 60


def test_answering_rerates_records_and_applies_to_order_sign(client: FlaskClient, app: Flask) -> None:
    card = insufficient_card(client)
    path = page_path(card)
    html = client.get(path).data.decode()
    answered = client.post(path, data={"csrf": csrf_of(html), "management_weeks": "1"})
    assert answered.status_code == 200
    text = answered.data.decode()
    assert "Usually appropriate" in text and "answered by the ordering clinician" in text
    store = app.extensions["spine_auc.store"]
    items, _ = store.list_consultations(patient="pt-hook")
    statuses = [i["result"]["status"] for i in items]
    assert statuses == ["rated", "insufficient-data"]  # newest first: the re-rated consultation
    first = items[1]["result"]
    assert first["questionnaire"]["item"][0]["linkId"] == "management_weeks"  # the audit row carries it
    question = app.extensions["spine_auc.questions"]
    stored = question.answers_in_force(
        "pt-hook", "ServiceRequest/sr-mri", window=__import__("datetime").timedelta(hours=1)
    )
    assert stored and stored["resourceType"] == "QuestionnaireResponse"
    assert stored["basedOn"] == [{"reference": "ServiceRequest/sr-mri"}]

    signed = client.post(SIGN, json=hook_request("order-sign"))
    assert signed.status_code == 200
    (card2,) = signed.json["cards"]
    assert "usually appropriate" in card2["summary"].lower()
    assert "links" not in card2
    (action,) = signed.json["systemActions"]
    rating = next(e for e in action["resource"]["extension"] if e["url"].endswith("pama-rating"))
    assert rating["valueCodeableConcept"]["coding"][0]["code"] == "appropriate"

    again = client.post(path, data={"csrf": csrf_of(html), "management_weeks": "0"})
    assert again.status_code == 200 and "answered before" in again.data.decode()  # single use
    assert "Usually appropriate" in again.data.decode()


def test_bad_answers_show_the_form_again_with_the_error(client: FlaskClient) -> None:
    path = page_path(insufficient_card(client))
    csrf = csrf_of(client.get(path).data.decode())
    for form in (
        {"csrf": csrf},
        {"csrf": csrf, "management_weeks": "7"},
        {"csrf": csrf, "management_weeks": "x"},
    ):
        bad = client.post(path, data=form)
        assert bad.status_code == 400
        html = bad.data.decode()
        assert 'role="alert"' in html and "<fieldset" in html
    ok = client.post(path, data={"csrf": csrf, "management_weeks": "0"})
    assert ok.status_code == 200 and "Usually not appropriate" in ok.data.decode()


def test_csrf_forged_and_expired_links_are_refused(client: FlaskClient, app: Flask) -> None:
    path = page_path(insufficient_card(client))
    assert client.post(path, data={"management_weeks": "1"}).status_code == 400
    assert client.post(path, data={"csrf": "x" * 43, "management_weeks": "1"}).status_code == 400
    token = path.rsplit("/", 1)[1]
    secret = app.extensions["spine_auc.link_secret"]
    link = verify(secret, token)
    assert (
        client.get("/questions/" + issue(b"another secret", link.question_id, link.expires_at)).status_code
        == 404
    )
    assert client.get("/questions/" + token[:-2] + "AA").status_code == 404
    assert client.get("/questions/not-a-token").status_code == 404
    expired = issue(secret, link.question_id, int(time.time()) - 1)
    page = client.get("/questions/" + expired)
    assert page.status_code == 410 and "expired" in page.data.decode()


def test_the_link_lifetime_is_a_setting(tmp_path: Path) -> None:
    app = make_app(tmp_path, QUESTIONS_LINK_MINUTES=1)
    card = insufficient_card(app.test_client())
    link = verify(app.extensions["spine_auc.link_secret"], page_path(card).rsplit("/", 1)[1])
    assert 0 < link.expires_at - time.time() <= 60


def test_the_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = make_app(tmp_path).extensions["spine_auc.link_secret"]
    key = tmp_path / "questions.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert make_app(tmp_path).extensions["spine_auc.link_secret"] == first
    assert (
        make_app(tmp_path, QUESTIONS_SECRET="configured").extensions["spine_auc.link_secret"] == b"configured"
    )


def test_answers_outside_the_window_do_not_apply(tmp_path: Path) -> None:
    app = make_app(tmp_path, QUESTIONS_ANSWER_WINDOW_MINUTES=0)
    client = app.test_client()
    path = page_path(insufficient_card(client))
    client.post(path, data={"csrf": csrf_of(client.get(path).data.decode()), "management_weeks": "1"})
    signed = client.post(SIGN, json=hook_request("order-sign"))
    assert "not rated" in signed.json["cards"][0]["summary"]


def rest_bundle() -> dict[str, Any]:
    body = hook_request()
    entries = [copy.deepcopy(e) for e in body["context"]["draftOrders"]["entry"]]
    for value in body["prefetch"].values():
        if value.get("resourceType") == "Bundle":
            entries += value.get("entry", [])
        else:
            entries.append({"resource": value})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def test_rest_and_fhir_operation_carry_the_questionnaire_and_take_answers(client: FlaskClient) -> None:
    bundle = rest_bundle()
    (result,) = client.post("/api/v1/appropriateness", json=bundle).json["results"]
    questionnaire = result["questionnaire"]
    assert questionnaire["resourceType"] == "Questionnaire"
    guidance = client.post("/fhir/ServiceRequest/$appropriateness", json=bundle).json["entry"][0]["resource"]
    assert guidance["status"] == "data-required" and guidance["dataRequirement"]
    contained = {r["id"]: r for r in guidance["contained"]}
    ref = guidance["extension"][0]["valueReference"]["reference"]
    assert contained[ref[1:]]["item"] == questionnaire["item"]
    answer = {
        "resourceType": "QuestionnaireResponse",
        "id": "qr-1",
        "questionnaire": questionnaire["url"],
        "status": "completed",
        "basedOn": [{"reference": "ServiceRequest/sr-mri"}],
        "item": [{"linkId": "management_weeks", "answer": [{"valueString": "6 weeks or more"}]}],
    }
    bundle["entry"].append({"resource": answer})
    (rated,) = client.post("/api/v1/appropriateness", json=bundle).json["results"]
    assert rated["status"] == "rated" and rated["category"] == "usually-appropriate"
    assert any(r["evidence"] == ["QuestionnaireResponse/qr-1"] for r in rated["reasons"])
    guidance = client.post("/fhir/ServiceRequest/$appropriateness", json=bundle).json["entry"][0]["resource"]
    assert guidance["status"] == "success" and "extension" not in guidance


def test_answers_sent_with_the_draft_orders_apply(client: FlaskClient) -> None:
    body = hook_request()
    body["context"]["draftOrders"]["entry"].append(
        {
            "resource": {
                "resourceType": "QuestionnaireResponse",
                "id": "qr-draft",
                "status": "completed",
                "item": [{"linkId": "management_weeks", "answer": [{"valueString": "less than 6 weeks"}]}],
            }
        }
    )
    (card,) = client.post(SELECT, json=body).json["cards"]
    assert "usually not appropriate" in card["summary"].lower()


def test_the_store_schema_has_the_questions_table() -> None:
    assert "questions" in store_schema.metadata.tables
    assert store_schema.CURRENT_VERSION >= 2
