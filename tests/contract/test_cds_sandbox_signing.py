"""A CDS client signing exactly like the CDS Hooks sandbox is served (#12 finding 6).

ES384, a ``jku`` header on every token, ``aud`` = the exact service URL, ``exp = iat + 300``; the key is
generated here and its JWK Set served by a real HTTP server on 127.0.0.1 (the allowlisted ``jku``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.contract.cds_app import make_app
from tests.jwt_keys import KeyPair, cds_claims, serve_jwks
from tests.stubserver import StubServer

REPO = Path(__file__).resolve().parents[2]
HOOK = json.loads((REPO / "fhir_fixtures" / "hooks" / "prefetch-full-rated-appropriate.json").read_text())
ISS = "https://sandbox.cds-hooks.org"
SERVICE_URL = "http://localhost/cds-services/" + HOOK["service"]


@pytest.fixture(scope="module")
def key() -> KeyPair:
    return KeyPair("ES384", "44823f3d-test")


def sandbox_app(tmp_path: Path, jku: str, audiences: list[str]) -> FlaskClient:
    issuers = [{"iss": ISS, "jku_allowlist": [jku], "audiences": audiences}]
    return make_app(tmp_path, CDS_TRUSTED_ISSUERS=issuers).test_client()


def call(client: FlaskClient, token: str) -> Any:
    return client.post(
        "/cds-services/" + HOOK["service"], json=HOOK["request"], headers={"Authorization": f"Bearer {token}"}
    )


def test_sandbox_style_token_with_the_exact_service_url_as_audience(
    tmp_path: Path, stub_server: StubServer, key: KeyPair
) -> None:
    jku = serve_jwks(stub_server, "/.well-known/jwks.json", key.jwks())
    client = sandbox_app(tmp_path, jku, [SERVICE_URL])
    for _ in range(3):
        response = call(client, key.sign(cds_claims(ISS, SERVICE_URL), {"jku": jku}))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["cards"]
    assert stub_server.hits == {"/.well-known/jwks.json": 1}
    other_service = "http://localhost/cds-services/spine-auc-order-sign"
    assert call(client, key.sign(cds_claims(ISS, other_service), {"jku": jku})).status_code == 401


def test_sandbox_style_token_with_the_base_as_audience(
    tmp_path: Path, stub_server: StubServer, key: KeyPair
) -> None:
    jku = serve_jwks(stub_server, "/.well-known/jwks.json", key.jwks())
    client = sandbox_app(tmp_path, jku, ["http://localhost/cds-services"])
    response = call(client, key.sign(cds_claims(ISS, SERVICE_URL), {"jku": jku}))
    assert response.status_code == 200, response.get_data(as_text=True)
    discovery = client.get(
        "/cds-services",
        headers={
            "Authorization": f"Bearer {key.sign(cds_claims(ISS, 'http://localhost/cds-services'), {'jku': jku})}"
        },
    )
    assert discovery.status_code == 200


def test_long_lived_or_unlisted_jku_tokens_are_refused_with_an_operation_outcome(
    tmp_path: Path, stub_server: StubServer, key: KeyPair
) -> None:
    jku = serve_jwks(stub_server, "/.well-known/jwks.json", key.jwks())
    client = sandbox_app(tmp_path, jku, [SERVICE_URL])
    claims = cds_claims(ISS, SERVICE_URL)
    claims["exp"] = claims["iat"] + 10 * 365 * 86400
    for token in (
        key.sign(claims, {"jku": jku}),
        key.sign(cds_claims(ISS, SERVICE_URL), {"jku": stub_server.url + "/other.json"}),
    ):
        refused = call(client, token)
        assert refused.status_code == 401
        assert refused.get_json()["resourceType"] == "OperationOutcome"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "/other.json" not in stub_server.hits
