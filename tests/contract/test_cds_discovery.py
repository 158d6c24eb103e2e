"""Discovery, CORS and the authentication hook point of the CDS Hooks service."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask.testing import FlaskClient

from tests.contract.cds_app import make_app

REPO = Path(__file__).resolve().parents[2]
SELECT = "/cds-services/spine-auc-order-select"
TOKEN_RE = re.compile(r"\{\{([^}]*)\}\}")
# CDS Hooks 2.0: only root-level primitive context fields and the user identifiers may be prefetch tokens.
ALLOWED_TOKENS = {
    "context.userId",
    "context.patientId",
    "context.encounterId",
    "userPractitionerId",
    "userPractitionerRoleId",
    "userPatientId",
    "userRelatedPersonId",
}


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return make_app(tmp_path).test_client()


def fixture_request(name: str) -> dict[str, Any]:
    body = json.loads((REPO / "fhir_fixtures" / "hooks" / f"{name}.json").read_text())["request"]
    body["hookInstance"] = str(uuid.uuid4())
    return dict(body)


def test_discovery_lists_order_select_and_order_sign(client: FlaskClient) -> None:
    resp = client.get("/cds-services")
    assert resp.status_code == 200
    services = resp.get_json()["services"]
    assert {s["hook"] for s in services} == {"order-select", "order-sign"}
    for service in services:
        assert service["id"] and service["description"] and service["title"]  # id, description REQUIRED
        assert re.fullmatch(r"[A-Za-z0-9\-]+", service["id"])
        resp_call = client.post(f"/cds-services/{service['id']}", json={})
        assert resp_call.status_code == 400  # the advertised URL exists (and rejects an empty body)


def test_prefetch_templates_use_only_cds_hooks_2_tokens(client: FlaskClient) -> None:
    for service in client.get("/cds-services").get_json()["services"]:
        prefetch = service["prefetch"]
        types = {template.split("?")[0].split("/")[0] for template in prefetch.values()}
        assert types == {
            "Patient",
            "Condition",
            "MedicationStatement",
            "MedicationRequest",
            "Procedure",
            "Device",
            "DiagnosticReport",
            "Observation",
        }
        for template in prefetch.values():
            tokens = TOKEN_RE.findall(template)
            assert tokens, template
            assert set(tokens) <= ALLOWED_TOKENS, template
            assert "_include" not in template and "." not in template.split("?")[-1].replace("context.", "")


def test_discovery_has_no_empty_or_null_values(client: FlaskClient) -> None:
    def walk(value: Any) -> None:
        assert value not in (None, "", [], {})
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(client.get("/cds-services").get_json())


# -- CORS --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/cds-services", SELECT, f"{SELECT}/feedback"])
def test_preflight_succeeds_without_a_jwt_and_allows_authorization(tmp_path: Path, path: str) -> None:
    # a deployment that requires JWTs (non-loopback bind, no open mode): the preflight still passes
    client = make_app(tmp_path, BIND_HOST="10.1.2.3").test_client()
    resp = client.options(
        path,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert resp.status_code in (200, 204)
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    allowed = {h.strip().lower() for h in resp.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]


def test_cors_headers_are_on_errors_too(client: FlaskClient) -> None:
    resp = client.post(SELECT, json={}, headers={"Origin": "https://ehr.example"})
    assert resp.status_code == 400
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


def test_cors_origin_allowlist(tmp_path: Path) -> None:
    client = make_app(tmp_path, CDS_CORS_ORIGINS=["https://ehr.example"]).test_client()
    ok = client.get("/cds-services", headers={"Origin": "https://ehr.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ehr.example"
    other = client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


# -- authentication hook point -----------------------------------------------------------------------------------


@pytest.fixture
def signed(tmp_path: Path) -> tuple[FlaskClient, Any]:
    """An app that trusts one ES384 issuer (JWKS pinned in a file) and the matching signer."""
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="test-kid", use="sig", alg="ES384")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    issuers = [{"iss": "https://ehr.test", "jwks_file": str(jwks)}]
    client = make_app(tmp_path, BIND_HOST="10.1.2.3", CDS_TRUSTED_ISSUERS=issuers).test_client()

    def sign(aud: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": "https://ehr.test",
            "aud": aud,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        payload.update(claims)
        return jwt.encode(payload, key, algorithm="ES384", headers={"kid": "test-kid", "typ": "JWT"})

    return client, sign


def test_no_jwt_is_a_401_operation_outcome_with_a_bearer_challenge(signed: tuple[FlaskClient, Any]) -> None:
    client, _sign = signed
    for resp in (client.get("/cds-services"), client.post(SELECT, json=fixture_request("prefetch-null"))):
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="spine-auc"'
        assert resp.mimetype == "application/fhir+json"
        body = resp.get_json()
        assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "login"


def test_jwt_for_this_endpoint_is_accepted(signed: tuple[FlaskClient, Any]) -> None:
    client, sign = signed
    token = sign("http://localhost/cds-services/spine-auc-order-select")
    resp = client.post(
        SELECT, json=fixture_request("prefetch-null"), headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    discovery = client.get(
        "/cds-services", headers={"Authorization": f"Bearer {sign('http://localhost/cds-services')}"}
    )
    assert discovery.status_code == 200


def test_jwt_for_another_endpoint_is_401(signed: tuple[FlaskClient, Any]) -> None:
    client, sign = signed
    token = sign("http://localhost/cds-services/spine-auc-order-sign")  # aud = another service
    resp = client.post(
        SELECT, json=fixture_request("prefetch-null"), headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status_code == 401


def test_fhir_server_not_allowed_for_the_caller_is_401_before_any_fetch(
    signed: tuple[FlaskClient, Any],
) -> None:
    client, sign = signed
    body = fixture_request("prefetch-absent-no-fhir-server")
    body["fhirServer"] = "https://fhir.elsewhere.example/r4"
    token = sign("http://localhost/cds-services/spine-auc-order-select")
    resp = client.post(SELECT, json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
