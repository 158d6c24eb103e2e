"""Synthetic patients of any size for the benchmarks (realistic mix, deterministic, R4 dicts).

A record of ``n`` resources holds one Patient and then, in proportion to the 50-resource "typical"
patient of the issue: ~50 % Conditions (low back pain plus chronic problems, ICD-10-CM), ~30 % medication
resources (MedicationStatements and MedicationRequests, RxNorm, naproxen among them), ~12 % Procedures
and at least one Device. The order is an MRI lumbar spine without contrast (CPT 72148) for low back pain,
authored 2026-11-01.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

PATIENT_ID = "pt-bench"
SUBJECT = {"reference": f"Patient/{PATIENT_ID}"}
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
SCT = "http://snomed.info/sct"

CONDITIONS = [
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("I10", "Essential (primary) hypertension"),
    ("J45.909", "Unspecified asthma, uncomplicated"),
    ("E78.5", "Hyperlipidemia, unspecified"),
    ("K21.9", "Gastro-esophageal reflux disease without esophagitis"),
    ("F41.1", "Generalized anxiety disorder"),
    ("M17.11", "Unilateral primary osteoarthritis, right knee"),
    ("E66.9", "Obesity, unspecified"),
    ("G47.33", "Obstructive sleep apnea"),
    ("N39.0", "Urinary tract infection, site not specified"),
    ("J30.9", "Allergic rhinitis, unspecified"),
    ("Z87.891", "Personal history of nicotine dependence"),
]
MEDICATIONS = [
    ("7258", "naproxen"),
    ("6809", "metformin"),
    ("29046", "lisinopril"),
    ("83367", "atorvastatin"),
    ("435", "albuterol"),
    ("7646", "omeprazole"),
    ("36437", "sertraline"),
    ("5640", "ibuprofen"),
    ("161", "acetaminophen"),
    ("17767", "amlodipine"),
]
PROCEDURES = [
    (CPT, "97161", "Physical therapy evaluation: low complexity"),
    (CPT, "99213", "Office or other outpatient visit, established patient"),
    (SCT, "73761001", "Colonoscopy"),
    (CPT, "93000", "Electrocardiogram, routine, with interpretation and report"),
]


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _condition(i: int, code: str, display: str, onset: str, status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": f"bench-cond-{i}",
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]
        },
        "verificationStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "problem-list-item",
                    }
                ]
            }
        ],
        "code": _coding(ICD10, code, display),
        "subject": dict(SUBJECT),
        "onsetDateTime": onset,
        "recordedDate": onset,
    }


def _medication(i: int, code: str, display: str, start: str, request: bool) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "MedicationRequest" if request else "MedicationStatement",
        "id": f"bench-med-{i}",
        "status": "active",
        "medicationCodeableConcept": _coding(RXNORM, code, display),
        "subject": dict(SUBJECT),
    }
    if request:
        res["intent"] = "order"
        res["authoredOn"] = start
    else:
        res["effectivePeriod"] = {"start": start}
        res["dateAsserted"] = "2026-11-01"
    return res


def _procedure(i: int, system: str, code: str, display: str, date: str) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": f"bench-proc-{i}",
        "status": "completed",
        "code": _coding(system, code, display),
        "subject": dict(SUBJECT),
        "performedDateTime": date,
    }


def _device(i: int) -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "id": f"bench-dev-{i}",
        "status": "active",
        "deviceName": [{"name": "Knee prosthesis (MR conditional)", "type": "user-friendly-name"}],
        "type": {"text": "Knee prosthesis"},
        "safety": [
            {
                "coding": [
                    {
                        "system": "urn:oid:2.16.840.1.113883.3.26.1.1",
                        "code": "C106046",
                        "display": "Magnetic Resonance Conditional",
                    }
                ],
                "text": "Magnetic Resonance Conditional",
            }
        ],
        "patient": dict(SUBJECT),
    }


def _date(i: int) -> str:
    """Dates spread over 2016-2026 (deterministic)."""
    return f"{2016 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d}"


def patient_resources(n: int) -> list[dict[str, Any]]:
    """One Patient plus ``n - 1`` clinical resources (n >= 5): the mix described in the module doc."""
    if n < 5:
        raise ValueError("a benchmark patient needs at least 5 resources")
    out: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": PATIENT_ID,
            "active": True,
            "name": [{"family": "Synthetic", "given": ["Bench"]}],
            "gender": "female",
            "birthDate": "1979-06-02",
        },
        # The back-pain episode the order is about: six weeks of low back pain with naproxen for four.
        _condition(0, "M54.50", "Low back pain, unspecified", "2026-09-15"),
        _medication(0, "7258", "naproxen", "2026-09-20", request=False),
        _device(0),
    ]
    rest = n - len(out)
    n_cond = rest * 50 // 100
    n_med = rest * 30 // 100
    n_proc = rest * 12 // 100
    n_dev = rest - n_cond - n_med - n_proc
    for i in range(1, n_cond + 1):
        code, display = CONDITIONS[i % len(CONDITIONS)]
        out.append(_condition(i, code, display, _date(i), "active" if i % 4 else "resolved"))
    for i in range(1, n_med + 1):
        code, display = MEDICATIONS[i % len(MEDICATIONS)]
        out.append(_medication(i, code, display, _date(i), request=bool(i % 3 == 0)))
    for i in range(1, n_proc + 1):
        system, code, display = PROCEDURES[i % len(PROCEDURES)]
        out.append(_procedure(i, system, code, display, _date(i)))
    # Devices fill the remainder; above ~1 % of the record they become conditions again (real mixes).
    for i in range(1, n_dev + 1):
        if i <= max(1, rest // 100):
            out.append(_device(i))
        else:
            code, display = CONDITIONS[i % len(CONDITIONS)]
            out.append(_condition(n_cond + i, code, display, _date(i)))
    return out


def order(order_id: str = "sr-bench-mri") -> dict[str, Any]:
    """A draft MRI lumbar spine without contrast for low back pain, authored 2026-11-01."""
    return {
        "resourceType": "ServiceRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "code": _coding(CPT, "72148", "MRI lumbar spine without contrast"),
        "subject": dict(SUBJECT),
        "authoredOn": "2026-11-01T09:00:00Z",
        "reasonCode": [_coding(ICD10, "M54.50", "Low back pain, unspecified")],
    }


def collection_bundle(n: int) -> dict[str, Any]:
    """The order and the ``n``-resource record as one collection Bundle (input of ``assess_bundle``)."""
    entries = [{"resource": order()}] + [{"resource": r} for r in patient_resources(n)]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


VARY_TOKEN = "BENCHVARY0"  # 10 characters; replaced by a 10-digit counter to make every prefetch distinct


def hook_request(
    hook: str, n: int | None, fhir_server: str | None = None, *, vary: bool = False
) -> dict[str, Any]:
    """A CDS Hooks request: ``n`` resources as full prefetch, or (``n`` None) no prefetch at all.

    ``vary``: the Patient's given name is :data:`VARY_TOKEN`, for load generators to replace with a
    counter so that no two requests share a prefetch (no cache of the service can answer them).
    """
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.UUID(int=0x42)),
        "context": {
            "userId": "Practitioner/bench",
            "patientId": PATIENT_ID,
            "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order()}]},
        },
    }
    if hook == "order-select":
        body["context"]["selections"] = ["ServiceRequest/sr-bench-mri"]
    if fhir_server:
        body["fhirServer"] = fhir_server
    if n is not None:
        by_type: dict[str, list[dict[str, Any]]] = {}
        for res in patient_resources(n):
            by_type.setdefault(res["resourceType"], []).append(res)
        if vary:
            by_type["Patient"][0]["name"] = [{"family": "Synthetic", "given": [VARY_TOKEN]}]
        body["prefetch"] = {
            "patient": by_type["Patient"][0],
            "conditions": _searchset(by_type.get("Condition", [])),
            "medicationStatements": _searchset(by_type.get("MedicationStatement", [])),
            "medicationRequests": _searchset(by_type.get("MedicationRequest", [])),
            "procedures": _searchset(by_type.get("Procedure", [])),
            "devices": _searchset(by_type.get("Device", [])),
        }
    return copy.deepcopy(body)
