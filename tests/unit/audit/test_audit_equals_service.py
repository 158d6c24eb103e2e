"""Every audit row is the service's answer for the same record (POST /api/v1/appropriateness), and carries
the order's authoredOn, requester and performer. The records are rebuilt here from the export files, in
memory, independently of the audit's partitioning."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from app import create_app
from app.clinical.assessment import PATIENT_TYPES
from tests.unit.audit.conftest import Audited

VOLATILE = ("consultationId", "latencyMs")
AUDIT_KEYS = ("authoredOn", "requester", "performer", "exportLine")


def _export_by_patient(export: Path) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    patients: dict[str, list[dict[str, Any]]] = defaultdict(list)
    medications: dict[str, dict[str, Any]] = {}
    for path in sorted(export.glob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                res = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(res, dict):
                continue
            if res["resourceType"] == "Medication":
                medications[res["id"]] = res
            elif res["resourceType"] == "Patient":
                patients[res["id"]].append(res)
            else:
                ref = (res.get("subject") or res.get("patient") or {}).get("reference", "")
                patients[ref.split("/")[-1]].append(res)
    return patients, medications


def _bundle(resources: list[dict[str, Any]], medications: dict[str, dict[str, Any]]) -> dict[str, Any]:
    read = {"Patient", "ServiceRequest", *PATIENT_TYPES}  # the types the engine reads (it may grow)
    entries = [r for r in resources if r["resourceType"] in read]
    named = {
        r["medicationReference"]["reference"].split("/")[-1]
        for r in entries
        if isinstance(r.get("medicationReference"), dict)
    }
    entries += [medications[m] for m in sorted(named) if m in medications]
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in entries]}


def _stable(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in VOLATILE + AUDIT_KEYS}


def test_every_audit_row_equals_the_service_answer(audited: Audited, tmp_path: Path) -> None:
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)  # an order naming two studies has two rows
    for line in (audited.out / "results.ndjson").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows[row["serviceRequest"]].append(row)
    patients, medications = _export_by_patient(audited.export)
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "DATABASE_URL": "sqlite://"})
    client = app.test_client()
    compared = 0
    for resources in patients.values():
        orders = [r for r in resources if r["resourceType"] == "ServiceRequest"]
        if not orders:
            continue
        response = client.post("/api/v1/appropriateness", json=_bundle(resources, medications))
        assert response.status_code == 200, response.get_data(as_text=True)
        by_ref = {f"ServiceRequest/{o['id']}": o for o in orders}
        for answer in response.get_json()["results"]:
            row = rows[answer["serviceRequest"]].pop(0)
            order = by_ref[answer["serviceRequest"]]
            assert _stable(row) == _stable(answer)
            assert row["authoredOn"] == order["authoredOn"]
            assert row["requester"] == order["requester"]["reference"]
            assert row["performer"] == [p["reference"] for p in order["performer"]]
            compared += 1
    assert not any(rows.values()), "audit rows without an answer of the service"
    assert compared == audited.outcome.summary.get("total", "all") > 2000
