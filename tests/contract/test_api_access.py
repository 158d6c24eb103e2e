"""Access control of the REST API, the FHIR operation and the consultation reads (#12 findings 1 and 4).

Real app, real store, API client tokens signed with keys generated here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.security.api_auth import SCOPE_CONSULTATIONS_READ, SCOPE_EVALUATE
from tests.jwt_keys import KeyPair, api_claims

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads((ROOT / "fhir_fixtures" / "examples" / "lbp-v3-mri.json").read_text())
ISS = "https://auth.example.org"
AUD = "https://auc.example.org"
BOTH = f"{SCOPE_EVALUATE} {SCOPE_CONSULTATIONS_READ}"
PROTECTED = [
    ("post", "/api/v1/appropriateness"),
    ("post", "/fhir/ServiceRequest/$appropriateness"),
    ("post", "/fhir/ServiceRequest/sr-1/$appropriateness"),
    ("get", "/api/v1/consultations?patient=Patient/pt-1"),
    ("get", "/api/v1/consultations/urn:uuid:00000000-0000-4000-8000-000000000000"),
]


def make_app(tmp_path: Path, **overrides: Any) -> Flask:
    config: dict[str, Any] = {"TESTING": True, "DATA_DIR": str(tmp_path), "FHIR_BASE_URL": None}
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="module")
def key() -> KeyPair:
    return KeyPair("ES384", "api-1")


@pytest.fixture
def secured(tmp_path: Path, key: KeyPair) -> FlaskClient:
    issuers = [{"iss": ISS, "jwks_file": key.write_jwks(tmp_path / "api-jwks.json"), "audiences": [AUD]}]
    return make_app(tmp_path, BIND_HOST="0.0.0.0", API_TRUSTED_ISSUERS=issuers).test_client()


def auth(key: KeyPair, scope: str = BOTH, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.sign(api_claims(ISS, AUD, scope, **claims))}"}


def call(client: FlaskClient, method: str, path: str, **kwargs: Any) -> Any:
    if method == "post":
        return client.post(path, json=None if "/sr-1/" in path else EXAMPLE, **kwargs)
    return client.get(path, **kwargs)


def assert_401(response: Any) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="spine-auc"')
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "login"


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_public_bind_without_api_issuer_answers_401(tmp_path: Path, method: str, path: str) -> None:
    client = make_app(tmp_path, BIND_HOST="0.0.0.0", ALLOW_UNAUTHENTICATED=True).test_client()
    assert_401(call(client, method, path))


def test_loopback_with_cds_issuers_but_no_api_issuer_answers_401(tmp_path: Path, key: KeyPair) -> None:
    cds = [{"iss": "https://ehr.example.org", "jwks_file": key.write_jwks(tmp_path / "ehr.json")}]
    client = make_app(tmp_path, BIND_HOST="127.0.0.1", CDS_TRUSTED_ISSUERS=cds).test_client()
    assert_401(client.get("/api/v1/consultations?patient=Patient/pt-1"))
    assert_401(client.post("/api/v1/appropriateness", json=EXAMPLE))


def test_embedded_default_stays_open_to_loopback(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    assert client.post("/api/v1/appropriateness", json=EXAMPLE).status_code == 200
    assert client.get("/api/v1/consultations?patient=Patient/pt-1").status_code == 200
    remote = client.get(
        "/api/v1/consultations?patient=Patient/pt-1", environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert_401(remote)


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_secured_routes_need_a_token(secured: FlaskClient, method: str, path: str) -> None:
    assert_401(call(secured, method, path))
    assert_401(call(secured, method, path, headers={"Authorization": "Bearer not-a-token"}))


def test_token_in_the_query_string_is_refused_even_in_open_mode(tmp_path: Path, key: KeyPair) -> None:
    client = make_app(tmp_path).test_client()
    token = key.sign(api_claims(ISS, AUD, BOTH))
    for path in ("/api/v1/consultations?patient=Patient/pt-1&access_token=", "/cds-services?access_token="):
        response = client.get(path + token)
        assert_401(response)
        assert token not in response.get_data(as_text=True)


def test_evaluate_and_read_back_with_the_right_scopes(secured: FlaskClient, key: KeyPair) -> None:
    evaluated = secured.post("/api/v1/appropriateness", json=EXAMPLE, headers=auth(key, SCOPE_EVALUATE))
    assert evaluated.status_code == 200, evaluated.get_data(as_text=True)
    consultation = evaluated.get_json()["results"][0]["consultationId"]
    forbidden = secured.get(f"/api/v1/consultations/{consultation}", headers=auth(key, SCOPE_EVALUATE))
    assert forbidden.status_code == 403
    assert 'error="insufficient_scope"' in forbidden.headers["WWW-Authenticate"]
    assert forbidden.get_json()["resourceType"] == "OperationOutcome"
    read = secured.get(f"/api/v1/consultations/{consultation}", headers=auth(key, SCOPE_CONSULTATIONS_READ))
    assert read.status_code == 200
    assert read.get_json()["audit"]["tenant"] == "scheduler-1"
    assert read.get_json()["audit"]["callerIss"] == ISS
    operation = secured.post(
        "/fhir/ServiceRequest/$appropriateness", json=EXAMPLE, headers=auth(key, SCOPE_CONSULTATIONS_READ)
    )
    assert operation.status_code == 403
    operation = secured.post("/fhir/ServiceRequest/$appropriateness", json=EXAMPLE, headers=auth(key))
    assert operation.status_code == 200 and operation.get_json()["resourceType"] == "Bundle"


def _subject() -> str:
    for entry in EXAMPLE["entry"]:
        if entry["resource"]["resourceType"] == "ServiceRequest":
            return str(entry["resource"]["subject"]["reference"])
    raise AssertionError("example has no ServiceRequest")


def test_reads_are_scoped_to_the_callers_tenant_and_cursors_do_not_cross(
    secured: FlaskClient, key: KeyPair
) -> None:
    for tenant in ("clinic-a", "clinic-a", "clinic-a", "clinic-b"):
        response = secured.post("/api/v1/appropriateness", json=EXAMPLE, headers=auth(key, tenant=tenant))
        assert response.status_code == 200
    listing = f"/api/v1/consultations?patient={quote(_subject())}&limit=2"
    page_a = secured.get(listing, headers=auth(key, tenant="clinic-a")).get_json()
    assert len(page_a["consultations"]) == 2 and page_a["next"]
    assert {c["audit"]["tenant"] for c in page_a["consultations"]} == {"clinic-a"}
    rest_a = secured.get(
        f"{listing}&cursor={page_a['next']}", headers=auth(key, tenant="clinic-a")
    ).get_json()
    assert len(rest_a["consultations"]) == 1 and rest_a["next"] is None
    page_b = secured.get(listing, headers=auth(key, tenant="clinic-b")).get_json()
    assert [c["audit"]["tenant"] for c in page_b["consultations"]] == ["clinic-b"]
    # Tenant B replays tenant A's cursor: refused, not a walk through A's history.
    walked = secured.get(f"{listing}&cursor={page_a['next']}", headers=auth(key, tenant="clinic-b"))
    assert walked.status_code == 400 and walked.get_json()["issue"][0]["expression"] == ["cursor"]
    # A's consultation by id is not found for B.
    consultation_a = page_a["consultations"][0]["consultationId"]
    assert (
        secured.get(
            f"/api/v1/consultations/{consultation_a}", headers=auth(key, tenant="clinic-b")
        ).status_code
        == 404
    )
    assert (
        secured.get(
            f"/api/v1/consultations/{consultation_a}", headers=auth(key, tenant="clinic-a")
        ).status_code
        == 200
    )


def test_documentation_and_health_stay_open(secured: FlaskClient) -> None:
    assert secured.get("/openapi.json").status_code == 200
    assert secured.get("/healthz").status_code == 200
