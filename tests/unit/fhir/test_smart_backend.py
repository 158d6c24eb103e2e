"""SMART Backend Services against a tiny token endpoint of our own that verifies the signed assertion.

Keys are real (generated here with ``cryptography``); the endpoint checks signature, ``aud``, ``iss`` =
``sub``, ``exp`` ≤ 5 minutes and ``jti`` uniqueness, as an authorization server must.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.fhir.client import FhirClient
from app.fhir.errors import FhirAuthError
from app.fhir.smart_backend import ASSERTION_TYPE, SmartBackendTokenProvider
from tests.stubserver import StubRequest, StubServer

JSON = "application/json"

CLIENT_ID = "spine-auc-test"


def _pem_pair(alg: str) -> tuple[bytes, bytes]:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    key = rsa.generate_private_key(65537, 2048) if alg == "RS384" else ec.generate_private_key(ec.SECP384R1())
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


@dataclass
class AuthServer:
    """Token endpoint at /token, and a FHIR Patient read at /fhir/Patient/<id> that demands a valid token."""

    public_keys: dict[str, bytes] = field(default_factory=dict)  # kid -> PEM
    expires_in: int = 3600
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    seen_jti: set[str] = field(default_factory=set)
    claims: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def verify(self, form: dict[str, str]) -> str | None:
        """The error code, or None when the request is a valid SMART backend token request."""
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type") != ASSERTION_TYPE
        ):
            return "invalid_request"
        assertion = form.get("client_assertion", "")
        header = jwt.get_unverified_header(assertion)
        key = self.public_keys.get(header.get("kid", ""))
        if key is None or header.get("alg") not in ("RS384", "ES384"):
            return "invalid_client"
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=[header["alg"]],
                audience=self.token_url,
                issuer=CLIENT_ID,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.InvalidTokenError as exc:
            self.errors.append(str(exc))
            return "invalid_client"
        if (
            claims["sub"] != claims["iss"]
            or claims["exp"] > time.time() + 300 + 5
            or claims["jti"] in self.seen_jti
        ):
            return "invalid_client"
        self.seen_jti.add(claims["jti"])
        self.claims.append(claims)
        self.headers.append(header)
        return None


@pytest.fixture
def auth_server(stub_server: StubServer) -> AuthServer:
    state = AuthServer(port=stub_server.port)
    lock = threading.Lock()

    def token(req: StubRequest) -> None:
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        with lock:
            error = state.verify(form)
            if error:
                req.send_json(400 if error == "invalid_request" else 401, {"error": error}, content_type=JSON)
                return
            token = secrets.token_urlsafe(16)
            state.issued.append(token)
        body = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": state.expires_in,
            "scope": form["scope"],
        }
        req.send_json(200, body, content_type=JSON)

    def fhir(req: StubRequest) -> None:
        auth = req.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or token not in state.issued or token in state.revoked:
            outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "login"}]}
            req.send_json(401, outcome, content_type=JSON)
            return
        req.send_json(200, {"resourceType": "Patient", "id": req.path.rsplit("/", 1)[-1]}, content_type=JSON)

    stub_server.route("/token", token)
    stub_server.route("/fhir", fhir)
    return state


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_token_is_obtained_with_a_verified_assertion(auth_server: AuthServer, alg: str) -> None:
    private, public = _pem_pair(alg)
    auth_server.public_keys["k1"] = public
    provider = SmartBackendTokenProvider(
        auth_server.token_url, CLIENT_ID, private, "k1", alg, "system/*.read"
    )
    token = provider.token()
    assert token == auth_server.issued[-1]
    claims, header = auth_server.claims[-1], auth_server.headers[-1]
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == auth_server.token_url
    assert 0 < claims["exp"] - time.time() <= 300
    assert len(claims["jti"]) >= 16
    assert header == {"alg": alg, "kid": "k1", "typ": "JWT"}


def test_token_is_cached_until_expiry_minus_30_seconds(auth_server: AuthServer) -> None:
    private, public = _pem_pair("ES384")
    auth_server.public_keys["k1"] = public
    provider = SmartBackendTokenProvider(auth_server.token_url, CLIENT_ID, private, "k1", "ES384")
    first = provider.token()
    assert provider.token() == first
    assert provider.requests_made == 1
    # A token living 30 s or less is never reused (the margin eats its whole lifetime).
    auth_server.expires_in = 30
    provider.invalidate()
    a = provider.token()
    b = provider.token()
    assert a != b and provider.requests_made == 3
    assert len(auth_server.seen_jti) == 3  # a new jti each time


def test_concurrent_callers_share_one_token_request(auth_server: AuthServer) -> None:
    private, public = _pem_pair("ES384")
    auth_server.public_keys["k1"] = public
    provider = SmartBackendTokenProvider(auth_server.token_url, CLIENT_ID, private, "k1", "ES384")
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda: tokens.append(provider.token())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert provider.requests_made == 1


def test_assertion_signed_with_the_wrong_key_is_refused(auth_server: AuthServer) -> None:
    private, _ = _pem_pair("RS384")
    _, other_public = _pem_pair("RS384")
    auth_server.public_keys["k1"] = other_public
    provider = SmartBackendTokenProvider(auth_server.token_url, CLIENT_ID, private, "k1", "RS384")
    with pytest.raises(FhirAuthError) as info:
        provider.token()
    assert info.value.status == 401
    assert "invalid_client" in info.value.message
    assert any("Signature verification failed" in e for e in auth_server.errors)


def test_unsupported_alg_and_plain_http_to_other_hosts_are_rejected() -> None:
    with pytest.raises(ValueError, match="unsupported alg"):
        SmartBackendTokenProvider("http://127.0.0.1:9/token", CLIENT_ID, b"", "k1", "HS256")
    with pytest.raises(ValueError, match="https"):
        SmartBackendTokenProvider("http://auth.example.org/token", CLIENT_ID, b"", "k1", "ES384")


def test_fhir_client_uses_the_provider_and_refreshes_once_after_a_401(auth_server: AuthServer) -> None:
    private, public = _pem_pair("ES384")
    auth_server.public_keys["k1"] = public
    provider = SmartBackendTokenProvider(auth_server.token_url, CLIENT_ID, private, "k1", "ES384")
    client = FhirClient(f"http://127.0.0.1:{auth_server.port}/fhir", token_provider=provider, deadline=5.0)
    assert client.read("Patient", "p1") == {"resourceType": "Patient", "id": "p1"}
    assert provider.requests_made == 1
    auth_server.revoked.add(auth_server.issued[-1])  # the server revokes the cached token early
    assert client.read("Patient", "p2") == {"resourceType": "Patient", "id": "p2"}
    assert provider.requests_made == 2
    auth_server.public_keys.clear()  # now no new token can be had: a clean auth error, not a loop
    auth_server.revoked.add(auth_server.issued[-1])
    with pytest.raises(FhirAuthError):
        client.read("Patient", "p3")
    assert provider.requests_made == 3
