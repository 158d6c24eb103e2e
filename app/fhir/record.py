"""Fetched FHIR → a patient record: the one converter, used by the REST API and the CDS Hooks service.

``fetch_record`` asks the FHIR server for every type of ``RECORD_TYPES`` (in parallel, within the client's
deadline) and never raises for one type: a type that failed becomes *unavailable* with an issue (its
facts are then unknown), a Patient the server does not know is ``patient_missing``. What the caller does
with a missing or failed Patient is its own policy (the REST API answers 422/502, CDS Hooks 412).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from app.clinical.assessment import RECORD_TYPES, PatientRecord, record_from_resources
from app.clinical.input_limits import InputLimits, clip_codes_and_texts
from app.fhir.client import FhirClient
from app.fhir.errors import FhirError, FhirLimitReached, FhirNotFound
from app.metrics import FHIR_FETCH_ERRORS, FHIR_FETCH_LATENCY, timed

log = logging.getLogger("spine_auc.fhir.record")

__all__ = ["RECORD_TYPES", "FetchedRecord", "fetch_record", "from_fetched"]


@dataclass(frozen=True)
class FetchedRecord:
    """What the FHIR server gave for one patient: resources, the types it could not give, and why."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    unavailable: frozenset[str] = frozenset()
    issues: tuple[str, ...] = ()
    errors: Mapping[str, FhirError] = field(default_factory=dict)
    patient_missing: bool = False

    def to_record(self) -> PatientRecord:
        """The PatientRecord the engine reads (resources grouped by type, unavailable types and issues)."""
        record = record_from_resources(self.resources)
        record.unavailable |= set(self.unavailable)
        record.issues.extend(self.issues)
        return record


def from_fetched(fetched: Mapping[str, list[dict[str, Any]] | FhirError]) -> FetchedRecord:
    """``FhirClient.fetch_patient_record``'s answer (type → resources or error) as a ``FetchedRecord``.

    A Patient read that is 404/410 is known to be absent (``patient_missing``), not unavailable.
    """
    resources: list[dict[str, Any]] = []
    unavailable: set[str] = set()
    issues: list[str] = []
    errors: dict[str, FhirError] = {}
    patient_missing = False
    for rtype, got in fetched.items():
        if isinstance(got, FhirError):
            errors[rtype] = got
            if rtype == "Patient" and isinstance(got, FhirNotFound):
                patient_missing = True
                continue
            unavailable.add(rtype)
            issues.append(f"{rtype} could not be fetched: {got.message}")
        else:
            resources.extend(r for r in got if isinstance(r, dict))
    return FetchedRecord(resources, frozenset(unavailable), tuple(issues), errors, patient_missing)


def fetch_record(
    client: FhirClient,
    patient_id: str,
    types: Sequence[str] = RECORD_TYPES,
    *,
    limits: InputLimits | None = None,
) -> FetchedRecord:
    """Fetch ``types`` of ``Patient/<patient_id>`` and convert them; one failed type never raises.

    With ``limits``, over-long codes and texts of the fetched resources are cut (data issues).
    """
    with timed(FHIR_FETCH_LATENCY):
        fetched = from_fetched(client.fetch_patient_record(patient_id, types))
    for rtype, err in fetched.errors.items():
        FHIR_FETCH_ERRORS.labels(resource_type=rtype, error=type(err).__name__).inc()
    notes = clip_codes_and_texts(fetched.resources, limits) if limits is not None else []
    if notes:
        fetched = replace(fetched, issues=(*fetched.issues, *notes))
    if isinstance(fetched.errors.get("Medication"), FhirLimitReached):
        # Statements whose Medications were not read cannot say what was taken: their facts are unknown.
        fetched = replace(
            fetched,
            unavailable=fetched.unavailable | ({"MedicationStatement", "MedicationRequest"} & set(types)),
        )
    for rtype, err in fetched.errors.items():
        if rtype == "Patient" and fetched.patient_missing:
            continue
        log.warning("fetch of %s for Patient/%s failed: %s", rtype, patient_id, err.message)
    return fetched
