"""``GET /api/v1/consultations/<id>`` and the paged listing, over the real store (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.security.api_auth import ApiAuthenticator
from app.store.consultations import ConsultationStore
from app.web import handlers as web_errors
from app.web.consultations import bp
from tests.unit.store.test_store_suite import record, result


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConsultationStore]:
    opened = ConsultationStore.from_url(f"sqlite:///{tmp_path / 'api.db'}")
    yield opened
    opened.close()


@pytest.fixture
def client(store: ConsultationStore) -> FlaskClient:
    app = Flask(__name__)
    web_errors.register(app)
    app.extensions["spine_auc.store"] = store
    app.extensions["spine_auc.api_auth"] = ApiAuthenticator([], open_on_loopback=True)
    app.register_blueprint(bp)
    return app.test_client()


def test_get_by_id_returns_result_and_audit(client: FlaskClient, store: ConsultationStore) -> None:
    r = result()
    record(store, [r])
    response = client.get(f"/api/v1/consultations/{r.consultation_id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["result"] == r.to_json()
    assert body["audit"]["patient"] == "Patient/p1"
    bare = r.consultation_id.removeprefix("urn:uuid:")
    assert client.get(f"/api/v1/consultations/{bare}").get_json()["consultationId"] == r.consultation_id


def test_unknown_id_is_404_operation_outcome(client: FlaskClient) -> None:
    response = client.get("/api/v1/consultations/urn:uuid:00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "not-found"


def test_list_by_patient_is_paged(client: FlaskClient, store: ConsultationStore) -> None:
    ids = []
    for n in range(3):
        r = result(n)
        ids.append(r.consultation_id)
        record(store, [r], patient="Patient/abc")
    first = client.get("/api/v1/consultations?patient=Patient/abc&limit=2").get_json()
    assert [c["consultationId"] for c in first["consultations"]] == [ids[2], ids[1]]
    assert first["next"]
    second = client.get(
        f"/api/v1/consultations?patient=Patient/abc&limit=2&cursor={first['next']}"
    ).get_json()
    assert [c["consultationId"] for c in second["consultations"]] == [ids[0]]
    assert second["next"] is None


def test_list_by_order(client: FlaskClient, store: ConsultationStore) -> None:
    r = result(order="ServiceRequest/o-1")
    record(store, [r, result(order="ServiceRequest/o-2")])
    body = client.get("/api/v1/consultations?order=ServiceRequest/o-1").get_json()
    assert [c["consultationId"] for c in body["consultations"]] == [r.consultation_id]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?patient=Patient/abc&limit=abc",
        "?patient=Patient/abc&limit=0",
        "?patient=Patient/abc&limit=100000",
        "?patient=Patient/abc&cursor=%%%",
    ],
)
def test_bad_listing_query_is_400_operation_outcome(client: FlaskClient, query: str) -> None:
    response = client.get("/api/v1/consultations" + query)
    assert response.status_code == 400
    assert response.get_json()["resourceType"] == "OperationOutcome"
