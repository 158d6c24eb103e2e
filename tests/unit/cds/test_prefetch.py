"""The prefetch decision table (app/cds/prefetch.py) row by row, and how the record is assembled from it."""

from __future__ import annotations

from typing import Any

import pytest

from app.cds.prefetch import (
    PREFETCH_TEMPLATES,
    REQUIRED_TYPES,
    RecordCache,
    build_record,
    discovery_prefetch,
    read_prefetch,
)
from app.clinical.assessment import RECORD_TYPES
from app.errors import DataRequired
from app.fhir.record import FetchedRecord

PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"}
CONDITION = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}
ERROR_OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}


def searchset(*resources: dict[str, Any], next_link: bool = False) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }
    if next_link:
        bundle["link"] = [{"relation": "next", "url": "Condition?page=2"}]
    return bundle


def full_prefetch(**overrides: Any) -> dict[str, Any]:
    """Every declared key answered ("null": the client looked and found nothing), then ``overrides``."""
    prefetch: dict[str, Any] = {key: None for key in PREFETCH_TEMPLATES}
    prefetch.update(patient=PATIENT, conditions=searchset(CONDITION))
    prefetch.update(overrides)
    return prefetch


# -- the templates ------------------------------------------------------------------------------------


def test_one_template_per_record_type_with_cds_hooks_2_tokens_only() -> None:
    assert [rtype for rtype, _ in PREFETCH_TEMPLATES.values()] == list(RECORD_TYPES)
    assert discovery_prefetch()["patient"] == "Patient/{{context.patientId}}"
    assert discovery_prefetch()["medicationStatements"] == "MedicationStatement?patient={{context.patientId}}"
    assert all("{{context.patientId}}" in t for t in discovery_prefetch().values())


# -- the decision table, one row per test -------------------------------------------------------------


def test_a_resource_of_the_declared_type_is_used() -> None:
    out = read_prefetch(full_prefetch())
    assert PATIENT in out.resources and "Patient" in out.obtained and out.to_fetch == []


def test_a_complete_bundle_is_used() -> None:
    out = read_prefetch(full_prefetch())
    assert CONDITION in out.resources and "Condition" in out.obtained and out.issues == []


def test_null_means_the_client_looked_and_there_is_none() -> None:
    out = read_prefetch(full_prefetch(devices=None))
    assert "Device" in out.obtained and "Device" not in out.to_fetch
    assert not any(r["resourceType"] == "Device" for r in out.resources)


def test_an_absent_key_is_fetched_without_an_issue() -> None:
    prefetch = full_prefetch()
    del prefetch["procedures"]
    out = read_prefetch(prefetch)
    assert out.to_fetch == ["Procedure"] and out.issues == []


def test_no_prefetch_at_all_fetches_every_type() -> None:
    assert read_prefetch(None).to_fetch == list(RECORD_TYPES)


def test_an_error_operation_outcome_is_fetched_with_an_issue() -> None:
    out = read_prefetch(full_prefetch(conditions=ERROR_OUTCOME))
    assert out.to_fetch == ["Condition"]
    assert "the client reported an error" in out.issues[0]


def test_a_bundle_with_an_error_outcome_entry_is_fetched() -> None:
    out = read_prefetch(full_prefetch(conditions=searchset(CONDITION, ERROR_OUTCOME)))
    assert out.to_fetch == ["Condition"] and CONDITION not in out.resources
    assert "an error OperationOutcome" in out.issues[0]


def test_a_bundle_with_a_next_link_is_incomplete_and_fetched() -> None:
    out = read_prefetch(full_prefetch(conditions=searchset(CONDITION, next_link=True)))
    assert out.to_fetch == ["Condition"]
    assert "more pages" in out.issues[0]


def test_a_value_that_is_not_a_resource_is_fetched() -> None:
    out = read_prefetch(full_prefetch(devices=["not", "a", "resource"]))
    assert out.to_fetch == ["Device"] and "not a FHIR resource" in out.issues[0]


def test_a_resource_of_another_type_is_fetched() -> None:
    out = read_prefetch(full_prefetch(patient=CONDITION))
    assert out.to_fetch == ["Patient"] and "expected Patient or a Bundle" in out.issues[0]


def test_keys_we_did_not_declare_are_ignored() -> None:
    out = read_prefetch(full_prefetch(encounters=searchset({"resourceType": "Encounter", "id": "e1"})))
    assert out.to_fetch == [] and all(r["resourceType"] != "Encounter" for r in out.resources)


# -- the record built from it -------------------------------------------------------------------------


def test_a_complete_prefetch_is_cached_by_patient_and_content() -> None:
    cache = RecordCache(4)
    record, info = build_record("p1", full_prefetch(), fetch=None, cache=cache)
    assert info["source"] == "prefetch" and record.patient == PATIENT
    again, info = build_record("p1", full_prefetch(), fetch=None, cache=cache)
    assert info["source"] == "cache" and again is record
    _, info = build_record("p2", full_prefetch(), fetch=None, cache=cache)
    assert info["source"] == "prefetch"  # another patient: another key


def test_a_required_type_that_cannot_be_obtained_is_412() -> None:
    prefetch = full_prefetch()
    del prefetch["conditions"]
    with pytest.raises(DataRequired) as raised:
        build_record("p1", prefetch, fetch=None)
    assert raised.value.status == 412 and raised.value.expression == ["prefetch.conditions"]
    assert "Condition" in raised.value.message and "no fhirServer" in raised.value.message
    assert {"Patient", "Condition"} == REQUIRED_TYPES


def test_an_optional_type_that_cannot_be_obtained_is_unavailable() -> None:
    prefetch = full_prefetch()
    del prefetch["devices"]
    record, info = build_record("p1", prefetch, fetch=None)
    assert record.unavailable == {"Device"} and info["unavailable"] == ["Device"]
    assert any("no fhirServer" in issue for issue in record.issues)


def test_missing_types_are_fetched_and_merged_with_the_prefetch() -> None:
    asked: list[tuple[str, list[str]]] = []
    device_error = "Device could not be fetched: HTTP 500"

    def fetch(patient_id: str, types: list[str]) -> FetchedRecord:
        asked.append((patient_id, types))
        return FetchedRecord(
            resources=[{"resourceType": "Procedure", "id": "pr1"}],
            unavailable=frozenset({"Device"}),
            issues=(device_error,),
        )

    prefetch = full_prefetch()
    del prefetch["procedures"], prefetch["devices"]
    record, info = build_record("p1", prefetch, fetch=fetch)
    assert asked == [("p1", ["Procedure", "Device"])]
    assert info["source"] == "fetched" and info["key"] is None  # fetched data is never cached
    assert record.patient == PATIENT and [r["id"] for r in record.resources["Procedure"]] == ["pr1"]
    assert record.unavailable == {"Device"} and device_error in record.issues


def test_a_required_type_the_server_could_not_give_is_412() -> None:
    def fetch(patient_id: str, types: list[str]) -> FetchedRecord:
        return FetchedRecord(unavailable=frozenset(types), issues=tuple(f"{t} failed" for t in types))

    with pytest.raises(DataRequired) as raised:
        build_record("p1", None, fetch=fetch)
    assert raised.value.expression == ["prefetch.patient", "prefetch.conditions"]
    assert "(the request has no fhirServer)" not in raised.value.message
