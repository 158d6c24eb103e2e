"""The typed result (app/clinical/result.py): frozen, and rendered to exactly the §7 JSON shape."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from conftest import CPT, condition, med, order, patient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.clinical.assessment import assess_order, record_from_resources
from app.clinical.result import (
    CardLink,
    MissingFact,
    Option,
    Result,
    SafetyEntry,
    StatedAssumption,
    format_text,
)
from app.clinical.vocabulary import Category, Indicator, Status
from app.criteria.model import CATEGORIES, Criteria
from app.web.openapi import build_openapi
from tests.results import contraindicated, insufficient, no_criteria, rated

#: The §7 keys in the order every renderer and the API have always produced them.
KEYS = [
    "consultationId",
    "serviceRequest",
    "subject",
    "status",
    "evaluationDate",
    "procedure",
    "procedureIdentifiedBy",
    "topic",
    "variant",
    "matchedVariants",
    "category",
    "score",
    "scoreBasis",
    "rrl",
    "pamaRating",
    "modifiers",
    "reasons",
    "missing",
    "alternatives",
    "explanation",
    "unknownsThatDidNotMatter",
    "factsConsidered",
    "dataIssues",
    "criteriaVersion",
    "source",
    "safety",
    "assumptions",
]
DOC_URI = "urn:spine-auc:openapi"


def result_schema() -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        DOC_URI, Resource.from_contents(build_openapi(), default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": DOC_URI + "#/components/schemas/Result"}, registry=registry)


def round_trip(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(result.to_json()))
    return data


@pytest.mark.parametrize("make", [rated, contraindicated, insufficient, no_criteria])
def test_json_has_the_contract_keys_in_order_and_survives_serialisation(make: Any) -> None:
    result = make()
    data = round_trip(result)
    assert list(data) == [*KEYS, "latencyMs"]
    assert data == result.to_json()  # enums are their strings, tuples become lists
    assert not list(result_schema().iter_errors(data))


def test_rated_json_field_by_field() -> None:
    data = round_trip(contraindicated())
    assert '"status": "rated"' in json.dumps(
        contraindicated().to_json()
    )  # a StrEnum is written as its string
    assert data["evaluationDate"] == "2026-11-01"
    assert data["procedure"] == {
        "id": "mri-lumbar-wo",
        "display": "MRI lumbar spine without IV contrast",
        "codes": [{"system": CPT, "code": "72148", "display": "MRI lumbar"}],
    }
    assert data["topic"] == {"id": "acr-low-back-pain", "title": "Low Back Pain", "version": "2021"}
    assert data["variant"] == {"number": 3, "text": "Subacute or chronic low back pain"}
    assert (data["category"], data["score"], data["scoreBasis"]) == (
        "usually-not-appropriate",
        2,
        "category-midpoint",
    )
    assert data["modifiers"][0] == {
        "id": "M1",
        "title": "MR-unsafe implant",
        "effect": "contraindicated",
        "indicator": "critical",
        "text": contraindicated().modifiers[0].text,
        "evidence": ["Device/pacemaker"],
        "source": "clinical-rules.md §5 M1",
        "sourceText": "…",
    }
    assert data["alternatives"][0]["recommendedBy"] == "M1" and data["alternatives"][0]["variant"] is None
    assert list(data["alternatives"][0]) == [
        "procedure",
        "category",
        "score",
        "scoreBasis",
        "rrl",
        "pamaRating",
        "variant",
        "recommendedBy",
    ]
    assert data["reasons"] == [
        {"fact": "management_weeks", "value": 7.1, "text": "n=1", "evidence": ["MedicationStatement/ms1"]}
    ]


def test_missing_facts_and_options_render_as_objects() -> None:
    data = round_trip(insufficient())
    assert data["missing"][0]["fact"] == "duration"
    assert data["missing"][0]["options"][1] == {
        "value": "chronic",
        "outcome": "Low Back Pain V3: usually appropriate",
    }
    assert (data["category"], data["score"], data["pamaRating"]) == (None, None, None)


def test_latency_and_card_appear_only_once_set() -> None:
    bare = dataclasses.replace(rated(), latency_ms=None)
    assert list(bare.to_json()) == KEYS
    linked = rated().with_card(CardLink("card-1", ("s-1",)))
    assert linked.to_json()["cdsCard"] == {"uuid": "card-1", "suggestions": ["s-1"]}
    assert list(linked.to_json())[-2:] == ["latencyMs", "cdsCard"]


def test_result_is_frozen_and_copies_change_only_what_they_say() -> None:
    result = rated()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = Status.NO_CRITERIA  # type: ignore[misc]
    fresh = result.with_consultation_id("urn:uuid:00000000-0000-0000-0000-000000000001")
    assert fresh.consultation_id != result.consultation_id
    assert dataclasses.replace(fresh, consultation_id=result.consultation_id) == result


def test_an_engine_result_has_the_same_shape(criteria: Criteria) -> None:
    record = record_from_resources(
        [patient(), condition("c", "M54.50", onset="2026-05-01"), med("m", "7258", start="2026-09-01")]
    )
    result = assess_order(order((CPT, "72148")), record, criteria)
    assert isinstance(result, Result) and result.category is Category.USUALLY_APPROPRIATE
    data = round_trip(result)
    assert list(data) == [*KEYS, "latencyMs"]
    assert not list(result_schema().iter_errors(data))


def test_categories_are_the_criteria_categories() -> None:
    assert tuple(Category) == CATEGORIES


def test_text_summary_reads_the_typed_result() -> None:
    text = format_text([contraindicated(), insufficient()])
    assert (
        "ServiceRequest/sr1: MRI lumbar spine without IV contrast — rated, usually-not-appropriate (score 2)"
        in text
    )
    assert "  → CT myelography lumbar spine: usually-appropriate (RRL ☢☢☢)" in text
    assert (
        "  ? How long the low back pain has lasted\n      acute → Low Back Pain V1: usually not appropriate"
        in text
    )


def test_text_summary_shows_safety_entries_questions_and_assumptions() -> None:
    result = dataclasses.replace(
        insufficient(),
        safety=(
            SafetyEntry(
                "mr-safety",
                "unsafe",
                Indicator.CRITICAL,
                "contraindicated: MR-unsafe implant (x)",
                ("Device/d",),
            ),
        ),
        assumptions=(
            StatedAssumption(
                "intervention_candidate", True, "assumes a candidate", "assume_intervention_candidate"
            ),
        ),
        missing=(
            MissingFact("duration", "Duration", (Option("acute", "V1"),), "How long has the pain lasted?"),
        ),
    )
    text = format_text([result])
    assert "  ! safety (mr-safety, critical): contraindicated: MR-unsafe implant (x) [Device/d]" in text
    assert "  * assumption (assume_intervention_candidate): assumes a candidate" in text
    assert "  ? How long has the pain lasted?\n      acute → V1" in text
