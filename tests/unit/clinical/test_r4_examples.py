"""The official FHIR R4 examples (``tests/r4_examples/``, hl7.fhir.r4.examples 4.0.1, CC0) as hostile input.

Every ServiceRequest example goes through ``split_input`` + ``checked_orders`` + ``assess_orders`` with all
the other examples as the patient record. Each must either produce one result per order with a known status, or be refused
with ``app.errors.InvalidInput`` carrying a clear message. Any other exception fails. None of the
examples is a spine imaging order, so every evaluated one must come back ``not-applicable``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.clinical.assessment import PatientRecord, assess_orders, record_from_resources
from app.criteria.loader import load_criteria
from app.errors import InvalidInput
from app.fhir.input import checked_orders, split_input

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "tests" / "r4_examples"
RECORD_TYPES = (
    "Patient",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "Medication",
    "Procedure",
    "Device",
)
STATUSES = {"rated", "insufficient-data", "no-criteria", "not-applicable"}
CPT = "http://www.ama-assn.org/go/cpt"


def _load(prefix: str) -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, json.loads(p.read_text())) for p in sorted(EXAMPLES.glob(f"{prefix}-*.json"))]


SERVICE_REQUESTS = _load("ServiceRequest")
RECORD_RESOURCES = [res for t in RECORD_TYPES for _, res in _load(t)]


@pytest.fixture(scope="module")
def criteria() -> Any:
    return load_criteria(ROOT / "criteria")


@pytest.fixture(scope="module")
def record() -> PatientRecord:
    return record_from_resources(RECORD_RESOURCES)


def test_examples_are_vendored() -> None:
    assert len(SERVICE_REQUESTS) == 20
    assert {res["resourceType"] for res in RECORD_RESOURCES} == set(RECORD_TYPES)
    assert json.loads((EXAMPLES / "package.json").read_text())["license"] == "CC0-1.0"


def test_record_from_all_examples(record: PatientRecord) -> None:
    """The mixed bag of examples becomes a record without raising; every type we read is present."""
    for resource_type in ("Condition", "MedicationStatement", "MedicationRequest", "Procedure", "Device"):
        assert record.resources.get(resource_type), resource_type


@pytest.mark.parametrize(("name", "resource"), SERVICE_REQUESTS, ids=[n for n, _ in SERVICE_REQUESTS])
def test_service_request_example(
    name: str, resource: dict[str, Any], record: PatientRecord, criteria: Any
) -> None:
    try:
        orders, _others = split_input(resource)
        results = [r.to_json() for r in assess_orders(checked_orders(orders), record, criteria)]
    except InvalidInput as exc:
        message = exc.message
        assert len(message) >= 10, f"{name}: unhelpful InvalidInput message {message!r}"
        outcome = exc.to_operation_outcome()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["diagnostics"] == message
        return
    assert len(results) == len(orders) == 1, name
    result = results[0]
    assert isinstance(result, dict), name
    assert result["status"] in STATUSES, (name, result.get("status"))
    assert result["status"] == "not-applicable", (name, result["status"], "not a spine imaging order")


@pytest.mark.parametrize(("name", "resource"), SERVICE_REQUESTS, ids=[n for n, _ in SERVICE_REQUESTS])
def test_service_request_example_recoded_as_spine_mri(
    name: str, resource: dict[str, Any], record: PatientRecord, criteria: Any
) -> None:
    """The same examples with their code replaced by CPT 72148 (MRI lumbar w/o) get past routing step 1.

    The record is a mixed bag (several Patients, unrelated conditions), so any outcome but
    ``not-applicable`` is acceptable; raising anything but InvalidInput is not.
    """
    order = {**resource, "code": {"coding": [{"system": CPT, "code": "72148"}]}}
    try:
        orders, _others = split_input(order)
        results = [r.to_json() for r in assess_orders(checked_orders(orders), record, criteria)]
    except InvalidInput as exc:
        assert len(exc.message) >= 10, f"{name}: unhelpful InvalidInput message {exc.message!r}"
        return
    assert len(results) == 1, name
    assert results[0]["status"] in STATUSES - {"not-applicable"}, (name, results[0]["status"])
    assert results[0]["procedure"]["id"] == "mri-lumbar-wo", name


NOT_ORDERS = _load("Condition") + _load("MedicationStatement")


@pytest.mark.parametrize(("name", "resource"), NOT_ORDERS, ids=[n for n, _ in NOT_ORDERS])
def test_example_alone_is_not_an_order(name: str, resource: dict[str, Any]) -> None:
    """A bare Condition / MedicationStatement is neither a Bundle nor a ServiceRequest: InvalidInput."""
    with pytest.raises(InvalidInput) as info:
        split_input(resource)
    assert len(info.value.message) >= 10, name
