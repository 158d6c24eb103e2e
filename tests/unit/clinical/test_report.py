"""Words (clinical-rules §6) and outputs (§4.3, §7): what a radiologist reads and what the clinician is asked."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from conftest import CPT, condition, med, order, patient

from app.clinical.assessment import assess_order, record_from_resources
from app.clinical.facts import PatientFacts, UnknownGroup
from app.clinical.outputs import merge_labels, merged_missing, question_for
from app.clinical.result import MissingFact, Option, Result
from app.criteria.model import Criteria
from app.fhir.input import checked_orders

CHRONIC_LBP = condition("c-lbp", "M54.50", onset="2026-05-01")
ACUTE_LBP = condition("c-lbp", "M54.50", onset="2026-10-20")
NAPROXEN_8W = med("ms-nap", "7258", start="2026-09-01")


def assessed(codes: tuple[tuple[str, str], ...], criteria: Criteria, *resources: dict[str, Any]) -> Result:
    return assess_order(
        checked_orders([order(*codes)])[0], record_from_resources([patient(), *resources]), criteria
    )


def test_categories_read_as_words_never_is_may_be(criteria: Criteria) -> None:
    ua = assessed(((CPT, "72148"),), criteria, CHRONIC_LBP, NAPROXEN_8W).explanation
    mba = assessed(((CPT, "72100"),), criteria, CHRONIC_LBP, NAPROXEN_8W).explanation
    assert "MRI lumbar spine without IV contrast is usually appropriate" in ua
    assert "may be appropriate" in mba and "is may be" not in mba
    for text in (ua, mba):
        assert "usually-appropriate" not in text and "may-be-appropriate" not in text


def test_a_midpoint_score_never_reads_as_a_panel_score(criteria: Criteria) -> None:
    r = assessed(((CPT, "72148"),), criteria, CHRONIC_LBP, NAPROXEN_8W)
    if r.score_basis == "category-midpoint":
        assert f"score {r.score}: no published panel rating; midpoint of the category band" in r.explanation
    else:
        assert f"panel rating {r.score}" in r.explanation


def test_v1_and_v2_not_appropriate_say_the_next_step_and_the_red_flags_found_absent(
    criteria: Criteria,
) -> None:
    v1 = assessed(((CPT, "72148"),), criteria, ACUTE_LBP)
    v2 = assessed(((CPT, "72100"),), criteria, CHRONIC_LBP)
    for r, variant in ((v1, 1), (v2, 2)):
        assert (
            r.variant is not None and r.variant.number == variant and r.category == "usually-not-appropriate"
        )
        assert (
            "reconsider if symptoms persist after 6 weeks of conservative care in a candidate for intervention, "
            "or at once if red flags appear: cauda equina symptoms, cancer, infection, fracture risk"
        ) in r.explanation
        checked = r.explanation.split("Red flags checked and not found: ")[1].lower()
        assert "cauda equina" in checked and "cancer" in checked and "osteoporosis" in checked
        assert "imaging is not indicated now" not in r.explanation


def test_the_next_step_follows_the_management_setting(criteria: Criteria) -> None:
    changed = replace(criteria, thresholds={**criteria.thresholds, "managementWeeksRequired": 8})
    assert "after 8 weeks of conservative care" in assessed(((CPT, "72148"),), changed, ACUTE_LBP).explanation


def test_an_implant_is_named_in_the_explanation(criteria: Criteria) -> None:
    pacemaker = {
        "resourceType": "Device",
        "id": "pm",
        "status": "active",
        "type": {"text": "Cardiac pacemaker"},
        "safety": [{"text": "MR Unsafe"}],
    }
    r = assessed(((CPT, "72131"),), criteria, CHRONIC_LBP, NAPROXEN_8W, pacemaker)
    assert "Safety: MR alternatives withheld: MR-unsafe implant (Cardiac pacemaker)." in r.explanation


def _facts(**groups: UnknownGroup) -> PatientFacts:
    pf = PatientFacts(evaluation_date=date(2026, 11, 1), age=45)
    pf.groups.update(groups)
    return pf


def test_options_with_the_same_outcome_are_merged_into_one_line() -> None:
    missing = MissingFact(
        "duration",
        "Back-pain duration",
        (
            Option("0–27 days", "Low Back Pain V1: usually not appropriate"),
            Option("28–83 days", "Low Back Pain V3: usually appropriate"),
            Option("84 days or more", "Low Back Pain V3: usually appropriate"),
        ),
    )
    (merged,) = merged_missing((missing,), _facts())
    assert [(o.value, o.outcome) for o in merged.options] == [
        ("0–27 days", "Low Back Pain V1: usually not appropriate"),
        ("28 days or more", "Low Back Pain V3: usually appropriate"),
    ]
    assert merge_labels(["yes", "no"]) == "yes or no"
    assert merge_labels(["0–5 weeks", "6–9 weeks"]) == "0–9 weeks"


def test_the_question_is_the_rules_own_else_built_from_the_text() -> None:
    asked = UnknownGroup(
        "infection",
        "Spinal infection suggested",
        (),
        "Fever and IV drug use are recorded: is spinal infection suspected?",
    )
    pf = _facts(infection=asked)
    assert question_for("infection", "Spinal infection suggested", pf) == asked.question
    assert question_for("duration", "Back-pain duration (no onset recorded)", pf) == (
        "Can you confirm: back-pain duration (no onset recorded)?"
    )


def test_insufficient_data_asks_a_question_for_every_missing_fact(criteria: Criteria) -> None:
    r = assessed(((CPT, "72148"),), criteria, condition("c-lbp", "M54.50"), NAPROXEN_8W)
    assert r.status == "insufficient-data" and r.missing
    assert all(m.question.endswith("?") for m in r.missing)
    for m in r.missing:
        outcomes = [o.outcome for o in m.options]
        assert len(outcomes) == len(set(outcomes))


def test_an_assumption_is_stated_only_when_its_fact_decided_the_outcome(criteria: Criteria) -> None:
    v3 = assessed(
        ((CPT, "72148"),), criteria, CHRONIC_LBP, NAPROXEN_8W
    )  # 8 weeks of care: V3 needs candidacy
    short = med("ms-nap", "7258", start="2026-10-11")
    v2 = assessed(((CPT, "72148"),), criteria, CHRONIC_LBP, short)  # 3 weeks: V2 whatever the candidacy
    assert v3.variant is not None and v3.variant.number == 3
    assert [a.fact for a in v3.assumptions] == ["intervention_candidate"]
    assert v2.variant is not None and v2.variant.number == 2 and v2.assumptions == ()


def test_an_open_red_flag_summary_is_not_reported_as_no(criteria: Criteria) -> None:
    fever = condition("c-fever", "R50.9", onset="2026-10-25")
    ivdu = condition("c-ivdu", "F11.20", onset="2026-01-01")
    r = assessed(((CPT, "72148"),), criteria, ACUTE_LBP, fever, ivdu)
    assert r.status == "insufficient-data"
    assert all(reason.fact != "lbp_red_flag" for reason in r.reasons)
    assert any(m.fact == "infection" and m.question.endswith("?") for m in r.missing)
