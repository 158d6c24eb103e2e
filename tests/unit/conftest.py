"""Shared helpers for unit tests: the bundled criteria and tiny FHIR builders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.criteria.loader import load_criteria
from app.criteria.model import Criteria

REPO = Path(__file__).resolve().parents[2]

CPT = "http://www.ama-assn.org/go/cpt"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
NCI = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"


@pytest.fixture(scope="session")
def criteria() -> Criteria:
    return load_criteria(REPO / "criteria")


def patient(pid: str = "p1", birth: str | None = "1970-03-02") -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    if birth:
        res["birthDate"] = birth
    return res


def condition(
    cid: str, code: str, *, onset: str | None = None, system: str = ICD, **extra: Any
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": system, "code": code}]},
    }
    if onset:
        res["onsetDateTime"] = onset
    res.update(extra)
    return res


def med(
    mid: str,
    rxnorm: str | None,
    *,
    start: str | None,
    status: str = "active",
    text: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm}]
    if text:
        concept["text"] = text
    res: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": mid,
        "status": status,
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": concept,
    }
    if start:
        res["effectivePeriod"] = {"start": start, **({"end": end} if end else {})}
    return res


def order(
    *codes: tuple[str, str], sid: str = "sr1", reason: str | None = None, text: str | None = None
) -> dict[str, Any]:
    code: dict[str, Any] = {"coding": [{"system": s, "code": c} for s, c in codes]} if codes else {}
    if text:
        code["text"] = text
    res: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": sid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2026-11-01",
        "code": code,
    }
    if reason:
        res["reasonCode"] = [{"coding": [{"system": ICD, "code": reason}]}]
    return res
