"""GuidanceResponses rendered from typed results (app/fhir/guidance.py), each validated as R4 (R4B models)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from app.clinical.result import MissingFact, Option, SafetyEntry, StatedAssumption
from app.clinical.vocabulary import Indicator, Status
from app.fhir.guidance import MISSING_FACT_EXT, guidance_bundle, to_guidance_response
from app.fhir.models import validate_guidance_response
from tests.results import contraindicated, insufficient, no_criteria, rated

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def respond(result: Any, index: int = 1) -> dict[str, Any]:
    response = to_guidance_response(result, index=index, request_id="req-1", subject=result.subject, now=NOW)
    validate_guidance_response(response)  # raises InvalidInput when not a valid R4 GuidanceResponse
    return response


def params(response: dict[str, Any]) -> list[dict[str, Any]]:
    parameters = next(r for r in response["contained"] if r["resourceType"] == "Parameters")
    assert response["outputParameters"] == {"reference": f"#{parameters['id']}"}
    found: list[dict[str, Any]] = parameters["parameter"]
    return found


def named(response: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in params(response) if p["name"] == name]


def test_rated_result_is_a_success_with_its_rating_as_parameters() -> None:
    result = contraindicated()
    response = respond(result)
    assert response["status"] == "success"
    assert response["id"] == result.consultation_id.removeprefix("urn:uuid:")
    assert response["identifier"] == [{"system": "urn:ietf:rfc:3986", "value": result.consultation_id}]
    assert response["moduleUri"] == "https://spine-auc.org/criteria/2026.11-test/acr-low-back-pain"
    assert response["subject"] == {"reference": "Patient/p1"}
    assert response["occurrenceDateTime"] == "2026-11-01T12:00:00+00:00"
    assert named(response, "status")[0]["valueCode"] == "rated"
    assert named(response, "category")[0]["valueCoding"]["code"] == "usually-not-appropriate"
    assert named(response, "score")[0]["valueDecimal"] == 2
    assert named(response, "variant")[0]["part"][0] == {"name": "number", "valueInteger": 3}
    modifier = {p["name"]: p["valueString"] for p in named(response, "modifier")[0]["part"]}
    assert modifier["id"] == "M1" and modifier["indicator"] == "critical"
    alternative = named(response, "alternative")[0]["part"]
    assert {"name": "id", "valueString": "ctm-lumbar"} in alternative


def test_evidence_of_reasons_and_modifiers_becomes_reason_references() -> None:
    response = respond(contraindicated())
    assert response["reasonReference"] == [
        {"reference": "MedicationStatement/ms1"},
        {"reference": "Device/pacemaker"},
    ]
    reason = named(response, "reason")[0]["part"]
    assert reason[0] == {"name": "fact", "valueString": "management_weeks"}
    assert {"name": "evidence", "valueReference": {"reference": "MedicationStatement/ms1"}} in reason


def test_notes_are_the_explanation_then_the_modifiers_texts() -> None:
    result = contraindicated()
    notes = [n["text"] for n in respond(result)["note"]]
    assert notes == [result.explanation, result.modifiers[0].text]


def test_insufficient_data_is_data_required_with_one_requirement_per_missing_fact() -> None:
    response = respond(insufficient())
    assert response["status"] == "data-required"
    assert response["dataRequirement"] == [
        {
            "extension": [{"url": MISSING_FACT_EXT, "valueString": "duration"}],
            "type": "Condition",
            "mustSupport": ["onset[x]", "recordedDate"],
        }
    ]
    assert not named(response, "category") and not named(response, "score")


def test_no_criteria_and_not_applicable_are_successes_without_a_topic() -> None:
    for result in (no_criteria(), no_criteria(status=Status.NOT_APPLICABLE, pama_rating=None)):
        response = respond(result)
        assert response["status"] == "success"
        assert response["moduleUri"] == "https://spine-auc.org/criteria/2026.11-test"
        assert not named(response, "topic") and not named(response, "procedure")


def test_data_issues_become_a_contained_operation_outcome() -> None:
    response = respond(rated(data_issues=("Condition/bad: code is not a CodeableConcept; skipped",)), index=2)
    outcome = next(r for r in response["contained"] if r["resourceType"] == "OperationOutcome")
    assert outcome["id"] == "issues-2" and response["evaluationMessage"] == [{"reference": "#issues-2"}]
    assert outcome["issue"][0]["diagnostics"] == "Condition/bad: code is not a CodeableConcept; skipped"
    assert "evaluationMessage" not in respond(rated())


def test_bundle_entries_are_addressed_by_consultation_id() -> None:
    first, second = rated(), insufficient()
    bundle = guidance_bundle([respond(first, 1), respond(second, 2)], now=NOW)
    assert bundle["type"] == "collection"
    assert [e["fullUrl"] for e in bundle["entry"]] == [first.consultation_id, second.consultation_id]


def test_safety_entries_assumptions_and_questions_are_parameters_and_notes() -> None:
    entry = SafetyEntry(
        "mr-safety",
        "unsafe",
        Indicator.CRITICAL,
        "contraindicated: MR-unsafe implant (pacemaker)",
        ("Device/p",),
    )
    assumption = StatedAssumption(
        "intervention_candidate", True, "assumes a candidate", "assume_intervention_candidate"
    )
    missing = MissingFact("duration", "Duration", (Option("acute", "V1"),), "How long has the pain lasted?")
    response = respond(
        replace(insufficient(), safety=(entry,), assumptions=(assumption,), missing=(missing,))
    )
    validate_guidance_response(response)
    (safety,) = named(response, "safety")
    parts = {p["name"]: p for p in safety["part"]}
    assert parts["indicator"]["valueCode"] == "critical" and parts["check"]["valueCode"] == "mr-safety"
    assert parts["evidence"]["valueReference"] == {"reference": "Device/p"}
    assert named(response, "assumption") and named(response, "question")
    notes = [n["text"] for n in response["note"]]
    assert "critical: contraindicated: MR-unsafe implant (pacemaker)" in notes
    assert "How long has the pain lasted?" in notes and "assumes a candidate" in notes
    assert {"reference": "Device/p"} in response["reasonReference"]


def test_a_lone_surrogate_in_a_text_becomes_a_replacement_character() -> None:
    """A hostile code echoed in a data issue must not make the GuidanceResponse invalid (a 500 before)."""
    from app.fhir.guidance import _valid_text

    assert _valid_text({"note": [{"text": "code x\ud800y"}], "n": 1}) == {
        "note": [{"text": "code x\ufffdy"}],
        "n": 1,
    }
    assert _valid_text(["plain"]) == ["plain"]
