"""``/metrics`` in Prometheus text format, ``/readyz``, and the app's own 414/431 answers (#12 finding 5)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from app.metrics import count_token_refusal
from tests.contract.cds_app import make_app

HOOKS = Path(__file__).resolve().parents[2] / "fhir_fixtures" / "hooks"
SELECT = "/cds-services/spine-auc-order-select"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    yield make_app(Path(tmp_path_factory.mktemp("metrics")))


def _samples(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _request() -> dict[str, Any]:
    return copy.deepcopy(json.loads((HOOKS / "prefetch-full-rated-appropriate.json").read_text())["request"])


def test_requests_latency_outcomes_and_store_writes_are_counted(app: Flask) -> None:
    before = _samples(app)
    client = app.test_client()
    assert client.post(SELECT, json=_request()).status_code == 200
    assert client.post("/cds-services/nope", json=_request()).status_code == 404
    after = _samples(app)

    route = "/cds-services/<service_id>"
    name = "spine_auc_http_requests_total"
    assert _value(after, name, route=route, method="POST", status="200") == (
        _value(before, name, route=route, method="POST", status="200") + 1
    )
    assert _value(after, name, route=route, method="POST", status="404") == (
        _value(before, name, route=route, method="POST", status="404") + 1
    )
    latency = "spine_auc_http_request_duration_seconds_count"
    assert (
        _value(after, latency, route=route, status="200")
        == _value(before, latency, route=route, status="200") + 1
    )
    outcomes = {k: v for k, v in after.items() if k[0] == "spine_auc_outcomes_total"}
    assert any(
        dict(labels)["status"] == "rated" and dict(labels)["topic"] != "none" for _, labels in outcomes
    )
    writes = "spine_auc_store_write_duration_seconds_count"
    assert _value(after, writes, kind="consultations") == _value(before, writes, kind="consultations") + 1


def test_token_refusals_are_counted_by_reason(app: Flask) -> None:
    before = _value(_samples(app), "spine_auc_token_refusals_total", reason="expired")
    count_token_refusal("expired")
    assert _value(_samples(app), "spine_auc_token_refusals_total", reason="expired") == before + 1


def test_fhir_fetch_errors_are_counted(app: Flask) -> None:
    request = _request()
    del request["prefetch"]["procedures"]
    request["fhirServer"] = "http://127.0.0.1:9/fhir"  # nothing listens on the discard port
    before = _samples(app)
    assert app.test_client().post(SELECT, json=request).status_code == 200
    after = _samples(app)
    fetches = "spine_auc_fhir_fetch_duration_seconds_count"
    assert _value(after, fetches) == _value(before, fetches) + 1
    errors = "spine_auc_fhir_fetch_errors_total"
    assert _value(after, errors, resource_type="Procedure", error="FhirUnavailable") == (
        _value(before, errors, resource_type="Procedure", error="FhirUnavailable") + 1
    )


def test_unmatched_paths_share_one_label(app: Flask) -> None:
    app.test_client().get("/no/such/path/12345")
    assert not any("12345" in str(labels) for _, labels in _samples(app))


def test_readyz_checks_the_store_and_the_criteria(app: Flask, tmp_path: Path) -> None:
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"

    broken = make_app(tmp_path)
    broken.extensions["spine_auc.store"].engine.dispose()
    (tmp_path / "cds.db").unlink()
    (tmp_path / "cds.db").mkdir()  # a directory where the database was: every query fails
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome" and "audit store" in body["issue"][0]["diagnostics"]


def test_an_over_long_uri_is_414_and_an_over_long_header_431_as_operation_outcomes(app: Flask) -> None:
    client = app.test_client()
    long_uri = client.get("/healthz?x=" + "a" * 5000)
    assert long_uri.status_code == 414
    assert long_uri.get_json()["resourceType"] == "OperationOutcome"
    long_header = client.get("/healthz", headers={"X-Big": "b" * 9000})
    assert long_header.status_code == 431
    assert long_header.get_json()["issue"][0]["code"] == "too-long"
    assert client.get("/healthz?x=" + "a" * 3000).status_code == 200


def test_a_refused_token_is_counted_by_its_rfc6750_error(app: Flask) -> None:
    before = _value(_samples(app), "spine_auc_token_refusals_total", reason="invalid_request")
    response = app.test_client().post("/api/v1/appropriateness?access_token=abc", json={})
    assert response.status_code == 401
    assert _value(_samples(app), "spine_auc_token_refusals_total", reason="invalid_request") == before + 1
