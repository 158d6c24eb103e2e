"""`spine-auc evaluate`: bundles, bare orders with --patient-bundle, text output, and unreadable input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CPT, condition, med, order, patient

from app.cli import main


def write(tmp_path: Path, name: str, doc: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def bundle(*resources: dict, btype: str | None = "collection") -> dict:
    doc: dict = {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}
    if btype:
        doc["type"] = btype
    return doc


RECORD = (patient(), condition("c", "M54.50", onset="2026-05-01"), med("m", "7258", start="2026-09-01"))


def test_bundle_with_two_orders_prints_two_results(tmp_path):
    path = write(tmp_path, "b.json", bundle(*RECORD, order((CPT, "72148")), order((CPT, "71046"), sid="sr2")))
    result = CliRunner().invoke(main, ["evaluate", path])
    assert result.exit_code == 0, result.output
    results = json.loads(result.output)["results"]
    assert [r["status"] for r in results] == ["rated", "not-applicable"]
    assert results[0]["variant"]["number"] == 3


def test_every_bundle_type_is_read(tmp_path):
    for btype in ("transaction", "searchset", None):
        path = write(tmp_path, f"b-{btype}.json", bundle(*RECORD, order((CPT, "72148")), btype=btype))
        result = CliRunner().invoke(main, ["evaluate", path])
        assert result.exit_code == 0 and '"rated"' in result.output, (btype, result.output)


def test_bare_order_with_patient_bundle_and_text_format(tmp_path):
    sr = write(tmp_path, "sr.json", order((CPT, "72100")))
    pb = write(tmp_path, "pb.json", bundle(*RECORD))
    result = CliRunner().invoke(main, ["evaluate", sr, "--patient-bundle", pb, "--format", "text"])
    assert result.exit_code == 0, result.output
    assert "Radiography lumbar spine — rated, may-be-appropriate" in result.output
    assert "→ MRI lumbar spine without IV contrast: usually-appropriate" in result.output


def test_evaluation_outcomes_other_than_rated_still_exit_zero(tmp_path):
    path = write(
        tmp_path,
        "b.json",
        bundle(
            patient(), condition("c", "M54.50"), med("m", "7258", start="2026-09-01"), order((CPT, "72148"))
        ),
    )
    result = CliRunner().invoke(main, ["evaluate", path])
    assert result.exit_code == 0
    assert json.loads(result.output)["results"][0]["status"] == "insufficient-data"


def test_unreadable_inputs_exit_non_zero_with_one_line_reason(tmp_path):
    cases = {
        "not-json.json": "{oops",
        "patient.json": json.dumps(patient()),
        "empty-bundle.json": json.dumps(bundle(patient())),
        "bad-order.json": json.dumps({"resourceType": "ServiceRequest", "id": "x", "status": "draft"}),
    }
    expected = {
        "not-json.json": "not valid JSON",
        "patient.json": "expected a Bundle or a ServiceRequest",
        "empty-bundle.json": "contains no ServiceRequest",
        "bad-order.json": "invalid ServiceRequest",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = CliRunner().invoke(main, ["evaluate", str(path)])
        assert result.exit_code != 0, name
        assert expected[name] in result.output, (name, result.output)
        assert "Traceback" not in result.output
    missing = CliRunner().invoke(main, ["evaluate", str(tmp_path / "nope.json")])
    assert missing.exit_code != 0 and "file not found" in missing.output


EXAMPLES = {
    "lbp-v3-mri": ("rated", "usually-appropriate"),
    "lbp-v1-acute-mri": ("rated", "usually-not-appropriate"),
    "lbp-v7-cancer-xr": ("rated", "may-be-appropriate-disagreement"),
    "lbp-unknown-onset-insufficient": ("insufficient-data", None),
    "m1-mr-unsafe-mri": ("rated", "usually-not-appropriate"),
    "mr-unsafe-pacemaker-ct": ("rated", "may-be-appropriate"),
    "short-nsaid-course-mri": ("rated", "usually-not-appropriate"),
    "fever-ivdu-mri": ("insufficient-data", None),
    "tbp-region-mismatch-lumbar-mri": ("no-criteria", None),  # thoracic symptoms, lumbar MRI (§3 step 5)
}


#: Examples whose documented answer is not implemented yet (strict xfails, with the reason).
PENDING_EXAMPLES: dict[str, str] = {}


def test_the_examples_folder_is_what_the_readme_documents():
    from conftest import REPO

    assert {p.stem for p in (REPO / "fhir_fixtures" / "examples").glob("*.json")} == set(EXAMPLES)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=PENDING_EXAMPLES[n]))
        if n in PENDING_EXAMPLES
        else n
        for n in EXAMPLES
    ],
)
def test_readme_examples_evaluate_as_documented(name: str) -> None:
    from conftest import REPO

    status, category = EXAMPLES[name]
    result = CliRunner().invoke(main, ["evaluate", str(REPO / "fhir_fixtures" / "examples" / f"{name}.json")])
    assert result.exit_code == 0, (name, result.output)
    r = json.loads(result.output)["results"][0]
    assert (r["status"], r["category"]) == (status, category), name


def test_store_purge_applies_the_retention_period(tmp_path, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from app.store import tables as store_schema
    from app.store.consultations import ConsultationStore
    from tests.results import rated

    monkeypatch.setenv("SPINE_AUC_DATA_DIR", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'spine-auc.db'}"
    db = ConsultationStore.from_url(url)
    results = [
        rated(
            consultation_id=f"urn:uuid:00000000-0000-0000-0000-00000000000{n}",
            service_request=f"ServiceRequest/s{n}",
            criteria_version="x",
        )
        for n in range(2)
    ]
    db.record_consultations(
        results,
        hook_instance=None,
        request_id=None,
        caller_iss=None,
        tenant=None,
        patient="Patient/p1",
        latency_ms=1.0,
    )
    with db.engine.begin() as conn:  # age one of them
        conn.execute(
            update(store_schema.consultations)
            .where(store_schema.consultations.c.consultation_id == results[0].consultation_id)
            .values(created_at=datetime.now(UTC) - timedelta(days=40))
        )
    out = CliRunner().invoke(main, ["store", "purge", "--days", "30"])
    assert out.exit_code == 0, out.output
    assert "purged 1 consultation(s)" in out.output
    assert db.get_consultation(results[0].consultation_id) is None
    assert db.get_consultation(results[1].consultation_id) is not None
    db.close()


def test_evaluate_takes_the_clinicians_answers_from_a_questionnaire_response(tmp_path: Path) -> None:
    """A QuestionnaireResponse in the input Bundle answers the result's questionnaire (CLI)."""
    from conftest import REPO

    hook = json.loads((REPO / "fhir_fixtures/hooks/prefetch-full-insufficient-data.json").read_text())
    request = hook["request"]
    entries = list(request["context"]["draftOrders"]["entry"])
    for value in request["prefetch"].values():
        entries += value.get("entry", []) if value.get("resourceType") == "Bundle" else [{"resource": value}]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    first = tmp_path / "first.json"
    first.write_text(json.dumps(bundle))
    out = CliRunner().invoke(main, ["evaluate", str(first)])
    (result,) = json.loads(out.output)["results"]
    assert result["status"] == "insufficient-data" and result["questionnaire"]["item"]
    item = result["questionnaire"]["item"][0]
    option = item["answerOption"][1]["valueCoding"]
    answer = {
        "resourceType": "QuestionnaireResponse",
        "id": "qr-cli",
        "status": "completed",
        "item": [{"linkId": item["linkId"], "answer": [{"valueCoding": option}]}],
    }
    bundle["entry"].append({"resource": answer})
    answered = tmp_path / "answered.json"
    answered.write_text(json.dumps(bundle))
    out = CliRunner().invoke(main, ["evaluate", str(answered), "--format", "text"])
    assert out.exit_code == 0, out.output
    assert "rated, usually-appropriate" in out.output
    assert "(answered by the ordering clinician) [QuestionnaireResponse/qr-cli]" in out.output
