"""A topic's own row coverage (clinical-rules.md v2 §3, children): in Back Pain—Child a "complete spine" MRI
row also rates an MRI of one spine region of the same contrast, and the result says "rated by the
complete-spine row"; adult topics keep settings ``regionCoverage``. Real criteria, real fixture records
(fhir_fixtures/patients), the public entry point ``assess_orders``; ``rating_row`` for the edges."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.clinical.alternatives import alternatives
from app.clinical.assessment import assess_orders, record_from_resources
from app.clinical.engine import Outcome, Rated, Reading, rating_row, row_for
from app.clinical.result import Result
from app.clinical.vocabulary import Category, Status
from app.criteria.loader import load_criteria
from app.criteria.model import Criteria
from app.fhir.input import checked_orders

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fhir_fixtures"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
CHILD, LBP = "acr-back-pain-child", "acr-low-back-pain"
PHRASE = "rated by the complete-spine row"


@pytest.fixture(scope="module")
def criteria() -> Criteria:
    return load_criteria(ROOT / "criteria")


def _one(criteria: Criteria, patient: str, order: str) -> Result:
    bundle = json.loads((FIXTURES / "patients" / f"{patient}.json").read_text(encoding="utf-8"))
    service_request = json.loads((FIXTURES / "orders" / f"{order}.json").read_text(encoding="utf-8"))
    service_request["subject"] = {"reference": f"Patient/pt-{patient}"}
    record = record_from_resources([e["resource"] for e in bundle["entry"]])
    (result,) = assess_orders(checked_orders([service_request]), record, criteria, now=NOW)
    return result


def test_a_childs_lumbar_mri_is_rated_by_the_complete_spine_row_and_says_so(criteria: Criteria) -> None:
    # child-discitis: suspected infection -> V6, whose "MRI complete spine without and with" row is UA (§6)
    result = _one(criteria, "child-discitis", "mri-lumbar-wo-w-72158")
    assert result.status is Status.RATED
    assert result.topic is not None and result.topic.id == CHILD
    assert result.variant is not None and result.variant.number == 6
    assert result.category is Category.USUALLY_APPROPRIATE
    assert PHRASE in result.explanation.lower()
    assert "MRI complete spine without and with IV contrast" in result.explanation


def test_a_better_complete_spine_row_is_offered_as_the_alternative(criteria: Criteria) -> None:
    # V6: "MRI complete spine without IV contrast" is MBA-D and rates the lumbar MRI w/o; the complete spine
    # without and with (UA) is better
    result = _one(criteria, "child-discitis", "mri-lumbar-wo-72148")
    assert result.category is Category.MAY_BE_APPROPRIATE_DISAGREEMENT
    assert PHRASE in result.explanation.lower()
    offered = {a.procedure.id for a in result.alternatives}
    assert "mri-complete-wo-w" in offered and "mri-complete-wo" not in offered


def test_the_row_that_rated_the_study_is_never_its_alternative(criteria: Criteria) -> None:
    # a category lowered after the row was chosen (as a category override would) must not make the very row
    # that rated the study look like a better study
    child = criteria.topics[CHILD]
    row = next(r for r in child.variant(6).rows if r.procedure == "mri-complete-wo")
    _, cover = rating_row(criteria, (row,), criteria.procedures["mri-lumbar-wo"], child)
    una = Category.USUALLY_NOT_APPROPRIATE
    rated = Rated(6, row, una, (), cover)
    outcome = Outcome(
        Status.RATED, CHILD, "mri-lumbar-wo", category=una, best=rated, matched=(6,), ratings=(rated,)
    )
    offered = alternatives(
        criteria, (Reading({}, outcome),), criteria.procedures["mri-lumbar-wo"], outcome, True
    )
    ids = {a.procedure.id for a in offered}
    assert "mri-complete-wo" not in ids
    assert "mri-complete-wo-w" in ids


def test_a_childs_thoracic_mri_is_rated_by_the_complete_spine_row_under_each_reading(
    criteria: Criteria,
) -> None:
    # tbp-child: constant/night pain unknown -> V1 (complete spine w/o: UNA) or V2 (MBA-D): not rated, asked
    result = _one(criteria, "tbp-child", "mri-thoracic-wo-72146")
    assert result.status is Status.INSUFFICIENT_DATA
    outcomes = {o.outcome for m in result.missing for o in m.options}
    assert outcomes == {
        "Back Pain—Child V1: usually not appropriate",
        "Back Pain—Child V2: may be appropriate (disagreement)",
    }


def test_an_adult_lumbar_mri_keeps_its_own_row_and_no_complete_spine_wording(criteria: Criteria) -> None:
    result = _one(criteria, "lbp-osteomyelitis", "mri-lumbar-wo-w-72158")
    assert result.status is Status.RATED
    assert result.topic is not None and result.topic.id == LBP
    assert "complete-spine" not in result.explanation.lower()


def test_the_widening_holds_only_under_the_topic_that_declares_it(criteria: Criteria) -> None:
    rows = criteria.topics[CHILD].variant(6).rows
    lumbar = criteria.procedures["mri-lumbar-wo-w"]
    row, cover = rating_row(criteria, rows, lumbar, criteria.topics[CHILD])
    assert row is not None and row.procedure == "mri-complete-wo-w"
    assert cover is not None and cover.text == PHRASE
    assert row_for(criteria, rows, lumbar) is None  # settings regionCoverage alone: complete spine is itself
    assert row_for(criteria, rows, lumbar, criteria.topics[LBP]) is None


@pytest.mark.parametrize(
    ("procedure", "why"),
    [
        ("ct-lumbar-wo", "another modality"),
        ("mri-spine-wo", "region not stated: not one spine region"),
    ],
)
def test_the_complete_spine_row_does_not_cover(criteria: Criteria, procedure: str, why: str) -> None:
    rows = tuple(r for r in criteria.topics[CHILD].variant(3).rows if r.procedure.startswith("mri-complete"))
    assert rating_row(criteria, rows, criteria.procedures[procedure], criteria.topics[CHILD]) == (
        None,
        None,
    ), why


def test_an_exact_row_still_wins_over_the_widening(criteria: Criteria) -> None:
    rows = criteria.topics[CHILD].variant(6).rows
    row, cover = rating_row(criteria, rows, criteria.procedures["mri-complete-wo"], criteria.topics[CHILD])
    assert row is not None and row.procedure == "mri-complete-wo" and cover is None
