"""One Dask task: a partition's spill file → its patients' records → one result row per order.

The orders go through the service's own path: :func:`app.fhir.input.checked_orders` (an invalid order is
reported with its file and line, not evaluated) and :func:`app.clinical.assessment.assess_orders` over
:func:`app.clinical.assessment.record_from_resources` of the patient's resources, so an audit row is the
answer the service gives for the same record. Memory: one partition (a few MB of export).
"""

from __future__ import annotations

import json
import resource
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

from app.audit.partition import MEDICATIONS, spill_path
from app.audit.results import invalid_path, part_path, write_atomically
from app.clinical.assessment import PATIENT_TYPES, assess_orders, record_from_resources
from app.criteria.loader import load_criteria
from app.criteria.model import Criteria
from app.errors import InvalidInput
from app.fhir.input import checked_orders

_CRITERIA: dict[str, Criteria] = {}  # per worker process: criteria are loaded once


def _criteria(directory: str) -> Criteria:
    if directory not in _CRITERIA:
        _CRITERIA[directory] = load_criteria(directory)
    return _CRITERIA[directory]


def warm_worker(criteria_dir: str) -> str:
    """Load the criteria in this worker process (run once per worker before the first task)."""
    return _criteria(criteria_dir).version


def _reference(value: Any) -> str | None:
    ref = value.get("reference") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) else None


def audit_row(result_json: dict[str, Any], order: dict[str, Any], where: str) -> dict[str, Any]:
    """The §7 result plus the order's ``authoredOn``, requester and performer references, and its line."""
    performers = [_reference(p) for p in order.get("performer", []) or [] if isinstance(p, dict)]
    authored = order.get("authoredOn")
    return {
        **result_json,
        "authoredOn": authored if isinstance(authored, str) else None,
        "requester": _reference(order.get("requester")),
        "performer": [p for p in performers if p],
        "exportLine": where,
    }


def record_resources(
    resources: list[dict[str, Any]], medications: sqlite3.Connection
) -> list[dict[str, Any]]:
    """The patient's resources the engine reads, plus the Medications their medicationReferences name."""
    readable = {"Patient", *PATIENT_TYPES}
    kept = [r for r in resources if r.get("resourceType") in readable]
    wanted = {
        ref.split("/")[-1]
        for r in kept
        if (ref := _reference(r.get("medicationReference"))) and "/Medication/" in "/" + ref
    }
    for rid in sorted(wanted):
        row = medications.execute("SELECT json FROM medication WHERE id = ?", (rid,)).fetchone()
        if row is not None:
            kept.append(json.loads(row[0]))
    return kept


def patient_groups(work: Path, index: int) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """The partition's resources by patient id, each with its ``file:line``."""
    from app.audit.export import patient_of

    files = json.loads((work / "files.json").read_text(encoding="utf-8"))
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    with spill_path(work, index).open("r", encoding="utf-8") as handle:
        for text in handle:
            file_index, number, raw = text.rstrip("\n").split("\t", 2)
            resource = json.loads(raw)
            patient = patient_of(resource)
            if patient is not None:
                groups[patient].append((f"{files[int(file_index)]}:{number}", resource))
    return groups


def evaluate_partition(work: str, index: int, out: str, criteria_dir: str) -> dict[str, Any]:
    """Evaluate one partition and write its results file atomically; returns counts and invalid orders."""
    criteria = _criteria(criteria_dir)
    work_path = Path(work)
    rows: list[str] = []
    invalid: list[str] = []
    patients = 0
    medications = sqlite3.connect(f"file:{work_path / MEDICATIONS}?mode=ro", uri=True)
    try:
        for _patient, items in sorted(patient_groups(work_path, index).items()):
            orders = [(w, r) for w, r in items if r.get("resourceType") == "ServiceRequest"]
            if not orders:
                continue
            patients += 1
            valid: list[tuple[str, dict[str, Any]]] = []
            for where, order in orders:
                try:
                    checked_orders([order])
                except InvalidInput as err:
                    invalid.append(f"{where}: {err.message}")
                    continue
                valid.append((where, order))
            others = record_resources(
                [r for _, r in items if r.get("resourceType") != "ServiceRequest"], medications
            )
            record = record_from_resources(others)
            for where, order in valid:  # one result per study the order names (clinical-rules §1.3)
                for result in assess_orders([order], record, criteria):
                    row = audit_row(result.to_json(), order, where)
                    rows.append(json.dumps(row, separators=(",", ":"), ensure_ascii=False))
    finally:
        medications.close()
    # The invalid-order list first: a partition counts as done once its results file exists.
    write_atomically(invalid_path(Path(out), index), "".join(line + "\n" for line in invalid))
    write_atomically(part_path(Path(out), index), "".join(r + "\n" for r in rows))
    return {
        "partition": index,
        "orders": len(rows) + len(invalid),
        "results": len(rows),
        "patients": patients,
        "invalid": len(invalid),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),  # KiB on Linux
    }
