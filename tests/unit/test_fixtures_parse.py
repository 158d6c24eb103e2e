"""Every FHIR resource under ``fhir_fixtures/`` is valid FHIR (parsed with ``fhir.resources.R4B``).

Covers ``patients/`` (collection Bundles), ``orders/`` (one ServiceRequest each) and ``hooks/`` (CDS Hooks
requests written by another engineer: their ``context.draftOrders`` and ``prefetch`` resources), plus the
cross-fixture rules the FHIR loader relies on: ids unique across all fixtures, references to the patient.
Resources that are malformed on purpose are listed in ``DELIBERATELY_MALFORMED`` with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"

# id -> why it must NOT parse. The scenario table checks that the engine skips and reports it.
DELIBERATELY_MALFORMED: dict[str, str] = {
    "shape-malformed-bad": "Condition.code is a string instead of a CodeableConcept (tests skip-and-report)",
}

# Hook fixtures that replay the public CDS Hooks sandbox verbatim: its draftOrders Bundle has no ``type``
# (required in R4). They are kept as sent because the service must cope with them; they must not validate.
SANDBOX_REPLAYS: dict[str, str] = {
    "hooks/sandbox-first-call.json#0": "sandbox draftOrders: Bundle without type, coding [{}], reasonCode []",
    "hooks/sandbox-order-select.json#0": "sandbox draftOrders: Bundle without type",
}

PATIENT_TYPES = {"Condition", "MedicationStatement", "MedicationRequest", "Procedure", "Device"}


def _json_files(sub: str) -> list[Path]:
    return sorted((FIXTURES / sub).glob("*.json"))


def _hook_resources(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """FHIR resources of a hook fixture: ``{"request": <CDS Hooks request>, ...}`` or a bare request."""
    request = doc.get("request", doc)
    context = request.get("context") or {}
    value = context.get("draftOrders")
    if isinstance(value, dict) and "resourceType" in value:
        yield value
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict) and "resourceType" in value:
            yield value


def _top_level(sub: str) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for path in _json_files(sub):
        doc = json.loads(path.read_text())
        if sub == "hooks":
            for n, res in enumerate(_hook_resources(doc)):
                out.append((f"{sub}/{path.name}#{n}", res))
        else:
            out.append((f"{sub}/{path.name}", doc))
    return out


def _entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]


ALL = _top_level("patients") + _top_level("orders") + _top_level("hooks")


def _validate(resource: dict[str, Any]) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_fixture_directories_are_populated() -> None:
    assert len(_json_files("patients")) >= 40
    assert len(_json_files("orders")) >= 15
    hook_files = _json_files("hooks")
    if hook_files:  # every hook request carries at least its draftOrders Bundle
        assert len(_top_level("hooks")) >= len(hook_files)


@pytest.mark.parametrize(("name", "resource"), ALL, ids=[n for n, _ in ALL])
def test_resource_is_valid_r4(name: str, resource: dict[str, Any]) -> None:
    if name in SANDBOX_REPLAYS:
        with pytest.raises(ValueError):
            _validate(resource)
        return
    if resource["resourceType"] == "Bundle":
        good = [r for r in _entries(resource) if r.get("id") not in DELIBERATELY_MALFORMED]
        bad = [r for r in _entries(resource) if r.get("id") in DELIBERATELY_MALFORMED]
        for entry in good:
            _validate(entry)
        for entry in bad:
            with pytest.raises(ValueError):
                _validate(entry)
        _validate(
            {**resource, "entry": [e for e in resource.get("entry", []) if e.get("resource") not in bad]}
        )
    else:
        _validate(resource)


@pytest.mark.parametrize("path", _json_files("patients"), ids=lambda p: p.name)
def test_patient_bundle_shape(path: Path) -> None:
    bundle = json.loads(path.read_text())
    name = path.stem
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    patient_ref = f"Patient/pt-{name}"
    for entry in bundle["entry"]:
        res = entry["resource"]
        full = entry["fullUrl"]
        assert (
            full.startswith("urn:uuid:")
            or full == f"http://example.org/fhir/{res['resourceType']}/{res['id']}"
        )
        if res["resourceType"] == "Patient":
            assert res["id"] == f"pt-{name}"
            continue
        assert res["id"].startswith(f"{name}-"), res["id"]
        if res["resourceType"] in PATIENT_TYPES:
            ref = (res.get("subject") or res.get("patient") or {}).get("reference")
            assert ref == patient_ref, (res["id"], ref)


@pytest.mark.parametrize("path", _json_files("orders"), ids=lambda p: p.name)
def test_order_shape(path: Path) -> None:
    order = json.loads(path.read_text())
    assert order["resourceType"] == "ServiceRequest"
    assert order["status"] in {"draft", "active"}
    assert order["intent"] == "order"
    assert order["subject"] == {"reference": "Patient/pt-anyone"}
    assert order["authoredOn"] == "2026-11-01"
    assert order["code"].get("coding") or order["code"].get("text")


def test_ids_unique_across_fixtures() -> None:
    seen: dict[str, str] = {}
    for sub in ("patients", "orders"):
        for path in _json_files(sub):
            doc = json.loads(path.read_text())
            resources = _entries(doc) if doc["resourceType"] == "Bundle" else [doc]
            for res in resources:
                key = f"{res['resourceType']}/{res['id']}"
                assert key not in seen, f"{key} in {path.name} and {seen[key]}"
                seen[key] = path.name
    assert len(seen) > 150


def test_malformed_list_is_current() -> None:
    """Every id listed as deliberately malformed exists and really fails validation."""
    found = {
        r["id"]: r
        for path in _json_files("patients")
        for r in _entries(json.loads(path.read_text()))
        if r.get("id") in DELIBERATELY_MALFORMED
    }
    assert set(found) == set(DELIBERATELY_MALFORMED)
    for res in found.values():
        with pytest.raises(ValueError):
            _validate(res)
