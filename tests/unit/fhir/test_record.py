"""Fetched FHIR → patient record (app/fhir/record.py): the one converter the REST API and CDS Hooks share."""

from __future__ import annotations

from app.clinical.assessment import RECORD_TYPES
from app.fhir.client import FhirClient
from app.fhir.errors import FhirHTTPError, FhirNotFound, FhirTimeout
from app.fhir.record import fetch_record, from_fetched
from tests.stubserver import StubRequest, StubServer

PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"}
CONDITION = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}


def searchset(*resources: dict[str, object]) -> dict[str, object]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def test_resources_of_every_type_are_kept_and_grouped_by_type() -> None:
    fetched = from_fetched({"Patient": [PATIENT], "Condition": [CONDITION], "Device": []})
    assert fetched.resources == [PATIENT, CONDITION]
    assert not fetched.unavailable and not fetched.issues and not fetched.patient_missing
    record = fetched.to_record()
    assert record.patient == PATIENT and record.resources["Condition"] == [CONDITION]
    assert record.unavailable == set()


def test_a_type_that_failed_is_unavailable_with_an_issue() -> None:
    fetched = from_fetched({"Patient": [PATIENT], "Device": FhirHTTPError("HTTP 500 from x", status=500)})
    assert fetched.unavailable == {"Device"}
    assert fetched.issues == ("Device could not be fetched: HTTP 500 from x",)
    record = fetched.to_record()
    assert (
        record.unavailable == {"Device"} and "Device could not be fetched: HTTP 500 from x" in record.issues
    )


def test_a_patient_the_server_does_not_know_is_missing_not_unavailable() -> None:
    fetched = from_fetched({"Patient": FhirNotFound("HTTP 404", status=404), "Condition": []})
    assert fetched.patient_missing and "Patient" not in fetched.unavailable
    assert isinstance(fetched.errors["Patient"], FhirNotFound)


def test_a_patient_read_that_failed_otherwise_is_unavailable() -> None:
    fetched = from_fetched({"Patient": FhirTimeout("deadline of 1 s exceeded")})
    assert not fetched.patient_missing and fetched.unavailable == {"Patient"}


def test_fetch_record_reads_the_patient_and_searches_the_rest_over_http(stub_server: StubServer) -> None:
    stub_server.json("/fhir", searchset())
    stub_server.json("/fhir/Patient/p1", PATIENT)
    stub_server.json("/fhir/Condition", searchset(CONDITION))
    stub_server.json("/fhir/Device", {"resourceType": "OperationOutcome", "issue": []}, status=500)
    fetched = fetch_record(FhirClient(stub_server.url + "/fhir", deadline=3.0, retries=0), "p1")
    assert PATIENT in fetched.resources and CONDITION in fetched.resources
    assert fetched.unavailable == {"Device"} and not fetched.patient_missing
    asked = {r.path.split("?")[0] for r in stub_server.records}
    assert asked == {"/fhir/Patient/p1"} | {f"/fhir/{t}" for t in RECORD_TYPES if t != "Patient"}


def test_fetch_record_sends_the_bearer_token(stub_server: StubServer) -> None:
    seen: list[str | None] = []

    def answer(req: StubRequest) -> None:
        seen.append(req.headers.get("Authorization"))
        req.send_json(404, {"resourceType": "OperationOutcome", "issue": []})

    stub_server.route("/fhir", answer)
    fetched = fetch_record(FhirClient(stub_server.url + "/fhir", bearer_token="t0k"), "p1", ["Patient"])
    assert fetched.patient_missing and seen == ["Bearer t0k"]
