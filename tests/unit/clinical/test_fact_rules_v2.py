"""The clinical-rules v2 fact families (§1, §2.2–§2.6) on small hand-built records: care received, the episode,
suggested red flags, intervention candidacy, surgery/trauma/fragility codes, medication recognition."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from conftest import CPT, REPO, RXNORM, condition, med
from test_fact_rules import EVAL, facts, index, procedure

from app.clinical import fact_rules
from app.clinical.facts import Findings
from app.criteria.model import Criteria

ACTIVE = {"clinicalStatus": {"coding": [{"code": "active"}]}}
RESOLVED = {"clinicalStatus": {"coding": [{"code": "resolved"}]}}


def rule_of(fact: str) -> Any:
    return next(r for r in fact_rules.rules() if fact in r.produces)


def run(fact: str, criteria: Criteria, *resources: dict[str, Any], **kw: Any) -> Findings:
    return rule_of(fact).compute(index(criteria, *resources, **kw), criteria, EVAL)


def with_threshold(criteria: Criteria, name: str, value: float) -> Criteria:
    return dataclasses.replace(criteria, thresholds={**criteria.thresholds, name: value})


def statement(mid: str, text: str, *, when: str, status: str = "completed") -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": mid,
        "status": status,
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "7258"}], "text": text},
        "effectiveDateTime": when,
    }


# --- §2.3 conservative care received


def test_one_short_course_months_ago_is_its_own_weeks_not_time_since_the_first_record(criteria):
    found = facts(
        run(
            "managed_6_weeks",
            criteria,
            condition("c", "M54.50", onset="2026-03-01"),
            med(
                "m", "5640", start="2026-06-04", end="2026-06-18", status="completed", text="Ibuprofen 600 mg"
            ),
        )
    )
    assert found["managed_6_weeks"].value is False
    assert "ibuprofen 2 weeks" in found["managed_6_weeks"].text
    assert "since" not in found["managed_6_weeks"].text


def test_an_unknown_length_whose_bounds_disagree_is_asked_how_long(criteria):
    result = run(
        "managed_6_weeks",
        criteria,
        condition("c", "M54.50", onset="2026-05-05"),
        statement("n", "Naproxen 500 mg oral tablet", when="2026-09-02"),
    )
    assert facts(result)["managed_6_weeks"].value is None
    (group,) = result.groups
    assert group.name == "management_weeks"
    assert group.question.startswith("How long did the patient take naproxen?")


def test_an_unknown_length_whose_upper_bound_is_short_is_false_and_not_asked(criteria):
    result = run(
        "managed_6_weeks",
        criteria,
        condition("c", "M54.50", onset="2026-10-18"),
        statement("n", "Naproxen 500 mg oral tablet", when="2026-10-22"),
    )
    assert facts(result)["managed_6_weeks"].value is False and not result.groups


def test_physical_therapy_sessions_a_week_apart_are_one_programme_named_in_the_reason(criteria):
    sessions = [
        procedure(f"p{k}", CPT, "97110", f"2026-09-{d:02d}") for k, d in enumerate((6, 13, 20, 27))
    ] + [procedure(f"q{k}", CPT, "97110", f"2026-10-{d:02d}") for k, d in enumerate((4, 11, 18, 25))]
    found = facts(run("managed_6_weeks", criteria, condition("c", "M54.50", onset="2026-05-01"), *sessions))
    assert found["managed_6_weeks"].value is True
    assert "8 sessions over 7 weeks" in found["managed_6_weeks"].text


def test_tramadol_counts_as_conservative_care(criteria):
    found = facts(
        run(
            "managed_6_weeks",
            criteria,
            condition("c", "M54.50", onset="2026-01-05"),
            med("t", "10689", start="2026-08-30", text="Tramadol 50 mg oral tablet"),
        )
    )
    assert found["managed_6_weeks"].value is True and "tramadol" in found["managed_6_weeks"].text


# --- §1 medication recognition, data issues


def test_a_brand_name_is_matched_to_its_class_and_said_so(criteria):
    found = facts(
        run(
            "managed_6_weeks",
            criteria,
            condition("c", "M54.50", onset="2026-06-04"),
            med("m", None, start="2026-09-06", text="Motrin 800 mg tablet"),
        )
    )
    assert found["managed_6_weeks"].value is True
    assert "matched by name" in found["prior_management"].text


def test_an_unrecognised_medication_is_a_data_issue(criteria):
    idx = index(criteria, med("x", None, start="2026-09-02", text="Turmeric curcumin 500 mg capsule"))
    assert any("MedicationStatement/x" in i and "not recognised" in i for i in idx.issues)


def test_an_unrecognised_procedure_is_a_data_issue_but_a_spine_radiograph_is_not(criteria):
    idx = index(criteria, procedure("odd", CPT, "99999"), procedure("xr", CPT, "72100"))
    assert any("Procedure/odd" in i and "not recognised" in i for i in idx.issues)
    assert not any("Procedure/xr" in i for i in idx.issues)


def test_an_onset_after_the_evaluation_date_uses_the_recorded_date(criteria):
    lbp = condition("c", "M54.50", onset="2026-12-15", recordedDate="2026-07-24")
    idx = index(criteria, lbp)
    assert idx.episode.start.isoformat() == "2026-07-24"
    assert any("the recorded date 2026-07-24 is used" in i for i in idx.issues)


# --- §2.2 the episode


def test_the_episode_starts_at_the_symptom_not_at_an_old_structural_diagnosis(criteria):
    idx = index(
        criteria,
        condition("ddd", "M51.369", onset="2019-04-10"),
        condition("sci", "M54.32", onset="2026-10-27"),
    )
    assert idx.episode.start.isoformat() == "2026-10-27" and idx.episode.onset_ref == "Condition/sci"


def test_a_structural_diagnosis_starts_the_episode_when_no_symptom_is_counted(criteria):
    idx = index(criteria, condition("st", "M48.062", onset="2026-04-15"))
    assert idx.episode.onset_ref == "Condition/st"


# --- §2.5 red flags, coded and suggested


def test_fever_and_injection_drug_use_make_infection_unknown_with_a_question_naming_them(criteria):
    result = run(
        "infection",
        criteria,
        condition("lbp", "M54.50", onset="2026-10-22"),
        condition("f", "R50.9", onset="2026-10-29"),
        condition("o", "F11.20", onset="2026-10-29"),
    )
    assert facts(result)["infection"].value is None
    (group,) = result.groups
    assert group.question.endswith("are recorded: is spinal infection suspected?")
    assert facts(result)["infection"].evidence == ("Condition/f", "Condition/o")


def test_an_old_resolved_fever_suggests_nothing(criteria):
    found = facts(
        run(
            "infection",
            criteria,
            condition("lbp", "M54.50", onset="2026-10-23"),
            condition("f", "R50.9", onset="2025-02-03", **RESOLVED),
        )
    )
    assert found["infection"].value is False


def test_without_an_episode_a_suggesting_finding_counts_within_28_days(criteria):
    recent = run("cancer", criteria, condition("lbp", "M54.50"), condition("w", "R63.4", onset="2026-10-22"))
    old = run("cancer", criteria, condition("lbp", "M54.50"), condition("w", "R63.4", onset="2026-09-01"))
    assert facts(recent)["cancer"].value is None and "is cancer suspected?" in recent.groups[0].question
    assert facts(old)["cancer"].value is False


def test_cancer_in_remission_is_a_history_of_cancer(criteria):
    remission = {"clinicalStatus": {"coding": [{"code": "remission"}]}}
    found = facts(run("cancer", criteria, condition("m", "C90.01", onset="2021-09-01", **remission)))
    assert found["cancer"].value is True


def test_foot_drop_makes_progressive_deficit_asked_never_inferred(criteria):
    result = run(
        "progressive_deficit",
        criteria,
        condition("s", "M54.42", onset="2026-10-12"),
        condition("fd", "M21.372", onset="2026-10-28"),
    )
    assert facts(result)["progressive_deficit"].value is None
    assert "severe or rapidly progressing" in result.groups[0].question
    none = run("progressive_deficit", criteria, condition("s", "M54.42", onset="2026-10-12"))
    assert facts(none)["progressive_deficit"].value is False and not none.groups


def test_long_term_steroids_are_not_immunosuppression(criteria):
    found = facts(run("immunosuppression", criteria, condition("z", "Z79.52", onset="2024-05-01")))
    assert found["immunosuppression"].value is False


# --- §2.4 intervention candidacy


def test_candidacy_is_assumed_and_stated_by_default(criteria):
    result = run("intervention_candidate", criteria, condition("c", "M54.50", onset="2026-01-01"))
    assert facts(result)["intervention_candidate"].value is True
    (assumption,) = result.assumptions
    assert "assumes the patient is a candidate for surgery or intervention" in assumption.text
    assert "if not, the study is usually not appropriate" in assumption.text


def test_candidacy_is_asked_when_the_site_does_not_assume_it(criteria):
    strict = with_threshold(criteria, "assumeInterventionCandidate", 0)
    result = rule_of("intervention_candidate").compute(index(strict), strict, EVAL)
    assert facts(result)["intervention_candidate"].value is None and not result.assumptions
    assert result.groups[0].question.startswith("Is the patient a candidate")


def test_a_referral_to_neurosurgery_in_the_episode_makes_candidacy_true_without_assumption(criteria):
    referral = {
        "resourceType": "ServiceRequest",
        "id": "ref",
        "status": "active",
        "intent": "order",
        "authoredOn": "2026-10-01",
        "code": {"text": "Referral to neurosurgery"},
    }
    result = run("intervention_candidate", criteria, condition("c", "M54.50", onset="2026-06-01"), referral)
    assert facts(result)["intervention_candidate"].evidence == ("ServiceRequest/ref",)
    assert not result.assumptions


# --- §2.6 surgery, trauma, fragility


def test_a_lumbar_laminectomy_by_cpt_is_prior_lumbar_surgery(criteria):
    found = facts(run("prior_lumbar_surgery", criteria, procedure("l", CPT, "63047", "2025-06-10")))
    assert found["prior_lumbar_surgery"].value is True


def test_a_cervical_laminectomy_is_not_prior_lumbar_surgery(criteria):
    found = facts(run("prior_lumbar_surgery", criteria, procedure("c", CPT, "63045", "2025-06-10")))
    assert found["prior_lumbar_surgery"].value is False


def test_a_region_agnostic_spine_code_takes_its_region_from_body_site_else_is_asked(criteria):
    lumbar = procedure("i", CPT, "22840", "2025-06-10")
    lumbar["bodySite"] = [{"text": "Lumbar spine"}]
    assert facts(run("prior_lumbar_surgery", criteria, lumbar))["prior_lumbar_surgery"].value is True
    bare = run("prior_lumbar_surgery", criteria, procedure("i", CPT, "22840", "2025-06-10"))
    assert facts(bare)["prior_lumbar_surgery"].value is None
    assert bare.groups[0].question == "Was the spine surgery of the lumbar spine?"


def test_z98_1_alone_is_asked_and_with_an_ankle_site_is_false(criteria):
    alone = run("prior_lumbar_surgery", criteria, condition("z", "Z98.1", onset="2023-05-01"))
    assert facts(alone)["prior_lumbar_surgery"].value is None
    assert alone.groups[0].question == "Was the arthrodesis of the lumbar spine?"
    ankle = condition("z", "Z98.1", onset="2023-05-01", bodySite=[{"text": "Left ankle (subtalar joint)"}])
    assert facts(run("prior_lumbar_surgery", criteria, ankle))["prior_lumbar_surgery"].value is False


def test_z98_1_beside_a_spinal_surgery_counts(criteria):
    found = facts(
        run(
            "prior_lumbar_surgery",
            criteria,
            condition("z", "Z98.1", onset="2023-05-01"),
            procedure("i", CPT, "22840", "2023-05-01") | {"bodySite": [{"text": "Lumbar spine"}]},
        )
    )
    assert found["prior_lumbar_surgery"].value is True


def test_a_contusion_and_a_fall_within_28_days_are_low_velocity_trauma(criteria):
    for code in ("S30.0XXA", "W19.XXXA", "S33.5XXA"):
        found = facts(run("low_velocity_trauma", criteria, condition("t", code, onset="2026-10-27")))
        assert found["low_velocity_trauma"].value is True, code


def test_a_fragility_fracture_is_osteoporosis_not_trauma(criteria):
    for code in ("M80.08XA", "M48.56XA"):
        fracture = condition("f", code, onset="2026-10-26")
        assert facts(run("osteoporosis", criteria, fracture))["osteoporosis"].value is True, code
        trauma = facts(run("thoracolumbar_trauma", criteria, fracture))
        assert trauma["thoracolumbar_trauma"].value is False, code


def test_without_an_onset_care_counts_only_if_the_pain_is_old_enough_to_contain_the_run(criteria):
    days = ("09-02", "09-09", "09-16", "09-23", "09-30", "10-07", "10-14", "10-21")  # 60 -> 11 days ago
    sessions = [procedure(f"p{k}", CPT, "97110", f"2026-{d}") for k, d in enumerate(days)]
    result = run("managed_6_weeks", criteria, condition("c", "M54.50"), *sessions)
    (group,) = result.groups
    assert group.name == "duration" and group.question
    # the run ends 11 days before the evaluation date: 6 weeks of it need pain at least 11 + 42 = 53 days old
    managed = [label for label, option in group.options if option["managed_6_weeks"]]
    assert managed and managed[0].startswith("53")
    assert any(not option["managed_6_weeks"] for _, option in group.options)


V2_GROUPS = {
    "duration",
    "management_weeks",
    "cauda_equina_suspected",
    "cancer",
    "infection",
    "progressive_deficit",
    "intervention_candidate",
    "prior_lumbar_surgery",
    "new_or_progressing_after_surgery",
    "low_velocity_trauma",
    "chronic_steroid_use",
}


def test_every_unknown_of_the_v2_fact_families_asks_a_question_on_every_fixture(criteria):
    asked = set()
    for path in sorted((REPO / "fhir_fixtures" / "patients").glob("*.json")):
        bundle = json.loads(path.read_text())
        resources = [e["resource"] for e in bundle.get("entry", [])]
        by_type: dict[str, list[dict[str, Any]]] = {}
        for res in resources:
            by_type.setdefault(res["resourceType"], []).append(res)
        pat = next(iter(by_type.pop("Patient", [])), None)
        built = fact_rules.build_facts(
            criteria,
            order={"resourceType": "ServiceRequest", "id": "sr"},
            order_reasons=[],
            patient=pat,
            resources=by_type,
            unavailable=set(),
            evaluation=EVAL,
        )
        for name, group in built.groups.items():
            if name in V2_GROUPS:
                assert group.question.strip(), f"{path.name}: {name}"
                asked.add(name)
    assert {"management_weeks", "infection", "cancer", "progressive_deficit", "prior_lumbar_surgery"} <= asked
