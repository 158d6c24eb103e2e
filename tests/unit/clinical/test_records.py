"""The FHIR dict readers and the record index (app/clinical/records.py): malformed entries are skipped and
reported, never fatal; intervals, onsets and statuses are read as clinical-rules.md §1–§2 says."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

import pytest
from conftest import ICD, NCI, RXNORM, condition, med, patient

from app.clinical.records import (
    Malformed,
    RecordIndex,
    evaluation_date,
    parse_date,
    quantity_days,
    read_all,
    read_condition,
    read_device,
    read_medication,
    read_procedure,
    read_record,
    ref_of,
)
from app.criteria.model import Criteria

EVAL = date(2026, 11, 1)


def index(
    criteria: Criteria,
    *resources: dict[str, Any],
    reasons: list[Any] | None = None,
    pat: dict[str, Any] | None = None,
    unavailable: set[str] | None = None,
) -> RecordIndex:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for res in resources:
        by_type.setdefault(str(res.get("resourceType")), []).append(res)
    return read_record(
        criteria,
        order={"resourceType": "ServiceRequest", "id": "sr1"},
        order_reasons=reasons or [],
        patient=pat,
        resources=by_type,
        unavailable=unavailable or set(),
        evaluation=EVAL,
    )


# --- small accessors


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026", date(2026, 1, 1)),
        ("2026-03", date(2026, 3, 1)),
        ("2026-03-15", date(2026, 3, 15)),
        ("2026-03-15T10:00:00Z", date(2026, 3, 15)),
        ("2026-13", None),
        ("yesterday", None),
        (20260315, None),
        (None, None),
    ],
)
def test_parse_date_reads_partial_dates_as_their_first_day_and_rejects_the_rest(value, expected):
    assert parse_date(value) == expected


def test_ref_of_marks_a_missing_or_non_string_id():
    assert ref_of({"resourceType": "Condition", "id": "c1"}) == "Condition/c1"
    assert ref_of({"resourceType": "Condition", "id": 7}) == "Condition/?"
    assert ref_of({}) == "Resource/?"


def test_quantity_days_converts_ucum_units_and_refuses_unknown_ones():
    assert quantity_days({"value": 2, "code": "wk"}) == 14
    assert quantity_days({"value": 1, "unit": "month"}) == 30
    assert quantity_days({"value": 3}) == 3  # days by default
    assert quantity_days({"value": 3, "code": "h"}) is None
    assert quantity_days({"value": "3", "code": "d"}) is None


def test_evaluation_date_is_authored_on_else_the_request_time():
    assert evaluation_date({"authoredOn": "2026-02-03T09:00:00Z"}, None) == date(2026, 2, 3)
    assert evaluation_date({}, datetime(2025, 5, 6, 7, 8)) == date(2025, 5, 6)


# --- Condition


def test_condition_counts_only_current_unrefuted_problems():
    active = read_condition(condition("c", "M54.50", clinicalStatus={"coding": [{"code": "active"}]}), None)
    resolved = read_condition(
        condition("c", "M54.50", clinicalStatus={"coding": [{"code": "resolved"}]}), None
    )
    abated = read_condition(condition("c", "M54.50", abatementDateTime="2026-01-01"), None)
    refuted = read_condition(
        condition("c", "M54.50", verificationStatus={"coding": [{"code": "refuted"}]}), None
    )
    provisional = read_condition(
        condition("c", "M54.50", verificationStatus={"coding": [{"code": "provisional"}]}), None
    )
    assert active.counted and not resolved.counted and not abated.counted
    assert resolved.usable and not refuted.usable and not refuted.counted
    assert provisional.suspected and provisional.counted


def test_condition_onset_from_datetime_period_or_age():
    assert read_condition(condition("c", "M54.50", onset="2026-05-01"), None).onset == date(2026, 5, 1)
    period = condition("c", "M54.50", onsetPeriod={"start": "2026-04"})
    assert read_condition(period, None).onset == date(2026, 4, 1)
    by_age = condition("c", "M54.50", onsetAge={"value": 50, "unit": "a"})
    assert read_condition(by_age, date(1970, 1, 1)).onset == date(2020, 1, 1)
    assert read_condition(by_age, None).onset is None  # no birth date, no onset
    recorded = read_condition(condition("c", "M54.50", recordedDate="2026-06-01"), None)
    assert recorded.onset is None and recorded.dated == date(2026, 6, 1)


@pytest.mark.parametrize(
    "bad",
    [
        {"code": "M54.50"},
        {"code": {"coding": "M54.50"}},
        {"clinicalStatus": "active"},
    ],
)
def test_condition_with_a_malformed_element_is_refused(bad):
    res = {"resourceType": "Condition", "id": "c", **bad}
    with pytest.raises(ValueError):
        read_condition(res, None)


# --- MedicationStatement / MedicationRequest


def test_medication_statement_interval_is_clipped_to_the_evaluation_date():
    ongoing = read_medication(med("m", "7258", start="2026-09-01"), {}, EVAL)
    assert ongoing is not None and (ongoing.start, ongoing.end, ongoing.ongoing) == (
        date(2026, 9, 1),
        EVAL,
        True,
    )
    future_end = read_medication(med("m", "7258", start="2026-09-01", end="2027-01-01"), {}, EVAL)
    assert future_end is not None and future_end.end == EVAL
    stopped = read_medication(med("m", "7258", start="2026-09-01", status="completed"), {}, EVAL)
    assert stopped is not None and stopped.end == date(2026, 9, 1)  # one day when no end and not ongoing


def test_medication_statement_not_taken_or_in_error_is_excluded():
    assert read_medication(med("m", "7258", start="2026-09-01", status="not-taken"), {}, EVAL) is None
    assert read_medication(med("m", "7258", start="2026-09-01", status="entered-in-error"), {}, EVAL) is None


def _request(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "mr",
        "status": "completed",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "7258"}]},
        **extra,
    }


def test_medication_request_interval_from_bounds_then_validity_then_supply():
    bounds = _request(
        dosageInstruction=[
            {"timing": {"repeat": {"boundsPeriod": {"start": "2026-08-01", "end": "2026-08-20"}}}}
        ]
    )
    validity = _request(
        authoredOn="2026-08-01",
        dispenseRequest={"validityPeriod": {"start": "2026-08-01", "end": "2026-09-01"}},
    )
    supply = _request(
        authoredOn="2026-08-01", dispenseRequest={"expectedSupplyDuration": {"value": 4, "code": "wk"}}
    )
    read = [read_medication(r, {}, EVAL) for r in (bounds, validity, supply)]
    assert [(i.start, i.end) for i in read if i] == [
        (date(2026, 8, 1), date(2026, 8, 20)),
        (date(2026, 8, 1), date(2026, 9, 1)),
        (date(2026, 8, 1), date(2026, 8, 29)),
    ]


def test_medication_request_cancelled_is_excluded_but_not_taken_is_not_a_request_status():
    assert read_medication(_request(status="cancelled"), {}, EVAL) is None


def test_medication_reference_resolves_contained_and_supplied_medications():
    contained = _request(
        medicationReference={"reference": "#x"},
        contained=[{"resourceType": "Medication", "id": "x", "code": {"text": "naproxen"}}],
    )
    del contained["medicationCodeableConcept"]
    supplied = _request(medicationReference={"reference": "http://h/fhir/Medication/m9/_history/2"})
    del supplied["medicationCodeableConcept"]
    medications = {"Medication/m9": {"resourceType": "Medication", "id": "m9", "code": {"text": "ibuprofen"}}}
    first, second = (read_medication(r, medications, EVAL) for r in (contained, supplied))
    assert first is not None and first.concept == {"text": "naproxen"}
    assert second is not None and second.concept == {"text": "ibuprofen"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"medicationCodeableConcept": "naproxen"}, "not a CodeableConcept"),
        (
            {"medicationCodeableConcept": None, "medicationReference": {"reference": "Medication/nope"}},
            "not supplied",
        ),
        ({"medicationCodeableConcept": None, "medicationReference": {"reference": "#nope"}}, "contained"),
    ],
)
def test_medication_that_cannot_be_identified_is_refused(change, message):
    res = _request(**change)
    if res["medicationCodeableConcept"] is None:
        del res["medicationCodeableConcept"]
    with pytest.raises(Malformed, match=message):
        read_medication(res, {}, EVAL)


# --- Procedure, Device


def test_procedure_only_completed_with_its_performed_interval():
    base = {"resourceType": "Procedure", "id": "p", "code": {"text": "PT"}}
    assert read_procedure({**base, "status": "in-progress"}) is None
    done = read_procedure({**base, "status": "completed", "performedPeriod": {"start": "2026-01-05"}})
    assert done is not None and (done.start, done.end) == (date(2026, 1, 5), date(2026, 1, 5))


def test_device_entered_in_error_or_inactive_is_not_read():
    assert read_device({"resourceType": "Device", "id": "d", "status": "inactive"}) is None
    assert read_device({"resourceType": "Device", "id": "d", "status": "active"}) is not None


# --- skipping and reporting


def test_read_all_skips_and_reports_what_the_reader_refuses():
    issues: list[str] = []
    read = read_all(
        [
            condition("ok", "M54.50"),
            "not an object",
            {"resourceType": "Condition", "id": "bad", "code": "M54.50"},
        ],
        lambda r: read_condition(r, None),
        issues,
    )
    assert [c.ref for c in read] == ["Condition/ok"]
    assert issues == [
        "a resource entry is not a JSON object; skipped",
        "Condition/bad skipped: Condition.code is not a CodeableConcept",
    ]


def test_index_reports_every_malformed_resource_and_keeps_the_rest(criteria):
    idx = index(
        criteria,
        condition("c-ok", "M54.50", onset="2026-10-01"),
        {"resourceType": "Condition", "id": "c-bad", "code": {"coding": {"code": "M54.50"}}},
        {"resourceType": "MedicationStatement", "id": "m-bad", "status": "active"},
        {"resourceType": "Device", "id": "d-bad", "safety": ["MR unsafe"]},
    )
    assert [c.condition.ref for c in idx.conditions] == ["Condition/c-ok"]
    assert idx.medications == () and idx.devices == ()
    assert [i.split(" skipped")[0] for i in idx.issues] == [
        "Condition/c-bad",
        "MedicationStatement/m-bad",
        "Device/d-bad",
    ]


def test_contained_medication_with_a_malformed_code_is_skipped_not_fatal(criteria):
    statement = {
        "resourceType": "MedicationStatement",
        "id": "m1",
        "status": "active",
        "medicationReference": {"reference": "#x"},
        "contained": [{"resourceType": "Medication", "id": "x", "code": "naproxen"}],
    }
    idx = index(criteria, statement)
    assert idx.medications == ()
    assert idx.issues == ("MedicationStatement/m1 skipped: expected a CodeableConcept object",)


def test_device_with_a_malformed_safety_label_is_skipped_not_fatal(criteria):
    device = {
        "resourceType": "Device",
        "id": "d1",
        "safety": [{"coding": {"system": NCI, "code": "C106047"}}],
    }
    idx = index(criteria, device)
    assert idx.devices == ()
    assert idx.issues == ("Device/d1 skipped: CodeableConcept.coding is not a list",)


def test_order_reason_with_a_malformed_coding_is_skipped_not_fatal(criteria):
    good = {"coding": [{"system": ICD, "code": "M54.50"}]}
    idx = index(criteria, reasons=[{"coding": "M54.50"}, good])
    assert [r.concept for r in idx.reasons] == [good]
    assert idx.issues == ("a reason of ServiceRequest/sr1 skipped: CodeableConcept.coding is not a list",)


# --- the index


def test_index_keeps_only_resources_in_some_value_set(criteria):
    idx = index(
        criteria,
        condition("c-lbp", "M54.50"),
        condition("c-flu", "J10.1"),
        med("m-nap", "7258", start="2026-10-01"),
        med("m-unknown", "999999999", start="2026-10-01"),
    )
    assert [c.condition.ref for c in idx.conditions] == ["Condition/c-lbp"]
    assert [m.interval.ref for m in idx.medications] == ["MedicationStatement/m-nap"]
    assert "lbp" in idx.conditions[0].tags


def test_index_is_immutable(criteria):
    idx = index(criteria, condition("c-lbp", "M54.50"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        idx.conditions = ()  # type: ignore[misc]


def test_medication_matched_only_by_ingredient_name_is_indexed_with_its_name_tags(criteria):
    idx = index(criteria, med("m-text", None, start="2026-10-01", text="Naproxen 500 mg tablet"))
    assert len(idx.medications) == 1
    assert not idx.medications[0].tags and idx.medications[0].names["nsaid"].by == "name"


def test_episode_starts_at_the_earliest_dated_back_pain_condition(criteria):
    idx = index(
        criteria,
        condition("c-late", "M54.50", onset="2026-09-01"),
        condition("c-early", "M54.16", onset="2026-06-01"),
        condition("c-flu", "J10.1", onset="2026-01-01"),
    )
    assert idx.episode.known and idx.episode.start == date(2026, 6, 1)
    assert idx.episode.onset_ref == "Condition/c-early"
    assert {c.ref for c in idx.episode.conditions} == {"Condition/c-late", "Condition/c-early"}


def test_episode_without_a_dated_condition_starts_at_the_default_look_back(criteria):
    idx = index(criteria, condition("c-lbp", "M54.50"))
    default = criteria.thresholds["episodeDefaultDays"]
    assert not idx.episode.known and idx.episode.onset_ref is None
    assert (EVAL - idx.episode.start).days == default


def test_age_on_the_evaluation_date(criteria):
    assert index(criteria, pat=patient(birth="1970-11-02")).age == 55
    assert index(criteria, pat=patient(birth="1970-11-01")).age == 56
    assert index(criteria, pat=patient(birth=None)).age is None
