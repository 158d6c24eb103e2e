"""The FHIR client and the fixture loader against a real FHIR R4 server.

The server is sekmet-fhir started by the fixture, or whatever ``$SPINE_AUC_TEST_FHIR_BASE`` points at.

Assertions are server-agnostic: no ids, ETags or default page sizes of a particular server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.fhir.client import FhirClient, client_for
from app.fhir.errors import FhirInvalidResponse, FhirNotFound
from app.fhir.fixtures import load_fixtures, transaction_for

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent / "data"
PATIENT = "pt-h3-paging"
NAPROXEN = "h3-paging-med-naproxen"


@pytest.fixture(scope="module")
def own_data(fhir_base_url: str) -> dict[str, Any]:
    """Our own small patient (7 Conditions, referenced + contained Medications), loaded once."""
    return load_fixtures(DATA, FhirClient(fhir_base_url, timeout=30.0, deadline=60.0))


def test_server_is_fhir_r4(fhir_base_url: str) -> None:
    caps = FhirClient(fhir_base_url).capabilities()
    assert caps["fhirVersion"].startswith("4.0")


def test_loader_puts_every_resource_of_the_bundle(own_data: dict[str, Any]) -> None:
    assert own_data["rejected"] == []
    assert own_data["by_type"] == {
        "Condition": 7,
        "Medication": 1,
        "MedicationRequest": 2,
        "MedicationStatement": 3,
        "Patient": 1,
    }
    assert own_data["transactions"] == 1
    assert own_data["posted_without_id"] == 0


def test_reloading_is_idempotent(fhir_base_url: str, own_data: dict[str, Any]) -> None:
    again = load_fixtures(DATA, FhirClient(fhir_base_url, timeout=30.0, deadline=60.0))
    assert again["by_type"] == own_data["by_type"]
    got = FhirClient(fhir_base_url).search("Condition", {"patient": PATIENT, "_count": "100"})
    assert len(got) == 7  # PUT by id: no duplicates


def test_search_follows_next_links_across_several_pages(fhir_base_url: str, own_data: dict[str, Any]) -> None:
    got = FhirClient(fhir_base_url).search("Condition", {"patient": PATIENT, "_count": "3"})
    ids = [r["id"] for r in got]
    assert sorted(ids) == sorted(f"h3-paging-cond-{i}" for i in range(1, 8))
    assert len(set(ids)) == 7
    # urn:uuid subject references were rewritten to Patient/<id> by the loader, so patient= finds them all.
    assert {r["subject"]["reference"] for r in got} == {f"Patient/{PATIENT}"}


def test_count_sets_the_page_size(fhir_base_url: str, own_data: dict[str, Any]) -> None:
    # 7 Conditions with _count=3 need 3 pages: a cap of 2 pages must trip; with _count=100 one page suffices.
    with pytest.raises(FhirInvalidResponse, match="more than 2 pages"):
        FhirClient(fhir_base_url, page_cap=2).search("Condition", {"patient": PATIENT, "_count": "3"})
    one_page = FhirClient(fhir_base_url, page_cap=1).search(
        "Condition", {"patient": PATIENT, "_count": "100"}
    )
    assert len(one_page) == 7


def test_missing_patient_is_not_found_with_an_operation_outcome(fhir_base_url: str) -> None:
    with pytest.raises(FhirNotFound) as info:
        FhirClient(fhir_base_url).read("Patient", "h3-does-not-exist")
    assert info.value.status == 404
    assert info.value.outcome is not None and info.value.outcome["resourceType"] == "OperationOutcome"


def test_record_of_a_missing_patient(fhir_base_url: str) -> None:
    got = FhirClient(fhir_base_url).fetch_patient_record("h3-does-not-exist")
    assert isinstance(got["Patient"], FhirNotFound)
    for rtype in (
        "Condition",
        "MedicationStatement",
        "MedicationRequest",
        "Procedure",
        "Device",
        "Medication",
    ):
        assert got[rtype] == [], rtype


def test_record_with_referenced_and_contained_medications(
    fhir_base_url: str, own_data: dict[str, Any]
) -> None:
    got = client_for(fhir_base_url, deadline=10.0).fetch_patient_record(PATIENT)
    patient = got["Patient"]
    assert isinstance(patient, list) and patient[0]["id"] == PATIENT
    assert len(got["Condition"]) == 7  # type: ignore[arg-type]
    statements = got["MedicationStatement"]
    assert isinstance(statements, list) and len(statements) == 3
    assert len(got["MedicationRequest"]) == 2  # type: ignore[arg-type]
    assert got["Procedure"] == [] and got["Device"] == []
    meds = got["Medication"]
    # Referenced by two statements and a request: read once, returned once. The dangling one is skipped.
    assert isinstance(meds, list)
    assert [m["id"] for m in meds] == [NAPROXEN]
    assert meds[0]["code"]["coding"][0]["code"] == "7258"
    # The contained Medication stays inside its statement.
    contained = next(s for s in statements if s["id"] == "h3-paging-ms-contained")
    assert contained["medicationReference"]["reference"] == "#med1"
    assert contained["contained"][0]["code"]["coding"][0]["code"] == "7258"


def test_project_patient_fixtures_load(
    loaded_fhir_base_url: str, loaded_fixtures_report: dict[str, Any]
) -> None:
    report = loaded_fixtures_report
    assert report["files"] >= 1 and report["resources"] >= report["files"]
    # Only the deliberately malformed Condition may be refused (servers that validate refuse it).
    assert all("shape-malformed" in r for r in report["rejected"]), report["rejected"]
    if report["rejected"]:
        # The refused transaction was retried entry by entry: the file's valid resources still loaded.
        rest = FhirClient(loaded_fhir_base_url).fetch_patient_record(
            "pt-shape-malformed", ["Patient", "Condition"]
        )
        assert [c["id"] for c in rest["Condition"]] == ["shape-malformed-lbp"]  # type: ignore[union-attr]
    got = FhirClient(loaded_fhir_base_url).fetch_patient_record("pt-lbp-acute")
    assert isinstance(got["Patient"], list) and got["Patient"][0]["id"] == "pt-lbp-acute"
    conditions = got["Condition"]
    assert isinstance(conditions, list) and conditions
    codes = {c["code"] for r in conditions for c in r.get("code", {}).get("coding", [])}
    assert "M54.50" in codes


def test_cli_fixtures_load(fhir_base_url: str, own_data: dict[str, Any]) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "fixtures",
            "load",
            "--fhir-base",
            fhir_base_url,
            "--dir",
            str(DATA),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["resources"] == 14 and out["rejected"] == []


def test_cli_fixtures_load_fails_with_one_line_when_the_server_is_down(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{s.getsockname()[1]}/fhir"
        proc = subprocess.run(
            [sys.executable, "-m", "app.cli", "fixtures", "load", "--fhir-base", base, "--dir", str(DATA)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Connection refused" in proc.stderr


def test_transaction_puts_by_id_posts_without_id_and_resolves_full_urls() -> None:
    patient_url = "urn:uuid:0b6c0b1e-1111-4000-8000-000000000001"
    bundle = transaction_for(
        [
            (patient_url, {"resourceType": "Patient", "id": "pt-x"}),
            (
                "http://example.org/fhir/Condition/c-x",
                {"resourceType": "Condition", "id": "c-x", "subject": {"reference": patient_url}},
            ),
            (
                None,
                {
                    "resourceType": "Condition",
                    "subject": {"reference": "http://example.org/fhir/Condition/c-x"},
                },
            ),
        ]
    )
    assert bundle["type"] == "transaction"
    assert [e["request"] for e in bundle["entry"]] == [
        {"method": "PUT", "url": "Patient/pt-x"},
        {"method": "PUT", "url": "Condition/c-x"},
        {"method": "POST", "url": "Condition"},
    ]
    assert bundle["entry"][1]["resource"]["subject"] == {"reference": "Patient/pt-x"}
    assert bundle["entry"][2]["resource"]["subject"] == {"reference": "Condition/c-x"}
