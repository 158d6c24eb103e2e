"""Routing v2 (clinical-rules.md §3 step 5, §4.2): region concordance, combined thoracic + lumbar studies, the
region-mismatch warning with the concordant study's own rating, and the MBA‡ provenance. Real criteria, real
fixture records (fhir_fixtures/patients/tbp-*.json), the public entry point ``assess_orders``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.clinical.assessment import assess_orders, record_from_resources
from app.clinical.result import Result
from app.criteria.loader import load_criteria
from app.criteria.model import Criteria
from app.fhir.input import checked_orders

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fhir_fixtures"
CPT = "http://www.ama-assn.org/go/cpt"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TBP, LBP = "acr-thoracic-back-pain", "acr-low-back-pain"


@pytest.fixture(scope="module")
def criteria() -> Criteria:
    return load_criteria(ROOT / "criteria")


def _order(patient: str, *codes: str, reason: str | None = None) -> dict[str, Any]:
    order: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": "order-1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/pt-{patient}"},
        "authoredOn": "2026-11-01",
        "code": {"coding": [{"system": CPT, "code": c} for c in codes]},
    }
    if reason:
        order["reasonCode"] = [{"coding": [{"system": ICD, "code": reason}]}]
    return order


def _assess(criteria: Criteria, patient: str, *codes: str, reason: str | None = None) -> list[Result]:
    bundle = json.loads((FIXTURES / "patients" / f"{patient}.json").read_text(encoding="utf-8"))
    record = record_from_resources([e["resource"] for e in bundle["entry"]])
    orders = checked_orders([_order(patient, *codes, reason=reason)])
    return assess_orders(orders, record, criteria, now=NOW)


def _one(criteria: Criteria, patient: str, *codes: str, reason: str | None = None) -> Result:
    (result,) = _assess(criteria, patient, *codes, reason=reason)
    return result


@pytest.mark.parametrize(
    ("patient", "code", "topic"),
    [
        ("tbp-radic-acute", "72146", TBP),  # thoracic indication, thoracic study
        ("tbp-lumbar-radic", "72148", LBP),  # lumbar indication, lumbar study
        ("tbp-unspecified", "72146", TBP),  # unspecified: the study's region decides
        ("tbp-unspecified", "72148", LBP),
        ("tbp-tl-radic", "72146", TBP),  # thoracolumbar: the study's region decides
        ("tbp-tl-radic", "72148", LBP),
    ],
)
def test_concordant_studies_go_to_their_regions_topic(
    criteria: Criteria, patient: str, code: str, topic: str
) -> None:
    result = _one(criteria, patient, code)
    assert result.topic is not None and result.topic.id == topic
    assert all(s.check != "region" for s in result.safety)


@pytest.mark.parametrize(
    ("patient", "code", "concordant", "region_word"),
    [
        ("tbp-radic-acute", "72148", "mri-thoracic-wo", "thoracic"),
        ("tbp-radic-acute", "72131", "ct-thoracic-wo", "thoracic"),
        ("tbp-acute", "72100", "xr-thoracic", "thoracic"),
        ("tbp-lumbar-radic", "72146", "mri-lumbar-wo", "lumbar"),
    ],
)
def test_region_mismatch_names_the_concordant_study_with_its_own_rating(
    criteria: Criteria, patient: str, code: str, concordant: str, region_word: str
) -> None:
    result = _one(criteria, patient, code)
    assert result.status == "no-criteria" and result.category is None
    (entry,) = [s for s in result.safety if s.check == "region"]
    assert (entry.status, entry.indicator) == ("mismatch", "warning")
    assert entry.concordant is not None and entry.concordant.procedure.id == concordant
    assert f"the symptoms are {region_word}" in entry.text
    # the concordant study's rating is the one it gets when ordered itself
    concordant_code = {
        "mri-thoracic-wo": "72146",
        "ct-thoracic-wo": "72128",
        "xr-thoracic": "72070",
        "mri-lumbar-wo": "72148",
    }[concordant]
    own = _one(criteria, patient, concordant_code)
    assert own.status == "rated"
    assert entry.concordant.category == own.category
    assert entry.concordant.variant is not None and own.variant is not None
    assert entry.concordant.variant.number == own.variant.number
    assert own.topic is not None and entry.concordant.topic.id == own.topic.id
    assert str(own.category).replace("-", " ") in entry.text.replace("-", " ")


def test_the_orders_reason_wins_over_the_problem_list(criteria: Criteria) -> None:
    # problem list: lumbar radiculopathy; the order's reason: thoracic radiculopathy
    result = _one(criteria, "tbp-lumbar-radic", "72146", reason="M54.14")
    assert result.topic is not None and result.topic.id == TBP
    assert result.variant is not None and result.variant.number == 3
    assert all(s.check != "region" for s in result.safety)


@pytest.mark.parametrize(
    ("patient", "category", "under"),
    [
        ("tbp-unspecified", "usually-not-appropriate", {(TBP, 1), (LBP, 1)}),
        ("tbp-osteoporosis", "usually-appropriate", {(TBP, 4), (LBP, 6)}),
        ("tbp-chronic-failed", "may-be-appropriate-disagreement", {(TBP, 2), (LBP, 3)}),
    ],
)
def test_a_combined_study_is_rated_under_both_topics_the_lower_category(
    criteria: Criteria, patient: str, category: str, under: set[tuple[str, int]]
) -> None:
    result = _one(criteria, patient, "72080")  # thoracolumbar junction radiograph
    assert result.procedure is not None and result.procedure.id == "xr-tl"
    assert (result.status, result.category) == ("rated", category)
    assert {(u.topic.id, u.variant.number if u.variant else None) for u in result.rated_under} == under
    ranks = [criteria.category_rank(str(u.category)) for u in result.rated_under]
    assert criteria.category_rank(category) == min(ranks)
    assert "rated under each topic" in result.explanation


def test_two_regions_on_one_order_are_two_results_of_that_order(criteria: Criteria) -> None:
    results = _assess(criteria, "tbp-metastasis", "72146", "72148")
    assert [r.procedure.id for r in results if r.procedure] == ["mri-thoracic-wo", "mri-lumbar-wo"]
    assert {r.service_request for r in results} == {"ServiceRequest/order-1"}
    assert all("This order carries 2 studies" in r.explanation for r in results)
    thoracic, lumbar = results
    assert (thoracic.status, thoracic.category) == ("rated", "usually-appropriate")
    assert lumbar.status == "no-criteria"
    assert [s.concordant.procedure.id for s in lumbar.safety if s.concordant] == ["mri-thoracic-wo"]


def test_a_category_from_a_lossy_copy_says_so(criteria: Criteria) -> None:
    result = _one(criteria, "tbp-radic-failed", "62303", "72129")  # CT myelography thoracic, TBP V3 MBA‡
    assert result.category == "may-be-appropriate"
    assert result.source.provenance == "secondary-uncertain"
    assert "lossy copy of the ACR table" in result.explanation
    primary = _one(criteria, "tbp-radic-failed", "72146")  # MRI thoracic w/o, TBP V3 UA [P]
    assert primary.source.provenance == "P"
    assert "lossy copy" not in primary.explanation


def test_a_cervical_study_for_lumbar_symptoms_is_a_mismatch_not_a_contrast_question(
    criteria: Criteria,
) -> None:
    result = _one(criteria, "tbp-lumbar-radic", "72141")
    assert result.status == "no-criteria" and not result.missing
    assert [s.concordant.procedure.id for s in result.safety if s.concordant] == ["mri-lumbar-wo"]
