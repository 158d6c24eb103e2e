"""The facts the thoracic topic needs (clinical-rules.md §2.1, §2.6, §4.2): indication region, thoracic
radiculopathy, prior thoracic surgery, a prior thoracic radiograph and its result. Real criteria, the rules
called through their registry on a record index."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from conftest import CPT, ICD, SNOMED, condition

from app.clinical import fact_rules
from app.clinical.facts import Fact
from app.clinical.records import RecordIndex, read_record
from app.criteria.model import Criteria

EVAL = date(2026, 11, 1)
LOINC = "http://loinc.org"


def _index(
    criteria: Criteria,
    *resources: dict[str, Any],
    reasons: tuple[str, ...] = (),
    unavailable: frozenset[str] = frozenset(),
) -> RecordIndex:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for res in resources:
        by_type.setdefault(str(res["resourceType"]), []).append(res)
    return read_record(
        criteria,
        order={"resourceType": "ServiceRequest", "id": "sr1"},
        order_reasons=[{"coding": [{"system": ICD, "code": code}]} for code in reasons],
        patient={"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"},
        resources=by_type,
        unavailable=set(unavailable),
        evaluation=EVAL,
    )


def _facts(rule: Any, index: RecordIndex, criteria: Criteria) -> dict[str, Fact]:
    return {f.name: f for f in rule(index, criteria, EVAL).facts}


def _region(criteria: Criteria, *codes: str, reasons: tuple[str, ...] = ()) -> str:
    conditions = [condition(f"c{i}", code, onset="2026-10-01") for i, code in enumerate(codes)]
    found = _facts(fact_rules.indication_region, _index(criteria, *conditions, reasons=reasons), criteria)
    true = [name for name, fact in found.items() if fact.value]
    assert len(true) <= 1
    return true[0].removeprefix("indication_") if true else "unspecified"


@pytest.mark.parametrize(
    ("codes", "reasons", "region"),
    [
        (("M54.6",), (), "thoracic"),
        (("M54.14",), (), "thoracic"),
        (("M51.24",), (), "thoracic"),
        (("M54.15",), (), "thoracolumbar"),
        (("M54.16",), (), "lumbar"),
        (("M54.50",), (), "lumbar"),
        (("M54.9",), (), "unspecified"),
        ((), (), "unspecified"),
        (("M54.6", "M54.50"), (), "thoracolumbar"),  # both regions named
        (("M54.16",), ("M54.14",), "thoracic"),  # the order's reason wins
        (("M54.6", "M51.36"), (), "thoracic"),  # symptom codes before an old structural one
    ],
)
def test_indication_region(
    criteria: Criteria, codes: tuple[str, ...], reasons: tuple[str, ...], region: str
) -> None:
    assert _region(criteria, *codes, reasons=reasons) == region


@pytest.mark.parametrize(
    ("code", "value"), [("M54.14", True), ("M54.15", True), ("M51.14", True), ("M54.16", False)]
)
def test_thoracic_radiculopathy(criteria: Criteria, code: str, value: bool) -> None:
    index = _index(criteria, condition("c1", code, onset="2026-10-01"))
    assert _facts(fact_rules.thoracic_radiculopathy, index, criteria)["thoracic_radiculopathy"].value is value


def _procedure(pid: str, code: str, site: str | None = None, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": pid,
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": CPT, "code": code}]},
        "performedDateTime": "2026-10-20",
    }
    if site:
        res["bodySite"] = [{"coding": [{"system": SNOMED, "code": site}]}]
    res.update(extra)
    return res


@pytest.mark.parametrize(
    ("procedure", "value"),
    [
        (_procedure("p", "22610"), True),  # posterior arthrodesis, thoracic
        (_procedure("p", "63046"), True),  # laminectomy, thoracic
        (_procedure("p", "22842", site="122495006"), True),  # instrumentation at a thoracic bodySite
        (_procedure("p", "22842"), False),  # instrumentation, region not given
        (_procedure("p", "63047"), False),  # laminectomy, lumbar
    ],
)
def test_prior_thoracic_surgery(criteria: Criteria, procedure: dict[str, Any], value: bool) -> None:
    found = _facts(fact_rules.prior_thoracic_surgery, _index(criteria, procedure), criteria)
    assert found["prior_thoracic_surgery"].value is value


def test_prior_thoracic_surgery_unknown_when_procedures_could_not_be_read(criteria: Criteria) -> None:
    index = _index(criteria, unavailable=frozenset({"Procedure"}))
    assert _facts(fact_rules.prior_thoracic_surgery, index, criteria)["prior_thoracic_surgery"].value is None


def _report(rid: str, *codes: str, conclusion: str | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": rid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": "37906-5"}]},
    }
    if codes:
        res["conclusionCode"] = [{"coding": [{"system": ICD, "code": c}]} for c in codes]
    if conclusion:
        res["conclusion"] = conclusion
    return res


XR = _procedure("xr", "72072", report=[{"reference": "DiagnosticReport/dr"}])
NAME = "prior_thoracic_radiograph_abnormal"


def _radiograph(
    criteria: Criteria, *resources: dict[str, Any], unavailable: frozenset[str] = frozenset()
) -> Any:
    index = _index(criteria, *resources, unavailable=unavailable)
    return fact_rules.prior_thoracic_radiograph(index, criteria, EVAL)


def test_a_report_coding_a_fracture_makes_the_radiograph_abnormal(criteria: Criteria) -> None:
    found = _radiograph(criteria, XR, _report("dr", "M48.54XA"))
    (fact,) = found.facts
    assert fact.value is True and "DiagnosticReport/dr" in fact.evidence and "Procedure/xr" in fact.evidence


def test_a_coded_normal_result_is_not_abnormal(criteria: Criteria) -> None:
    normal = _report("dr")
    normal["conclusionCode"] = [{"coding": [{"system": SNOMED, "code": "17621005"}], "text": "Normal"}]
    (fact,) = _radiograph(criteria, XR, normal).facts
    assert fact.value is False


def test_an_observation_value_counts_as_the_result(criteria: Criteria) -> None:
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "partOf": [{"reference": "Procedure/xr"}],
        "code": {"text": "Impression"},
        "valueCodeableConcept": {"coding": [{"system": ICD, "code": "S22.050A"}]},
    }
    (fact,) = _radiograph(criteria, _procedure("xr", "72070"), obs).facts
    assert fact.value is True


@pytest.mark.parametrize(
    "extra",
    [(), (_report("dr", conclusion="Mild wedging of T8?"),)],  # no report; a report in free text only
)
def test_a_radiograph_without_a_coded_result_is_asked(
    criteria: Criteria, extra: tuple[dict[str, Any], ...]
) -> None:
    found = _radiograph(criteria, XR, *extra)
    (fact,) = found.facts
    (group,) = found.groups
    assert fact.value is None and group.name == "prior_thoracic_radiograph_result"
    assert "thoracic spine radiograph" in group.question
    assert {tuple(values.values()) for _, values in group.options} == {(True,), (False,)}


def test_no_thoracic_radiograph_is_initial_imaging(criteria: Criteria) -> None:
    (fact,) = _radiograph(criteria, _procedure("xr", "72100")).facts  # a lumbar radiograph
    assert fact.value is False


def test_malformed_codes_on_raw_resources_match_nothing_instead_of_raising(criteria: Criteria) -> None:
    """The thoracic rules read raw Procedures, reports and Observations: a ``coding`` that is not a list, or a
    code that is not an object, is no match (the fuzz test found these as 500s)."""
    broken = [
        {**_procedure("p1", "22842", bodySite=[{"coding": 7}]), "code": {"coding": "72072"}},
        {**_procedure("p2", "72072"), "code": "72072"},
        {"resourceType": "DiagnosticReport", "id": "d1", "status": "final", "code": {"coding": {"code": "x"}},
         "conclusionCode": [{"coding": "M48.54XA"}]},
        {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"coding": None},
         "valueCodeableConcept": {"coding": "S22.0"}},
    ]  # fmt: skip
    index = _index(criteria, *broken)
    assert _facts(fact_rules.prior_thoracic_surgery, index, criteria)["prior_thoracic_surgery"].value is False
    _facts(fact_rules.prior_thoracic_radiograph, index, criteria)  # no exception
