"""Safety checks (clinical-rules §5.1 MR safety of implants, §5.4 pregnancy) through the real engine.

The property test walks the fixtures and generated records: every result that carries an MR-unsafe or
unknown-status implant and an MR order or an MR alternative shows the MR safety entry.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import CPT, ICD, NCI, REPO, SNOMED, condition, med, order, patient
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from app.clinical.assessment import assess_order, assess_orders, record_from_resources
from app.clinical.result import Result
from app.clinical.safety import MR_MODALITIES
from app.criteria.model import Criteria
from app.fhir.input import checked_orders

CHRONIC_LBP = condition("c-lbp", "M54.50", onset="2026-05-01")
NAPROXEN_8W = med("ms-nap", "7258", start="2026-09-01")
ACUTE_LBP = condition("c-lbp", "M54.50", onset="2026-10-20")
NCI_OID = "urn:oid:2.16.840.1.113883.3.26.1.1"
MRI_WO, MRI_WO_W, CT_WO, XR, CTM = (
    ((CPT, "72148"),),
    ((CPT, "72158"),),
    ((CPT, "72131"),),
    ((CPT, "72100"),),
    ((CPT, "62304"), (CPT, "72132")),
)


def device(did: str, *, code: str | None = None, text: str | None = None, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Device", "id": did, "status": "active", **extra}
    if code or text:
        concept: dict[str, Any] = {"coding": [{"system": NCI, "code": code}]} if code else {}
        if text:
            concept["text"] = text
        res["safety"] = [concept]
    return res


PACEMAKER_UNSAFE = device(
    "pm", code="C106047", deviceName=[{"name": "Dual-chamber pacemaker", "type": "user-friendly-name"}]
)
PACEMAKER_UNLABELLED = device(
    "pm", type={"coding": [{"system": SNOMED, "code": "14106009"}], "text": "Cardiac pacemaker"}
)
KNEE_CONDITIONAL = device("knee", code="C106046", type={"text": "Total knee prosthesis"})


def assessed(codes: tuple[tuple[str, str], ...], criteria: Criteria, *resources: dict[str, Any]) -> Result:
    return assess_order(
        checked_orders([order(*codes)])[0], record_from_resources([patient(), *resources]), criteria
    )


def mr_entries(result: Result) -> list[tuple[str, str]]:
    return [(e.status, e.indicator) for e in result.safety if e.check == "mr-safety"]


def test_unsafe_implant_and_mr_order_is_contraindicated_with_ct_myelography_instead(
    criteria: Criteria,
) -> None:
    r = assessed(MRI_WO, criteria, CHRONIC_LBP, NAPROXEN_8W, PACEMAKER_UNSAFE)
    assert (r.category, r.score, r.score_basis) == ("usually-not-appropriate", 2, "category-midpoint")
    assert mr_entries(r) == [("unsafe", "critical")]
    assert r.safety[0].text == "contraindicated: MR-unsafe implant (Dual-chamber pacemaker)"
    assert r.safety[0].evidence == ("Device/pm",)
    assert [(a.procedure.id, a.category, a.recommended_by) for a in r.alternatives][0] == (
        "ctm-lumbar",
        "usually-appropriate",
        "mr-safety",
    )
    assert not any(a.procedure.id.startswith("mri-") for a in r.alternatives)
    assert "Dual-chamber pacemaker" in r.explanation


def test_unsafe_implant_and_a_ct_order_names_the_implant_and_withholds_mr(criteria: Criteria) -> None:
    r = assessed(CT_WO, criteria, CHRONIC_LBP, NAPROXEN_8W, PACEMAKER_UNSAFE)
    assert r.category == "may-be-appropriate"  # CT's own V3 rating stands
    assert mr_entries(r) == [("unsafe", "info")]
    assert r.safety[0].text.startswith("MR alternatives withheld: MR-unsafe implant")
    assert any(reason.fact == "mr_unsafe_device" and "pacemaker" in reason.text for reason in r.reasons)
    assert [a.procedure.id for a in r.alternatives][0] == "ctm-lumbar"
    assert not any(a.procedure.id.startswith("mri-") for a in r.alternatives)


def test_an_ordered_ct_myelography_carries_the_category_mri_would_get_both_ways(criteria: Criteria) -> None:
    lifted = assessed(CTM, criteria, CHRONIC_LBP, NAPROXEN_8W, PACEMAKER_UNSAFE)
    without = assessed(CTM, criteria, CHRONIC_LBP, NAPROXEN_8W)
    acute = assessed(CTM, criteria, ACUTE_LBP, PACEMAKER_UNSAFE)
    assert (without.category, lifted.category) == ("may-be-appropriate", "usually-appropriate")
    assert lifted.score_basis == "category-midpoint"
    assert acute.category == "usually-not-appropriate"  # V1 gives MRI UNA: not better than UNA, no lift


def test_ct_myelography_is_not_offered_when_mri_itself_is_not_appropriate(criteria: Criteria) -> None:
    r = assessed(XR, criteria, ACUTE_LBP, PACEMAKER_UNSAFE)
    assert mr_entries(r) == [("unsafe", "info")]
    assert all(a.procedure.id != "ctm-lumbar" for a in r.alternatives)


def test_unknown_status_warns_on_mr_orders_and_on_mr_alternatives_without_changing_ratings(
    criteria: Criteria,
) -> None:
    mri = assessed(MRI_WO, criteria, CHRONIC_LBP, NAPROXEN_8W, PACEMAKER_UNLABELLED)
    ct = assessed(CT_WO, criteria, CHRONIC_LBP, NAPROXEN_8W, PACEMAKER_UNLABELLED)
    assert mri.category == "usually-appropriate" and mr_entries(mri) == [("unknown", "warning")]
    assert (
        mri.safety[0].text
        == "implant of unknown MR status (Cardiac pacemaker): confirm MR safety before scanning"
    )
    assert ct.category == "may-be-appropriate" and any(
        a.procedure.id == "mri-lumbar-wo" for a in ct.alternatives
    )
    assert mr_entries(ct) == [("unknown", "warning")] and "MR alternatives" in ct.safety[0].text


def test_a_device_presence_condition_or_unsafe_text_gives_the_status(criteria: Criteria) -> None:
    z950 = assessed(MRI_WO, criteria, CHRONIC_LBP, NAPROXEN_8W, condition("c-pm", "Z95.0"))
    text = assessed(
        MRI_WO,
        criteria,
        CHRONIC_LBP,
        NAPROXEN_8W,
        device("scs", text="mr unsafe", type={"text": "Spinal cord stimulator"}),
    )
    assert mr_entries(z950) == [("unknown", "warning")]
    assert mr_entries(text) == [("unsafe", "critical")] and "Spinal cord stimulator" in text.safety[0].text


def test_one_implant_never_cancels_another(criteria: Criteria) -> None:
    r = assessed(MRI_WO, criteria, CHRONIC_LBP, NAPROXEN_8W, condition("c-frag", "Z18.11"), KNEE_CONDITIONAL)
    assert mr_entries(r) == [("unsafe", "critical")] and r.category == "usually-not-appropriate"


def test_conditional_implant_warns_for_the_protocol(criteria: Criteria) -> None:
    r = assessed(MRI_WO, criteria, CHRONIC_LBP, NAPROXEN_8W, KNEE_CONDITIONAL)
    assert r.category == "usually-appropriate" and mr_entries(r) == [("conditional", "warning")]
    assert "use the device's MR-conditional protocol" in r.safety[0].text


def test_crutches_and_an_explanted_device_are_ignored(criteria: Criteria) -> None:
    crutches = device("cr", type={"text": "Axillary crutches"})
    explanted = {**PACEMAKER_UNSAFE, "status": "inactive"}
    r = assessed(MRI_WO, criteria, CHRONIC_LBP, NAPROXEN_8W, crutches, explanted)
    assert r.category == "usually-appropriate" and r.safety == ()


def test_critical_entry_whatever_the_status(criteria: Criteria) -> None:
    no_onset = condition("c-lbp", "M54.50")  # duration unknown: V1 (MRI UNA) or V3 (UA) — not rated
    insufficient = assessed(MRI_WO, criteria, no_onset, NAPROXEN_8W, PACEMAKER_UNSAFE)
    assert insufficient.status == "insufficient-data" and insufficient.category is None
    assert mr_entries(insufficient) == [("unsafe", "critical")]


def test_a_study_that_is_not_spine_imaging_gets_no_check_and_does_not_fail(criteria: Criteria) -> None:
    r = assessed(((CPT, "70551"),), criteria, CHRONIC_LBP, PACEMAKER_UNSAFE)
    assert r.status == "not-applicable" and r.safety == ()


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (CT_WO, "pregnant: ionizing radiation; MRI without contrast is the usual alternative"),
        (XR, "pregnant: ionizing radiation; MRI without contrast is the usual alternative"),
        (MRI_WO_W, "gadolinium in pregnancy: only if essential"),
        (MRI_WO, None),
    ],
)
def test_pregnancy_warns_for_ionizing_studies_and_gadolinium_and_names_its_source(
    codes: tuple[tuple[str, str], ...], expected: str | None, criteria: Criteria
) -> None:
    pregnant = condition("c-preg", "Z33.1")
    r = assessed(codes, criteria, ACUTE_LBP, pregnant)
    baseline = assessed(codes, criteria, ACUTE_LBP)
    assert r.category == baseline.category  # ratings do not change
    entries = [e for e in r.safety if e.check == "pregnancy"]
    if expected is None:
        assert entries == []
    else:
        (entry,) = entries
        assert entry.text.startswith(expected) and entry.indicator == "warning"
        assert "Condition/c-preg" in entry.text and entry.evidence == ("Condition/c-preg",)


def test_a_positive_pregnancy_status_observation_counts(criteria: Criteria) -> None:
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]},
        "effectiveDateTime": "2026-10-15",
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "77386006"}]},
    }
    r = assessed(CT_WO, criteria, ACUTE_LBP, obs)
    assert [(e.check, e.evidence) for e in r.safety] == [("pregnancy", ("Observation/o1",))]


# --- the property: an MR risk is never silent ----------------------------------------------------------------------


def _must_show_mr_entry(result: Result, criteria: Criteria, risky: bool) -> bool:
    """An MR-unsafe or unknown implant with an MR order or an MR alternative."""
    if not risky or result.procedure is None or result.status == "not-applicable":
        return False
    ordered = criteria.procedures.get(result.procedure.id)
    mr_order = ordered is not None and ordered.modality in MR_MODALITIES
    mr_alternative = any(
        (p := criteria.procedures.get(a.procedure.id)) is not None and p.modality in MR_MODALITIES
        for a in result.alternatives
    )
    return mr_order or mr_alternative


def _assert_property(result: Result, criteria: Criteria, risky: bool) -> None:
    if _must_show_mr_entry(result, criteria, risky):
        assert any(e.check == "mr-safety" and e.status in ("unsafe", "unknown") for e in result.safety), (
            result.service_request,
            result.status,
        )
    if any(e.check == "mr-safety" and e.status == "unsafe" for e in result.safety):
        assert not any(
            (p := criteria.procedures.get(a.procedure.id)) is not None and p.modality in MR_MODALITIES
            for a in result.alternatives
        )


#: An independent reading of the record (not the engine's): what makes an implant unsafe or of unknown MR status.
_RISK_CODES = ("Z950", "Z9581", "Z9621", "Z9682", "Z1811", "Z97")
_IMPLANT_WORDS = ("pacemaker", "stimulator", "cochlear", "defibrillator", "pump", "shunt")


def _record_has_mr_risk(resources: list[dict[str, Any]]) -> bool:
    for r in resources:
        if r["resourceType"] == "Device" and r.get("status") not in ("inactive", "entered-in-error"):
            safety = json.dumps(r.get("safety") or []).lower()
            if "c106047" in safety or "c113844" in safety or "unsafe" in safety:
                return True
            words = json.dumps([r.get("type"), r.get("deviceName")]).lower()
            if not r.get("safety") and any(w in words for w in _IMPLANT_WORDS):
                return True
        if r["resourceType"] == "Condition":
            status = json.dumps(r.get("clinicalStatus") or {})
            concept = r.get("code") if isinstance(r.get("code"), dict) else {}
            codings = [c for c in concept.get("coding", []) if isinstance(c, dict)]
            codes = [str(c.get("code", "")).replace(".", "") for c in codings]
            counted = not any(s in status for s in ("resolved", "inactive", "remission"))
            if counted and any(c.startswith(_RISK_CODES) for c in codes):
                return True
    return False


def _risky(result: Result) -> bool:
    return any(r.fact in ("mr_unsafe_device", "mr_unknown_device") for r in result.reasons)


def test_every_fixture_with_an_mr_risk_shows_the_mr_entry(criteria: Criteria) -> None:
    """Every patient fixture × every MR / CT / radiograph order: the MR entry whenever an MR risk meets MR."""
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    names = ("mri-lumbar-wo-72148", "mri-lumbar-wo-w-72158", "ct-lumbar-wo-72131", "xr-lumbar-72100")
    orders = [json.loads((REPO / f"fhir_fixtures/orders/{n}.json").read_text()) for n in names]
    checked = 0
    for path in sorted((REPO / "fhir_fixtures/patients").glob("*.json")):
        resources = [e["resource"] for e in json.loads(path.read_text()).get("entry", [])]
        subject = next((f"Patient/{r['id']}" for r in resources if r["resourceType"] == "Patient"), None)
        mine = [
            {**o, "id": f"{o['id']}-{i}", "subject": {"reference": subject}} if subject else o
            for i, o in enumerate(orders)
        ]
        others = [r for r in resources if r["resourceType"] != "ServiceRequest"]
        risky = _record_has_mr_risk(others)
        for result in assess_orders(checked_orders(mine), record_from_resources(others), criteria, now=now):
            _assert_property(result, criteria, risky)
            checked += risky
    assert checked > 0


_SAFETY = st.sampled_from(
    [
        ("C106047", None),
        (None, "MR Unsafe"),
        (None, "mr unsafe"),
        ("C113844", None),
        (None, None),
        ("C106046", None),
        ("C106045", None),
    ]
)
_TYPE = st.sampled_from(
    [
        {"coding": [{"system": SNOMED, "code": "14106009"}], "text": "Cardiac pacemaker"},
        {"text": "Spinal cord stimulator"},
        {"text": "Cochlear implant"},
        {"text": "Intrathecal drug pump"},
        {"text": "Total knee prosthesis"},
        {"text": "Axillary crutches"},
    ]
)
_PRESENCE = st.sampled_from([None, "Z95.0", "Z95.810", "Z96.21", "Z96.82", "Z18.11", "Z97.8"])
_INDICATION = st.sampled_from(
    [
        [ACUTE_LBP],
        [CHRONIC_LBP, NAPROXEN_8W],
        [CHRONIC_LBP],
        [
            condition(
                "c-ce", "G83.4", onset="2026-10-20", verificationStatus={"coding": [{"code": "provisional"}]}
            )
        ],
        [],
    ]
)
_ORDER = st.sampled_from([MRI_WO, MRI_WO_W, CT_WO, XR, CTM, ((CPT, "72141"),), ((CPT, "72146"),)])


@seed(20261101)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    devices=st.lists(st.tuples(_SAFETY, _TYPE, st.sampled_from(["active", "inactive"])), max_size=3),
    presence=_PRESENCE,
    indication=_INDICATION,
    codes=_ORDER,
)
def test_generated_records_never_hide_an_mr_risk(
    devices: list[tuple[tuple[str | None, str | None], dict[str, Any], str]],
    presence: str | None,
    indication: list[dict[str, Any]],
    codes: tuple[tuple[str, str], ...],
    criteria: Criteria,
) -> None:
    resources: list[dict[str, Any]] = [*indication]
    for i, ((code, text), kind, status) in enumerate(devices):
        resources.append(device(f"d{i}", code=code, text=text, type=kind, status=status))
    if presence:
        resources.append(condition("c-dev", presence, system=ICD))
    r = assessed(codes, criteria, *resources)
    unsafe_expected = (
        any(
            status == "active" and (code == "C106047" or (text or "").lower() == "mr unsafe")
            for (code, text), _, status in devices
        )
        or presence == "Z18.11"
    )
    _assert_property(r, criteria, _risky(r) or unsafe_expected)
    if unsafe_expected and r.status != "not-applicable":
        assert any(e.check == "mr-safety" and e.status == "unsafe" for e in r.safety)


def test_the_nci_oid_system_is_read_too(criteria: Criteria) -> None:
    oid = {
        "resourceType": "Device",
        "id": "o",
        "status": "active",
        "safety": [{"coding": [{"system": NCI_OID, "code": "C106047"}]}],
    }
    assert mr_entries(assessed(MRI_WO, criteria, CHRONIC_LBP, NAPROXEN_8W, oid)) == [("unsafe", "critical")]
