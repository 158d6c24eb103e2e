"""Bad input to the REST API and the FHIR operation: always a 4xx/5xx OperationOutcome naming the problem.

Upstream failures use real sockets on 127.0.0.1: a closed port (unavailable → 502), a server of the
test's own that never answers (timeout → 504), and a server that answers 404 for the patient (→ 422).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from tests.stubserver import StubServer

ROOT = Path(__file__).resolve().parents[2]
ORDER = json.loads((ROOT / "fhir_fixtures" / "orders" / "mri-lumbar-wo-72148.json").read_text())
PATIENT_BUNDLE = json.loads((ROOT / "fhir_fixtures" / "patients" / "lbp-acute.json").read_text())
ENDPOINTS = ["/api/v1/appropriateness", "/fhir/ServiceRequest/$appropriateness"]


def order(subject: str | None = "Patient/pt-lbp-acute", **changes: Any) -> dict[str, Any]:
    sr = json.loads(json.dumps(ORDER))
    if subject is None:
        sr.pop("subject", None)
    else:
        sr["subject"] = {"reference": subject}
    sr.update(changes)
    return dict(sr)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def make_client(tmp_path: Path) -> Any:
    def _make(**config: Any) -> Any:
        settings = {"DATA_DIR": str(tmp_path), "FHIR_BASE_URL": None, **config}
        return create_app(settings).test_client()

    return _make


@pytest.fixture()
def client(make_client: Any) -> Any:
    return make_client()


def post(client: Any, url: str, body: Any, content_type: str = "application/json") -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data=data, headers={"Content-Type": content_type})


def outcome(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["severity"] == "error"
    text = str(issue["diagnostics"])
    assert "Traceback" not in text
    return text


@pytest.mark.parametrize("url", ENDPOINTS)
def test_non_json_media_type_is_415(client: Any, url: str) -> None:
    assert "text/plain" in outcome(post(client, url, "hello", "text/plain"), 415)


@pytest.mark.parametrize("url", ENDPOINTS)
def test_invalid_json_is_400_with_position(client: Any, url: str) -> None:
    assert "line 1 column 2" in outcome(post(client, url, "{oops}"), 400)


@pytest.mark.parametrize("url", ENDPOINTS)
def test_wrong_resource_type_is_400(client: Any, url: str) -> None:
    text = outcome(post(client, url, {"resourceType": "Patient", "id": "x"}), 400)
    assert "'Patient'" in text and "ServiceRequest" in text


@pytest.mark.parametrize("url", ENDPOINTS)
def test_json_that_is_not_an_object_is_400(client: Any, url: str) -> None:
    assert "JSON object" in outcome(post(client, url, [1, 2]), 400)


@pytest.mark.parametrize("url", ENDPOINTS)
def test_bundle_without_a_service_request_is_400(client: Any, url: str) -> None:
    assert "no ServiceRequest" in outcome(post(client, url, PATIENT_BUNDLE), 400)


@pytest.mark.parametrize("url", ENDPOINTS)
def test_service_request_without_subject_and_no_data_is_400(client: Any, url: str) -> None:
    assert "no subject" in outcome(post(client, url, order(subject=None)), 400)


@pytest.mark.parametrize("url", ENDPOINTS)
def test_structurally_invalid_service_request_names_the_path(client: Any, url: str) -> None:
    bad = order(code={"coding": "72148"})
    text = outcome(post(client, url, bad), 400)
    assert "ServiceRequest.code.coding" in text
    assert post(client, url, bad).get_json()["issue"][0]["expression"] == ["ServiceRequest.code.coding"]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_body_over_the_limit_is_413(make_client: Any, url: str) -> None:
    client = make_client(MAX_BODY_BYTES=2000)
    big = order(note=[{"text": "x" * 5000}])
    assert "limit of 2000 bytes" in outcome(post(client, url, big), 413)


@pytest.mark.parametrize("url", ENDPOINTS)
def test_bare_order_without_a_configured_fhir_server_is_422(client: Any, url: str) -> None:
    assert "FHIR_BASE_URL" in outcome(post(client, url, order()), 422)


@pytest.mark.parametrize("url", ENDPOINTS)
def test_subject_on_an_unknown_fhir_base_is_400(make_client: Any, url: str) -> None:
    client = make_client(FHIR_BASE_URL=f"http://127.0.0.1:{closed_port()}/fhir")
    text = outcome(post(client, url, order("https://elsewhere.example/fhir/Patient/p1")), 400)
    assert "unknown FHIR base" in text and "elsewhere.example" in text


@pytest.mark.parametrize("subject", ["Group/g1", "urn:uuid:5f0e2b1c-0000-4000-8000-000000000001", "Patient/"])
def test_subject_that_cannot_be_fetched_is_400(make_client: Any, subject: str) -> None:
    client = make_client(FHIR_BASE_URL=f"http://127.0.0.1:{closed_port()}/fhir")
    assert "Patient/<id>" in outcome(post(client, ENDPOINTS[0], order(subject)), 400)


@pytest.mark.parametrize("url", ENDPOINTS)
def test_unreachable_fhir_server_is_502(make_client: Any, url: str) -> None:
    client = make_client(FHIR_BASE_URL=f"http://127.0.0.1:{closed_port()}/fhir", FHIR_DEADLINE_SECONDS=3.0)
    assert "unavailable" in outcome(post(client, url, order()), 502)


NOT_FOUND = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}


def fake_fhir(server: StubServer, mode: str) -> str:
    """Routes for one mode on the stub server; returns its FHIR base. Modes: "hang" (never answers in
    time), "not-found" (404 for everything), "partial" (the patient and empty searches, but a 500 for
    Device searches)."""
    if mode == "hang":
        server.hang("/fhir")
    elif mode == "not-found":
        server.json("/fhir", NOT_FOUND, status=404)
    else:
        conditions = [e for e in PATIENT_BUNDLE["entry"] if e["resource"]["resourceType"] == "Condition"]
        server.json("/fhir", {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []})
        server.json(
            "/fhir/Patient/", {"resourceType": "Patient", "id": "pt-lbp-acute", "birthDate": "1981-03-15"}
        )
        server.json(
            "/fhir/Device",
            {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]},
            status=500,
        )
        server.json("/fhir/Condition", {"resourceType": "Bundle", "type": "searchset", "entry": conditions})
    return server.url + "/fhir"


def test_fhir_server_that_never_answers_is_504_within_the_deadline(
    make_client: Any, stub_server: StubServer
) -> None:
    base = fake_fhir(stub_server, "hang")
    client = make_client(FHIR_BASE_URL=base, FHIR_TIMEOUT_SECONDS=0.5, FHIR_DEADLINE_SECONDS=1.0)
    started = time.monotonic()
    text = outcome(post(client, ENDPOINTS[0], order()), 504)
    assert time.monotonic() - started < 2.5
    assert "timed out" in text


def test_patient_missing_on_the_fhir_server_is_422(make_client: Any, stub_server: StubServer) -> None:
    client = make_client(FHIR_BASE_URL=fake_fhir(stub_server, "not-found"))
    assert "Patient/pt-lbp-acute was not found" in outcome(post(client, ENDPOINTS[0], order()), 422)


def test_a_resource_type_that_cannot_be_fetched_is_reported_not_fatal(
    make_client: Any, stub_server: StubServer
) -> None:
    """Patient read, Device search fails: the order is still answered, Device facts are unknown."""
    client = make_client(FHIR_BASE_URL=fake_fhir(stub_server, "partial"))
    response = post(client, ENDPOINTS[0], order())
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()["results"][0]
    assert any("Device could not be fetched" in str(issue) for issue in result["dataIssues"])
    # The unavailability reaches the engine as "unknown", not as "no devices".
    assert "Device resources could not be obtained" in result["explanation"]
    assert not any(r["text"] == "No MR-unsafe implant recorded" for r in result["reasons"])


def test_an_unknown_device_is_not_reported_as_an_mr_unsafe_implant(
    make_client: Any, stub_server: StubServer
) -> None:
    """Device unavailable, not decisive (V1 rates MRI UNA either way): no M1 claim without evidence."""
    client = make_client(FHIR_BASE_URL=fake_fhir(stub_server, "partial"))
    result = post(client, ENDPOINTS[0], order()).get_json()["results"][0]
    assert [m["id"] for m in result["modifiers"]] == []


# ------------------------------------------------------------------------ instance-level operation


def test_instance_operation_without_a_fhir_server_is_422(client: Any) -> None:
    assert "FHIR_BASE_URL" in outcome(client.post("/fhir/ServiceRequest/sr-1/$appropriateness"), 422)


def test_instance_operation_with_an_invalid_id_is_400(client: Any) -> None:
    assert "not a valid FHIR id" in outcome(client.post("/fhir/ServiceRequest/bad_id!/$appropriateness"), 400)


def test_instance_operation_order_missing_on_the_server_is_404(
    make_client: Any, stub_server: StubServer
) -> None:
    client = make_client(FHIR_BASE_URL=fake_fhir(stub_server, "not-found"))
    assert "ServiceRequest/sr-1 was not found" in outcome(
        client.post("/fhir/ServiceRequest/sr-1/$appropriateness"), 404
    )


def test_instance_operation_rejects_input_parameters(client: Any) -> None:
    body = {"resourceType": "Parameters", "parameter": [{"name": "x", "valueString": "y"}]}
    response = post(client, "/fhir/ServiceRequest/sr-1/$appropriateness", body, "application/fhir+json")
    assert "takes no input" in outcome(response, 400)


def test_get_on_the_operation_is_405_operation_outcome(client: Any) -> None:
    outcome(client.get("/api/v1/appropriateness"), 405)


# ---------------------------------------------------------------------------------------- store


def test_store_failure_is_503_and_no_answer_is_given(tmp_path: Path) -> None:
    app = create_app({"DATA_DIR": str(tmp_path), "FHIR_BASE_URL": None})
    db = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE consultations")
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": order()}, *PATIENT_BUNDLE["entry"]],
    }
    response = post(app.test_client(), ENDPOINTS[0], bundle)
    text = outcome(response, 503)
    assert "could not be recorded" in text
    assert "results" not in response.get_json()
