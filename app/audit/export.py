"""Reading a FHIR Bulk Data export: its NDJSON files (optionally gzipped), line by line, and whose each line is.

A line is read once, in a streaming pass; it is never held beyond the line being read. A malformed line
(not JSON, not a resource) is reported with its file and line number, never fatal.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# Resource types a Bulk export of a patient group holds and the audit reads. Observation and
# DiagnosticReport are grouped too; whether the engine reads them is the engine's business.
EXPORT_TYPES = (
    "ServiceRequest",
    "Patient",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "Procedure",
    "Device",
    "Medication",
    "Observation",
    "DiagnosticReport",
)
SUFFIXES = (".ndjson", ".ndjson.gz")


@dataclass(frozen=True)
class Line:
    """One line of the export: where it is, and its resource (``None`` with ``problem`` when malformed)."""

    file: str
    number: int
    raw: str
    resource: dict[str, Any] | None
    problem: str | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.number}"


def export_files(directory: str | Path) -> list[Path]:
    """The export's NDJSON files (``<Type>.ndjson``, ``<Type>.ndjson.gz``, ``<Type>_<n>.ndjson``), sorted."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory")
    return sorted(p for p in root.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))


def _open(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


def read_lines(path: Path) -> Iterator[Line]:
    """Every non-blank line of one file, parsed (a malformed line carries its problem instead)."""
    with _open(path) as handle:
        for number, text in enumerate(handle, start=1):
            raw = text.strip()
            if not raw:
                continue
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as err:
                yield Line(path.name, number, raw, None, f"not JSON ({err.msg} at column {err.colno})")
                continue
            if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
                yield Line(path.name, number, raw, None, "not a FHIR resource (no resourceType)")
                continue
            yield Line(path.name, number, raw, value)


def _patient_id(reference: Any) -> str | None:
    if not isinstance(reference, dict):
        return None
    ref = reference.get("reference")
    if not isinstance(ref, str):
        return None
    parts = ref.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Patient" and parts[-1]:
        return parts[-1]
    return None


def patient_of(resource: dict[str, Any]) -> str | None:
    """The id of the patient a resource belongs to (``Patient.id``, ``subject`` or ``patient``), if any."""
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) and rid else None
    for key in ("subject", "patient"):
        found = _patient_id(resource.get(key))
        if found:
            return found
    return None
