"""The fact rules (app/clinical/fact_rules.py), one section per fact family, on small hand-built records;
then the registry: what each rule declares is what it does."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from typing import Any

import pytest
from conftest import CPT, ICD, NCI, REPO, RXNORM, SNOMED, condition, med, patient

from app.clinical import fact_rules
from app.clinical.fact_rules import FactRule, base_fact_names, build_facts, rules
from app.clinical.facts import Fact, Findings
from app.clinical.records import RecordIndex, read_record
from app.criteria.model import Criteria

EVAL = date(2026, 11, 1)
ALL_TYPES = {"Patient", "Condition", "MedicationStatement", "MedicationRequest", "Procedure", "Device"}


def index(
    criteria: Criteria,
    *resources: dict[str, Any],
    reasons: tuple[str, ...] = (),
    pat: dict[str, Any] | None = None,
    unavailable: set[str] | None = None,
) -> RecordIndex:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for res in resources:
        by_type.setdefault(str(res["resourceType"]), []).append(res)
    return read_record(
        criteria,
        order={"resourceType": "ServiceRequest", "id": "sr1"},
        order_reasons=[{"coding": [{"system": ICD, "code": code}]} for code in reasons],
        patient=pat,
        resources=by_type,
        unavailable=unavailable or set(),
        evaluation=EVAL,
    )


def facts(findings: Findings) -> dict[str, Fact]:
    return {f.name: f for f in findings.facts}


def procedure(pid: str, system: str, code: str, performed: str | None = "2026-01-10") -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": pid,
        "status": "completed",
        "code": {"coding": [{"system": system, "code": code}]},
    }
    if performed:
        res["performedDateTime"] = performed
    return res


def device(did: str, *safety_codes: str) -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "id": did,
        "status": "active",
        "safety": [{"coding": [{"system": NCI, "code": c}]} for c in safety_codes],
    }


def request(
    mid: str, rxnorm: str, *, authored: str, supply_days: int | None = None, repeats: int | None = None
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": mid,
        "status": "completed",
        "authoredOn": authored,
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxnorm}]},
    }
    if supply_days is not None:
        res["dispenseRequest"] = {"expectedSupplyDuration": {"value": supply_days, "code": "d"}}
        if repeats is not None:
            res["dispenseRequest"]["numberOfRepeatsAllowed"] = repeats
    return res


# --- age


def test_age_bands_from_the_birth_date_on_the_evaluation_date(criteria):
    found = facts(fact_rules.age(index(criteria, pat=patient(birth="2010-11-02")), criteria, EVAL))
    assert (found["age_under_16"].value, found["age_under_18"].value, found["elderly"].value) == (
        True,
        True,
        False,
    )
    assert found["age_under_16"].evidence == ("Patient/p1",)
    old = facts(fact_rules.age(index(criteria, pat=patient(birth="1950-01-01")), criteria, EVAL))
    assert old["elderly"].value is True and old["elderly"].reported_as == ("elderly", True)


def test_age_unknown_without_a_birth_date_offers_consistent_bands_adults_first(criteria):
    result = fact_rules.age(index(criteria, pat=patient(birth=None)), criteria, EVAL)
    assert {f.value for f in result.facts} == {None}
    (group,) = result.groups
    assert group.name == "age" and "birthDate is missing" in group.text
    _, first = group.options[0]
    assert first == {"age_under_16": False, "age_under_18": False, "elderly": False}
    assert all(not (o["age_under_16"] and not o["age_under_18"]) for _, o in group.options)


def test_age_unknown_says_the_patient_could_not_be_obtained(criteria):
    result = fact_rules.age(index(criteria, unavailable={"Patient"}), criteria, EVAL)
    assert "could not be obtained" in result.groups[0].text


# --- condition_present (cancer, infection, myelopathy, ...)


def _condition_rule(fact: str) -> FactRule:
    return next(r for r in rules() if r.produces == (fact,))


def test_condition_fact_present_from_a_current_condition(criteria):
    rule = _condition_rule("infection")
    found = facts(rule.compute(index(criteria, condition("c-osteo", "M46.26")), criteria, EVAL))
    assert found["infection"].value is True and found["infection"].evidence == ("Condition/c-osteo",)


def test_condition_fact_present_from_the_orders_reason(criteria):
    rule = _condition_rule("cancer")
    found = facts(rule.compute(index(criteria, reasons=("C79.51",)), criteria, EVAL))
    assert found["cancer"].value is True
    assert found["cancer"].evidence == ("ServiceRequest/sr1",)
    assert "from the order's reason" in found["cancer"].text


def test_history_value_sets_count_a_resolved_condition(criteria):
    rule = _condition_rule("cancer")
    resolved = {"clinicalStatus": {"coding": [{"code": "resolved"}]}}
    history = facts(rule.compute(index(criteria, condition("c-h", "Z85.46", **resolved)), criteria, EVAL))
    # v2 §2.5: a malignancy whose clinicalStatus is resolved is a history of cancer too
    resolved_c = facts(rule.compute(index(criteria, condition("c-m", "C61", **resolved)), criteria, EVAL))
    infection = _condition_rule("infection")
    current_only = facts(
        infection.compute(index(criteria, condition("c-o", "M46.26", **resolved)), criteria, EVAL)
    )
    assert history["cancer"].value is True
    assert resolved_c["cancer"].value is True
    assert current_only["infection"].value is False


def test_refuted_condition_never_counts(criteria):
    rule = _condition_rule("infection")
    refuted = condition("c", "M46.26", verificationStatus={"coding": [{"code": "refuted"}]})
    assert facts(rule.compute(index(criteria, refuted), criteria, EVAL))["infection"].value is False


def test_suspected_condition_is_present_and_says_so(criteria):
    rule = _condition_rule("cauda_equina_suspected")
    provisional = condition("c", "G83.4", verificationStatus={"coding": [{"code": "provisional"}]})
    fact = facts(rule.compute(index(criteria, provisional), criteria, EVAL))["cauda_equina_suspected"]
    assert fact.value is True and "(suspected)" in fact.text


def test_condition_fact_unknown_when_conditions_could_not_be_obtained(criteria):
    rule = _condition_rule("osteoporosis")
    result = rule.compute(index(criteria, unavailable={"Condition"}), criteria, EVAL)
    assert facts(result)["osteoporosis"].value is None
    assert result.groups[0].name == "osteoporosis"


# --- known_fracture


def test_known_fracture_needs_a_confirmed_acute_fracture(criteria):
    confirmed = condition("c1", "S32.010A")
    provisional = condition("c2", "S32.010A", verificationStatus={"coding": [{"code": "provisional"}]})
    assert facts(fact_rules.known_fracture(index(criteria, confirmed), criteria, EVAL))[
        "known_tl_fracture"
    ].value
    assert not facts(fact_rules.known_fracture(index(criteria, provisional), criteria, EVAL))[
        "known_tl_fracture"
    ].value


# --- back_pain


def test_back_pain_from_a_condition_and_weak_codes_are_flagged(criteria):
    fact = facts(fact_rules.back_pain(index(criteria, condition("c", "M54.9")), criteria, EVAL))["back_pain"]
    assert fact.value is True and "weak evidence" in fact.text


# --- duration


def test_duration_from_the_earliest_dated_back_pain_condition(criteria):
    idx = index(
        criteria,
        condition("c-new", "M54.50", onset="2026-10-20"),
        condition("c-old", "M54.16", onset="2026-07-01"),
    )
    found = facts(fact_rules.duration(idx, criteria, EVAL))
    assert found["duration_chronic"].value is True and found["duration_acute"].value is False
    assert found["pain_over_4_weeks"].value is True
    assert found["duration_chronic"].evidence == ("Condition/c-old",)
    assert found["duration_chronic"].reported_as == ("duration", "chronic")


def test_duration_with_onset_after_the_evaluation_date_is_unknown_and_a_data_issue(criteria):
    idx = index(criteria, condition("c", "M54.50", onset="2026-12-01"))
    found = facts(fact_rules.duration(idx, criteria, EVAL))
    assert found["duration_acute"].value is None  # v2 §1: no usable date (v1 read it as acute)
    assert any("Condition/c" in i and "after the evaluation date" in i for i in idx.issues)


def test_duration_boundaries_follow_the_thresholds(criteria):
    sub = int(criteria.thresholds["subacuteFromDays"])
    onset = date.fromordinal(EVAL.toordinal() - sub).isoformat()
    found = facts(fact_rules.duration(index(criteria, condition("c", "M54.50", onset=onset)), criteria, EVAL))
    assert found["duration_acute"].value is False and found["duration_subacute_or_chronic"].value is True


def test_duration_unknown_without_any_date_branches_over_consistent_ranges(criteria):
    result = fact_rules.duration(index(criteria, condition("c", "M54.50")), criteria, EVAL)
    (group,) = result.groups
    assert group.name == "duration" and "no onset or recorded date" in group.text
    assert {f.value for f in result.facts} == {None}
    for _, option in group.options:
        assert option["duration_acute"] != option["duration_subacute_or_chronic"]
        assert not (option["duration_chronic"] and not option["duration_subacute_or_chronic"])


def test_duration_unknown_says_when_only_the_orders_reason_shows_back_pain(criteria):
    result = fact_rules.duration(index(criteria, reasons=("M54.50",)), criteria, EVAL)
    assert "the order's reason carries no date" in result.groups[0].text


# --- management


def test_management_counts_weeks_of_therapy_within_the_episode(criteria):
    idx = index(criteria, condition("c", "M54.50", onset="2026-05-01"), med("m", "7258", start="2026-09-01"))
    found = facts(fact_rules.management(idx, criteria, EVAL))
    assert found["prior_management"].value is True
    assert found["managed_6_weeks"].value is True
    assert found["managed_6_weeks"].reported_as == ("management_weeks", pytest.approx(8.7))


def test_management_therapy_before_the_episode_does_not_count(criteria):
    idx = index(
        criteria,
        condition("c", "M54.50", onset="2026-10-01"),
        med("m", "7258", start="2026-01-01", end="2026-02-01", status="completed"),
    )
    found = facts(fact_rules.management(idx, criteria, EVAL))
    assert found["prior_management"].value is False and found["managed_6_weeks"].value is False


def test_management_medication_request_interval_from_its_supply(criteria):
    idx = index(
        criteria,
        condition("c", "M54.50", onset="2026-05-01"),
        request("mr", "7258", authored="2026-06-01", supply_days=14, repeats=2),
    )
    found = facts(fact_rules.management(idx, criteria, EVAL))
    assert found["prior_management"].value is True
    assert found["managed_6_weeks"].value is True  # 14 days x (1 + 2 repeats) = 42 days = 6 weeks
    assert found["prior_management"].evidence == ("MedicationRequest/mr",)
    short = index(
        criteria,
        condition("c", "M54.50", onset="2026-05-01"),
        request("mr", "7258", authored="2026-06-01", supply_days=14, repeats=1),
    )
    assert facts(fact_rules.management(short, criteria, EVAL))["managed_6_weeks"].value is False


def test_management_physical_therapy_procedure_counts(criteria):
    idx = index(
        criteria, condition("c", "M54.50", onset="2026-09-01"), procedure("p", CPT, "97161", "2026-10-15")
    )
    found = facts(fact_rules.management(idx, criteria, EVAL))
    assert found["prior_management"].value is True and found["managed_6_weeks"].value is False


def test_management_match_by_ingredient_name_is_flagged(criteria):
    idx = index(
        criteria,
        condition("c", "M54.50", onset="2026-05-01"),
        med("m", None, start="2026-09-01", text="Naproxen 500 mg"),
    )
    assert (
        "matched by name: MedicationStatement/m"
        in facts(fact_rules.management(idx, criteria, EVAL))["prior_management"].text
    )


def test_management_undated_therapy_leaves_the_weeks_unknown(criteria):
    idx = index(criteria, condition("c", "M54.50", onset="2026-05-01"), med("m", "7258", start=None))
    result = fact_rules.management(idx, criteria, EVAL)
    found = facts(result)
    assert found["prior_management"].value is True and found["managed_6_weeks"].value is None
    assert [g.name for g in result.groups] == ["management_weeks"]


def test_management_with_unknown_onset_refines_the_duration_group_jointly(criteria):
    idx = index(criteria, condition("c", "M54.50"), med("m", "7258", start="2026-08-01"))
    result = fact_rules.management(idx, criteria, EVAL)
    (group,) = result.groups
    assert group.name == "duration"
    for label, option in group.options:
        assert set(option) == {*fact_rules.DURATION_FACTS, "managed_6_weeks"}
        if option["managed_6_weeks"]:
            assert option["duration_subacute_or_chronic"], label  # 6 weeks of episode means ≥ 28 days of pain
    assert any(o["managed_6_weeks"] for _, o in group.options)
    assert any(not o["managed_6_weeks"] for _, o in group.options)


def test_management_unknown_when_medications_could_not_be_obtained(criteria):
    idx = index(criteria, condition("c", "M54.50", onset="2026-05-01"), unavailable={"MedicationStatement"})
    found = facts(fact_rules.management(idx, criteria, EVAL))
    assert found["prior_management"].value is None and found["managed_6_weeks"].value is None


# --- immunosuppression


def test_immunosuppression_from_an_active_medication_only(criteria):
    current = index(criteria, med("m", "6851", start="2026-10-01"))
    past = index(criteria, med("m", "6851", start="2025-01-01", end="2025-03-01", status="completed"))
    assert facts(fact_rules.immunosuppression(current, criteria, EVAL))["immunosuppression"].value is True
    assert facts(fact_rules.immunosuppression(past, criteria, EVAL))["immunosuppression"].value is False


# --- steroids


def test_steroid_days_in_the_look_back_window(criteria):
    long = index(criteria, med("m", "8640", start="2026-06-01"))
    short = index(criteria, med("m", "8640", start="2026-10-01"))
    assert facts(fact_rules.steroids(long, criteria, EVAL))["chronic_steroid_use"].value is True
    short_fact = facts(fact_rules.steroids(short, criteria, EVAL))["chronic_steroid_use"]
    assert short_fact.value is False and short_fact.text.startswith("32 days of systemic corticosteroids")


def test_steroid_status_code_is_shown_as_recorded_in_icd_form(criteria):
    for code in ("Z79.52", "Z7952"):
        fact = facts(fact_rules.steroids(index(criteria, condition("c", code)), criteria, EVAL))[
            "chronic_steroid_use"
        ]
        assert fact.value is True and fact.text == "Long-term systemic steroid use recorded (Z79.52)"


def test_undated_steroid_course_leaves_steroid_use_unknown(criteria):
    result = fact_rules.steroids(index(criteria, med("m", "8640", start=None)), criteria, EVAL)
    assert facts(result)["chronic_steroid_use"].value is None


# --- surgery


def test_new_back_pain_after_lumbar_surgery(criteria):
    idx = index(
        criteria,
        procedure("p", SNOMED, "359586003", "2025-03-01"),
        condition("c", "M54.50", onset="2026-09-01"),
    )
    found = facts(fact_rules.surgery(idx, criteria, EVAL))
    assert found["prior_lumbar_surgery"].value is True
    assert found["new_or_progressing_after_surgery"].value is True
    assert found["new_or_progressing_after_surgery"].evidence == ("Procedure/p", "Condition/c")


def test_back_pain_before_the_surgery_is_not_new(criteria):
    idx = index(
        criteria,
        procedure("p", SNOMED, "359586003", "2026-10-01"),
        condition("c", "M54.50", onset="2026-09-01"),
    )
    assert facts(fact_rules.surgery(idx, criteria, EVAL))["new_or_progressing_after_surgery"].value is False


def test_surgery_without_a_date_leaves_new_symptoms_unknown(criteria):
    site = {"bodySite": [{"text": "Lumbar spine (L4-S1)"}]}
    idx = index(criteria, condition("s", "Z98.1", **site), condition("c", "M54.50", onset="2026-09-01"))
    found = facts(fact_rules.surgery(idx, criteria, EVAL))
    assert found["prior_lumbar_surgery"].value is True
    assert found["new_or_progressing_after_surgery"].value is None


# --- low_velocity_trauma


def test_low_velocity_trauma_within_the_window_only(criteria):
    recent = index(criteria, condition("c", "S39.012A", onset="2026-10-20"))
    old = index(criteria, condition("c", "S39.012A", onset="2026-01-20"))
    undated = index(criteria, condition("c", "S39.012A"))
    assert facts(fact_rules.low_velocity_trauma(recent, criteria, EVAL))["low_velocity_trauma"].value is True
    assert facts(fact_rules.low_velocity_trauma(old, criteria, EVAL))["low_velocity_trauma"].value is False
    assert facts(fact_rules.low_velocity_trauma(undated, criteria, EVAL))["low_velocity_trauma"].value is None


# --- myelopathy_onset


def test_myelopathy_onset_acute_or_chronic_by_the_threshold(criteria):
    acute = index(criteria, condition("c", "G95.9", onset="2026-10-20"))
    chronic = index(criteria, condition("c", "G95.9", onset="2026-01-01"))
    assert facts(fact_rules.myelopathy_onset(acute, criteria, EVAL))["myelopathy_acute"].value is True
    fact = facts(fact_rules.myelopathy_onset(chronic, criteria, EVAL))["myelopathy_acute"]
    assert fact.value is False and fact.reported_as == ("myelopathy_onset", "chronic")


def test_myelopathy_from_the_orders_reason_has_an_unknown_onset(criteria):
    result = fact_rules.myelopathy_onset(index(criteria, reasons=("G95.9",)), criteria, EVAL)
    assert facts(result)["myelopathy_acute"].value is None
    assert result.groups[0].name == "myelopathy_onset"


def test_no_myelopathy_is_not_acute_myelopathy(criteria):
    assert (
        facts(fact_rules.myelopathy_onset(index(criteria), criteria, EVAL))["myelopathy_acute"].value is False
    )


# --- devices


def test_devices_mr_labels(criteria):
    cases = {
        "C106047": ("mr_unsafe_device", True),
        "C106046": ("mr_conditional_device", True),
        "C106045": ("mr_unsafe_device", False),
    }
    for code, (fact, value) in cases.items():
        found = facts(fact_rules.devices(index(criteria, device("d", code)), criteria, EVAL))
        assert found[fact].value is value, code


def test_device_labelled_without_mr_information_is_of_unknown_mr_status(criteria):
    result = facts(fact_rules.devices(index(criteria, device("d", "C113844")), criteria, EVAL))
    assert result["mr_unknown_device"].value is True and result["mr_unknown_device"].evidence == ("Device/d",)
    assert result["mr_unsafe_device"].value is False


def test_device_without_any_label_or_implant_type_is_reported_not_an_mr_risk(criteria):
    result = fact_rules.devices(index(criteria, device("d")), criteria, EVAL)
    assert {f.name: f.value for f in result.facts} == dict.fromkeys(fact_rules.MR_STATUS_FACTS, False)
    assert result.issues[0].startswith(
        "Device/d has no MR safety labelling and is not a recognised active implant"
    )


def test_an_unlabelled_active_implant_by_type_is_of_unknown_mr_status(criteria):
    coded = {**device("p"), "type": {"coding": [{"system": SNOMED, "code": "14106009"}]}}
    named = {**device("s"), "type": {"text": "Spinal Cord Stimulator"}}
    result = facts(fact_rules.devices(index(criteria, coded, named), criteria, EVAL))
    assert result["mr_unknown_device"].value is True
    assert set(result["mr_unknown_device"].evidence) == {"Device/p", "Device/s"}
    assert "Spinal Cord Stimulator" in result["mr_unknown_device"].text


def test_astm_safety_text_in_any_case_gives_the_status(criteria):
    unsafe = {**device("u"), "safety": [{"text": "mr UNSAFE"}], "deviceName": [{"name": "Old stimulator"}]}
    conditional = {**device("c"), "safety": [{"text": "MR Conditional"}]}
    result = facts(fact_rules.devices(index(criteria, unsafe, conditional), criteria, EVAL))
    assert result["mr_unsafe_device"].value is True and result["mr_unsafe_device"].reported_as == (
        "mr_unsafe_device",
        "Old stimulator",
    )
    assert result["mr_conditional_device"].value is True


def test_one_implant_never_cancels_another(criteria):
    found = facts(
        fact_rules.devices(index(criteria, condition("c", "Z18.11"), device("d", "C106046")), criteria, EVAL)
    )
    assert found["mr_unsafe_device"].value is True and found["mr_conditional_device"].value is True


def test_a_device_presence_condition_is_of_unknown_mr_status_and_an_inactive_device_is_ignored(criteria):
    explanted = {**device("old", "C106047"), "status": "inactive"}
    found = facts(fact_rules.devices(index(criteria, condition("c", "Z95.0"), explanted), criteria, EVAL))
    assert found["mr_unknown_device"].value is True and found["mr_unknown_device"].evidence == (
        "Condition/c",
    )
    assert found["mr_unsafe_device"].value is False


def test_pregnancy_from_a_condition_or_a_recent_positive_observation(criteria):
    def obs(oid: str, when: str, value: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]},
            "effectiveDateTime": when,
            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": value}]},
        }

    pregnant = facts(
        fact_rules.pregnancy(index(criteria, obs("o", "2026-10-01", "77386006")), criteria, EVAL)
    )
    old = facts(fact_rules.pregnancy(index(criteria, obs("o", "2024-10-01", "77386006")), criteria, EVAL))
    negative = facts(
        fact_rules.pregnancy(index(criteria, obs("o", "2026-10-01", "60001007")), criteria, EVAL)
    )
    coded = facts(fact_rules.pregnancy(index(criteria, condition("c", "O09.90")), criteria, EVAL))
    assert pregnant["pregnant"].value is True and pregnant["pregnant"].evidence == ("Observation/o",)
    assert old["pregnant"].value is False and negative["pregnant"].value is False
    assert coded["pregnant"].value is True


# --- prior_radiograph


def test_prior_spine_radiograph_result_is_always_unknown(criteria):
    result = fact_rules.prior_radiograph(index(criteria, procedure("p", CPT, "72100")), criteria, EVAL)
    found = facts(result)
    assert found["prior_spine_radiograph"].value is True
    assert found["prior_radiograph_negative"].value is None
    assert result.groups[0].name == "prior_radiograph_result"


def test_a_spine_mri_is_not_a_prior_radiograph(criteria):
    result = fact_rules.prior_radiograph(index(criteria, procedure("p", CPT, "72148")), criteria, EVAL)
    assert facts(result)["prior_spine_radiograph"].value is False


# --- uncodable


def test_uncodable_facts_are_always_unknown(criteria):
    result = fact_rules.uncodable(index(criteria), criteria, EVAL)
    assert {f.name for f in result.facts} == set(criteria.uncodable_facts)
    assert {f.value for f in result.facts} == {None}


# --- the registry


RECORDS: list[tuple[tuple[dict[str, Any], ...], dict[str, Any]]] = [
    ((), {}),
    ((), {"unavailable": ALL_TYPES}),
    ((condition("c", "M54.50"), med("m", "7258", start="2026-08-01"), device("d", "C113844")), {}),
    (
        (
            condition("c", "M54.50", onset="2026-05-01"),
            condition("s", "Z98.1"),
            condition("m", "G95.9"),
            med("m", "8640", start=None),
            procedure("p", CPT, "72100"),
        ),
        {"pat": patient()},
    ),
]


@pytest.mark.parametrize(("resources", "kw"), RECORDS)
def test_each_rule_produces_exactly_the_facts_it_declares(criteria, resources, kw):
    idx = index(criteria, *resources, **kw)
    for rule in rules():
        produced = [f.name for f in rule.compute(idx, criteria, EVAL).facts]
        declared = set(rule.produces) | (set(criteria.uncodable_facts) if rule.uncodable else set())
        assert set(produced) == declared, rule.name


@pytest.mark.parametrize(("resources", "kw"), RECORDS)
def test_each_rule_reads_only_the_sources_and_settings_it_declares(criteria, resources, kw):
    idx = index(criteria, *resources, **kw)
    for rule in rules():
        narrowed = dataclasses.replace(
            criteria,
            fact_sources={k: v for k, v in criteria.fact_sources.items() if k in rule.sources},
            thresholds={k: v for k, v in criteria.thresholds.items() if k in rule.settings},
            threshold_texts={k: v for k, v in criteria.threshold_texts.items() if k in rule.settings},
        )
        assert rule.compute(idx, narrowed, EVAL) == rule.compute(idx, criteria, EVAL), rule.name


@pytest.mark.parametrize(("resources", "kw"), RECORDS)
def test_only_a_declared_refinement_replaces_another_rules_group(criteria, resources, kw):
    idx = index(criteria, *resources, **kw)
    owner: dict[str, str] = {}
    for rule in rules():
        for group in rule.compute(idx, criteria, EVAL).groups:
            if group.name in owner:
                assert group.name in rule.refines, f"{rule.name} replaces {owner[group.name]}'s {group.name}"
            owner.setdefault(group.name, rule.name)


def test_rule_names_and_fact_names_are_unique(criteria):
    produced = [name for r in rules() for name in r.produces]
    assert len(produced) == len(set(produced)) == len(base_fact_names())
    assert not base_fact_names() & set(criteria.uncodable_facts)
    assert not base_fact_names() & set(criteria.derived_facts)


def test_every_settings_fact_entry_is_read_by_a_rule_and_every_declared_one_exists(criteria):
    settings = json.loads((REPO / "criteria" / "settings.json").read_text(encoding="utf-8"))
    declared_sources = {s for r in rules() for s in r.sources}
    declared_settings = {s for r in rules() for s in r.settings}
    assert declared_sources == set(settings["facts"])
    assert declared_settings <= set(settings["thresholds"])


def test_build_facts_runs_every_rule_and_keeps_the_reading_issues(criteria):
    pf = build_facts(
        criteria,
        order={"resourceType": "ServiceRequest", "id": "sr1"},
        order_reasons=[],
        patient=patient(),
        resources={
            "Condition": [{"resourceType": "Condition", "id": "bad", "code": "x"}],
            "Device": [device("d")],
        },
        unavailable=set(),
        evaluation=EVAL,
    )
    assert set(pf.facts) == base_fact_names() | set(criteria.uncodable_facts)
    assert pf.age == 56
    assert pf.issues[0].startswith("Condition/bad skipped") and pf.issues[1].startswith("Device/d has no MR")
