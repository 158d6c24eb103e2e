"""CDS client JWT verification with real keys (ES384, RS384 generated here) and real signed tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Blueprint, Flask, current_app, jsonify, request

from app.errors import InvalidInput, Unauthorized
from app.security.cds_auth import Caller, CdsAuthenticator, check_startup_security
from app.store.consultations import ConsultationStore
from app.web import handlers as web_errors
from tests.stubserver import StubServer

ISS = "https://ehr.example.org"
BASE = "https://cds.example.org/cds-services"
SERVICE_URL = BASE + "/spine-auc-order-select"
FHIR = "https://fhir.example.org/r4"

# The CDS Hooks sandbox's signing key pair. Both halves are published on purpose (cds-hooks/sandbox,
# Apache-2.0: keys/ecprivkey.pem and build/.well-known/jwks.json; the JWKS is also
# /work/shared/reference/cds-hooks-sandbox-jwks.json), so a test can sign exactly as the sandbox does.
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
SANDBOX_JWKS = {
    "keys": [
        {
            "kty": "EC",
            "crv": "P-384",
            "use": "sig",
            "alg": "ES384",
            "kid": SANDBOX_KID,
            "x": "dw_JGR8nB2I6XveNxUOl2qk699ZPLM2nYI5STSdiEl9avAkrm3CkfYMbrrjr8laB",
            "y": "Sm3mLE-n1zYNla_aiE3cb3nZsL51RbC7ysw3q8aJLxGm-hx79RPMYpITDjp7kgzy",
        }
    ]
}
SANDBOX_PRIVATE_PEM = b"""-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDDI5xiX1DMwqcEVSI9k
oGKMNX+WwS2fqhYVU6q0XJdtj/5XrdYIFhh3Gwuj09yWvzihZANiAAR3D8kZHycH
Yjpe943FQ6XaqTr31k8szadgjlJNJ2ISX1q8CSubcKR9gxuuuOvyVoFKbeYsT6fX
Ng2Vr9qITdxvedmwvnVFsLvKzDerxokvEab6HHv1E8xikhMOOnuSDPI=
-----END PRIVATE KEY-----
"""


def jwk_of(private_key: Any, kid: str, alg: str) -> dict[str, Any]:
    if isinstance(private_key, rsa.RSAPrivateKey):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    else:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key()))
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


class Keys:
    def __init__(self) -> None:
        self.es384 = ec.generate_private_key(ec.SECP384R1())
        self.rs384 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.es256 = ec.generate_private_key(ec.SECP256R1())
        self.other_es384 = ec.generate_private_key(ec.SECP384R1())

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                jwk_of(self.es384, "ec-1", "ES384"),
                jwk_of(self.rs384, "rsa-1", "RS384"),
                jwk_of(self.es256, "ec256-1", "ES256"),
            ]
        }


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConsultationStore]:
    opened = ConsultationStore.from_url(f"sqlite:///{tmp_path / 'auth.db'}")
    yield opened
    opened.close()


@pytest.fixture
def jwks_file(tmp_path: Path, keys: Keys) -> str:
    path = tmp_path / "ehr-jwks.json"
    path.write_text(json.dumps(keys.jwks()))
    return str(path)


def issuer(jwks_file: str, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "iss": ISS,
        "jwks_file": jwks_file,
        "audiences": [BASE],
        "fhir_servers": [FHIR],
    }
    config.update(extra)
    return config


@pytest.fixture
def auth(jwks_file: str, store: ConsultationStore) -> CdsAuthenticator:
    return CdsAuthenticator([issuer(jwks_file)], store, allow_unauthenticated=False)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISS,
        "aud": SERVICE_URL,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    for key, value in overrides.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return payload


def sign(
    key: Any, alg: str = "ES384", kid: str | None = "ec-1", headers: dict[str, Any] | None = None, **over: Any
) -> str:
    extra = {"typ": "JWT", **(headers or {})}
    if kid is not None:
        extra["kid"] = kid
    return jwt.encode(claims(**over), key, algorithm=alg, headers=extra)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    if secret is None:
        return signing_input + "."
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(mac)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def refused(auth: CdsAuthenticator, header: str | None, url: str = SERVICE_URL) -> None:
    with pytest.raises(Unauthorized):
        auth.authenticate(header, audience_url=url)


# -- accepted --------------------------------------------------------------------------------------------


def test_valid_es384_token_gives_the_caller(auth: CdsAuthenticator, keys: Keys) -> None:
    caller = auth.authenticate(
        bearer(sign(keys.es384, sub="client-1", tenant="t-9")), audience_url=SERVICE_URL
    )
    assert caller == Caller(iss=ISS, sub="client-1", tenant="t-9", fhir_servers=(FHIR,))


def test_valid_rs384_token_is_accepted(auth: CdsAuthenticator, keys: Keys) -> None:
    caller = auth.authenticate(bearer(sign(keys.rs384, "RS384", "rsa-1")), audience_url=SERVICE_URL)
    assert caller is not None and caller.iss == ISS


def test_discovery_call_uses_the_base_as_audience(auth: CdsAuthenticator, keys: Keys) -> None:
    token = sign(keys.es384, aud=BASE)
    assert auth.authenticate(bearer(token), audience_url="http://10.0.0.5:8080/cds-services") is not None


def test_aud_may_be_a_list_containing_the_endpoint(auth: CdsAuthenticator, keys: Keys) -> None:
    token = sign(keys.es384, aud=["https://other.example.org", SERVICE_URL])
    assert auth.authenticate(bearer(token), audience_url=SERVICE_URL) is not None


def test_expiry_within_clock_skew_is_tolerated(auth: CdsAuthenticator, keys: Keys) -> None:
    now = int(time.time())
    token = sign(keys.es384, iat=now - 330, exp=now - 30)
    assert auth.authenticate(bearer(token), audience_url=SERVICE_URL) is not None


def test_without_configured_audiences_the_exact_url_is_expected(
    jwks_file: str, store: ConsultationStore, keys: Keys
) -> None:
    auth = CdsAuthenticator([issuer(jwks_file, audiences=[])], store, allow_unauthenticated=False)
    here = "http://127.0.0.1:8080/cds-services/spine-auc-order-select"
    assert auth.authenticate(bearer(sign(keys.es384, aud=here)), audience_url=here) is not None
    refused(auth, bearer(sign(keys.es384, aud=SERVICE_URL)), here)


# -- refused ---------------------------------------------------------------------------------------------


def test_expired_token_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    now = int(time.time())
    refused(auth, bearer(sign(keys.es384, iat=now - 600, exp=now - 120)))


def test_not_yet_valid_token_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    refused(auth, bearer(sign(keys.es384, nbf=int(time.time()) + 600)))


def test_token_issued_in_the_future_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    now = int(time.time())
    refused(auth, bearer(sign(keys.es384, iat=now + 600, exp=now + 900)))


@pytest.mark.parametrize(
    "aud",
    [
        "https://cds.example.org/cds-services/another-service",
        "https://evil.example.org/cds-services/spine-auc-order-select",
        BASE,  # the discovery audience is not valid for a service call
    ],
)
def test_wrong_audience_is_refused(auth: CdsAuthenticator, keys: Keys, aud: str) -> None:
    refused(auth, bearer(sign(keys.es384, aud=aud)))


def test_unknown_issuer_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    refused(auth, bearer(sign(keys.es384, iss="https://unknown.example.org")))


def test_unknown_kid_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    refused(auth, bearer(sign(keys.es384, kid="no-such-kid")))


def test_missing_kid_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    refused(auth, bearer(sign(keys.es384, kid=None)))


def test_alg_none_is_refused(auth: CdsAuthenticator) -> None:
    token = handmade({"alg": "none", "typ": "JWT", "kid": "ec-1"}, claims(), None)
    refused(auth, bearer(token))


def test_hs256_signed_with_the_public_key_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    public_pem = keys.rs384.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = handmade({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(), public_pem)
    refused(auth, bearer(token))


def test_algorithm_not_on_the_allowlist_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    refused(auth, bearer(sign(keys.es256, "ES256", "ec256-1")))


def test_issuer_may_add_an_algorithm(jwks_file: str, store: ConsultationStore, keys: Keys) -> None:
    auth = CdsAuthenticator(
        [issuer(jwks_file, algorithms=["ES384", "ES256"])], store, allow_unauthenticated=False
    )
    assert auth.authenticate(bearer(sign(keys.es256, "ES256", "ec256-1")), audience_url=SERVICE_URL)


def test_alg_that_does_not_fit_the_key_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    refused(auth, bearer(sign(keys.es384, "ES384", "rsa-1")))  # an EC signature claimed for the RSA kid


def test_signature_by_another_key_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    refused(auth, bearer(sign(keys.other_es384, "ES384", "ec-1")))


def test_tampered_payload_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    header, _payload, signature = sign(keys.es384).split(".")
    forged = b64(json.dumps(claims(sub="admin")).encode())
    refused(auth, bearer(f"{header}.{forged}.{signature}"))


@pytest.mark.parametrize("missing", ["exp", "iat", "jti", "aud"])
def test_token_missing_a_required_claim_is_refused(auth: CdsAuthenticator, keys: Keys, missing: str) -> None:
    drop: dict[str, Any] = {missing: None}
    refused(auth, bearer(sign(keys.es384, **drop)))


def test_replayed_jti_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    token = sign(keys.es384)
    assert auth.authenticate(bearer(token), audience_url=SERVICE_URL) is not None
    refused(auth, bearer(token))


def test_replay_is_refused_by_a_second_authenticator_on_the_same_store(
    auth: CdsAuthenticator, jwks_file: str, store: ConsultationStore, keys: Keys
) -> None:
    other_worker = CdsAuthenticator([issuer(jwks_file)], store, allow_unauthenticated=False)
    token = sign(keys.es384)
    assert auth.authenticate(bearer(token), audience_url=SERVICE_URL) is not None
    refused(other_worker, bearer(token))


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt", "Bearer abc"]
)
def test_missing_or_malformed_authorization_is_refused(auth: CdsAuthenticator, header: str | None) -> None:
    refused(auth, header)


def test_tenant_allowlist(jwks_file: str, store: ConsultationStore, keys: Keys) -> None:
    auth = CdsAuthenticator([issuer(jwks_file, tenants=["t-1"])], store, allow_unauthenticated=False)
    caller = auth.authenticate(bearer(sign(keys.es384, tenant="t-1")), audience_url=SERVICE_URL)
    assert caller is not None and caller.tenant == "t-1"
    refused(auth, bearer(sign(keys.es384, tenant="t-2")))
    refused(auth, bearer(sign(keys.es384)))


def test_jku_not_on_the_allowlist_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    refused(auth, bearer(sign(keys.es384, headers={"jku": "https://attacker.example.net/jwks.json"})))


def test_wrong_typ_is_refused(auth: CdsAuthenticator, keys: Keys) -> None:
    refused(auth, bearer(sign(keys.es384, headers={"typ": "at+jwt"})))


# -- the CDS Hooks sandbox -------------------------------------------------------------------------------


def test_sandbox_published_key_accepted_when_configured(tmp_path: Path, store: ConsultationStore) -> None:
    path = tmp_path / "sandbox-jwks.json"
    path.write_text(json.dumps(SANDBOX_JWKS))
    auth = CdsAuthenticator(
        [{"iss": SANDBOX_ISS, "jwks_file": str(path), "jku_allowlist": [SANDBOX_JKU]}],
        store,
        allow_unauthenticated=False,
    )
    private = serialization.load_pem_private_key(SANDBOX_PRIVATE_PEM, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    url = "http://127.0.0.1:8080/cds-services/spine-auc-order-select"
    now = int(time.time())
    # As the sandbox signs (jwt-generator.js): ES384, its kid and jku, aud = the URL called, exp = iat + 300.
    payload = {"iss": SANDBOX_ISS, "aud": url, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    token = jwt.encode(
        payload, private, algorithm="ES384", headers={"kid": SANDBOX_KID, "jku": SANDBOX_JKU, "typ": "JWT"}
    )
    caller = auth.authenticate(bearer(token), audience_url=url)
    assert caller is not None and caller.iss == SANDBOX_ISS
    shared = Path("/work/shared/reference/cds-hooks-sandbox-jwks.json")
    if shared.exists():  # the pinned copy here is the one the product docs ship
        assert json.loads(shared.read_text()) == SANDBOX_JWKS


# -- keys from URLs: real HTTP, rotation, no redirects -----------------------------------------------------


class JwksServer:
    """Key sets served at fixed paths on the stub server; ``hits`` counts requests per path."""

    def __init__(self, server: StubServer) -> None:
        self.server = server
        self.url = server.url
        self.hits = server.hits

    def serve_json(self, path: str, data: dict[str, Any]) -> None:
        self.server.json(path, data, headers=None)

    def redirect(self, path: str, location: str) -> None:
        self.server.route(path, lambda req: req.send_raw(302, b"", headers={"Location": location}))


@pytest.fixture
def jwks_server(stub_server: StubServer) -> JwksServer:
    return JwksServer(stub_server)


def test_jwks_url_fetched_cached_and_rotated(
    jwks_server: JwksServer, store: ConsultationStore, keys: Keys
) -> None:
    jwks_server.serve_json("/jwks.json", {"keys": [jwk_of(keys.es384, "ec-1", "ES384")]})
    auth = CdsAuthenticator(
        [{"iss": ISS, "jwks_url": jwks_server.url + "/jwks.json", "audiences": [BASE]}],
        store,
        allow_unauthenticated=False,
    )
    auth.keys.min_refetch = 0.0  # let the test rotate without waiting
    assert auth.authenticate(bearer(sign(keys.es384)), audience_url=SERVICE_URL) is not None
    assert auth.authenticate(bearer(sign(keys.es384)), audience_url=SERVICE_URL) is not None
    assert jwks_server.hits["/jwks.json"] == 1  # cached
    # The client rotates: the new key set has only a new kid.
    jwks_server.serve_json("/jwks.json", {"keys": [jwk_of(keys.other_es384, "ec-2", "ES384")]})
    assert auth.authenticate(bearer(sign(keys.other_es384, kid="ec-2")), audience_url=SERVICE_URL)
    assert jwks_server.hits["/jwks.json"] == 2
    refused(auth, bearer(sign(keys.es384, kid="ec-1")))  # the retired key no longer verifies (after TTL)


def test_allowlisted_jku_is_fetched(jwks_server: JwksServer, store: ConsultationStore, keys: Keys) -> None:
    jku = jwks_server.url + "/client/jwks.json"
    jwks_server.serve_json("/client/jwks.json", {"keys": [jwk_of(keys.rs384, "rsa-9", "RS384")]})
    auth = CdsAuthenticator(
        [{"iss": ISS, "jku_allowlist": [jku], "audiences": [BASE]}], store, allow_unauthenticated=False
    )
    token = sign(keys.rs384, "RS384", "rsa-9", headers={"jku": jku})
    assert auth.authenticate(bearer(token), audience_url=SERVICE_URL) is not None
    refused(auth, bearer(sign(keys.rs384, "RS384", "rsa-9")))  # no jku and no configured key set


def test_jwks_redirect_is_not_followed(jwks_server: JwksServer, store: ConsultationStore, keys: Keys) -> None:
    jwks_server.serve_json("/real.json", {"keys": [jwk_of(keys.es384, "ec-1", "ES384")]})
    jwks_server.redirect("/jwks.json", jwks_server.url + "/real.json")
    auth = CdsAuthenticator(
        [{"iss": ISS, "jwks_url": jwks_server.url + "/jwks.json", "audiences": [BASE]}],
        store,
        allow_unauthenticated=False,
    )
    refused(auth, bearer(sign(keys.es384)))
    assert "/real.json" not in jwks_server.hits


# -- configuration -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"iss": ISS, "jwks_file": "x", "algorithms": ["none"]},
        {"iss": ISS, "jwks_file": "x", "algorithms": ["HS256"]},
        {"iss": ISS},
        {"jwks_file": "x"},
        {"iss": ISS, "jwks_url": "http://keys.example.org/jwks.json"},
        {"iss": ISS, "jwks_file": "x", "jwks_url": "https://keys.example.org/jwks.json"},
    ],
)
def test_unsafe_issuer_configuration_is_rejected(bad: dict[str, Any], store: ConsultationStore) -> None:
    with pytest.raises(ValueError):
        CdsAuthenticator([bad], store, allow_unauthenticated=False)
    with pytest.raises(RuntimeError):
        check_startup_security({"CDS_TRUSTED_ISSUERS": [bad]}, "127.0.0.1")


def test_no_issuers_on_loopback_warns() -> None:
    warnings = check_startup_security({"CDS_TRUSTED_ISSUERS": []}, "127.0.0.1")
    assert len(warnings) == 1 and "unauthenticated" in warnings[0]


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "cds.example.org"])
def test_no_issuers_on_a_public_bind_refuses_to_start(host: str) -> None:
    with pytest.raises(RuntimeError, match="allow-unauthenticated"):
        check_startup_security({"CDS_TRUSTED_ISSUERS": []}, host)
    warnings = check_startup_security({"CDS_TRUSTED_ISSUERS": [], "ALLOW_UNAUTHENTICATED": True}, host)
    assert warnings and host in warnings[0]


def test_issuers_configured_start_quietly(jwks_file: str) -> None:
    assert check_startup_security({"CDS_TRUSTED_ISSUERS": json.dumps([issuer(jwks_file)])}, "0.0.0.0") == []


def test_open_mode_accepts_calls_without_a_token(store: ConsultationStore) -> None:
    auth = CdsAuthenticator([], store, allow_unauthenticated=True)
    assert auth.authenticate(None, audience_url=SERVICE_URL) is None
    closed = CdsAuthenticator([], store, allow_unauthenticated=False)
    refused(closed, None)


# -- fhirServer (SSRF guard) ---------------------------------------------------------------------------


def test_fhir_server_on_the_callers_allowlist_passes(auth: CdsAuthenticator) -> None:
    caller = Caller(iss=ISS, sub=None, tenant=None, fhir_servers=(FHIR,))
    auth.check_fhir_server(caller, FHIR)
    auth.check_fhir_server(caller, "HTTPS://FHIR.example.org:443/r4/")
    auth.check_fhir_server(caller, None)


@pytest.mark.parametrize(
    "url",
    [
        "https://fhir.example.org/r4/../admin",
        "https://fhir.example.org/other",
        "https://169.254.169.254/latest/meta-data",
        "https://127.0.0.1:5432/r4",
        "https://fhir.example.org.evil.net/r4",
    ],
)
def test_other_fhir_server_is_refused(auth: CdsAuthenticator, url: str) -> None:
    caller = Caller(iss=ISS, sub=None, tenant=None, fhir_servers=(FHIR,))
    with pytest.raises(Unauthorized):
        auth.check_fhir_server(caller, url)


@pytest.mark.parametrize(
    "url",
    ["http://fhir.example.org/r4", "file:///etc/passwd", "https://user:pw@fhir.example.org/r4", "not a url"],
)
def test_malformed_or_plain_http_fhir_server_is_invalid(auth: CdsAuthenticator, url: str) -> None:
    caller = Caller(iss=ISS, sub=None, tenant=None, fhir_servers=(FHIR,))
    with pytest.raises(InvalidInput):
        auth.check_fhir_server(caller, url)


def test_open_mode_allows_only_loopback_or_configured_fhir_servers(store: ConsultationStore) -> None:
    auth = CdsAuthenticator([], store, allow_unauthenticated=True)
    auth.check_fhir_server(None, "http://127.0.0.1:8081/fhir")
    with pytest.raises(Unauthorized):
        auth.check_fhir_server(None, FHIR)
    configured = CdsAuthenticator([], store, allow_unauthenticated=True, open_fhir_servers=(FHIR,))
    configured.check_fhir_server(None, FHIR)
    with pytest.raises(Unauthorized):
        configured.check_fhir_server(None, "http://127.0.0.1:8081/fhir")


# -- through Flask: bare 401 -----------------------------------------------------------------------------


def test_flask_route_answers_401_operation_outcome_and_200(auth: CdsAuthenticator, keys: Keys) -> None:
    app = Flask(__name__)
    web_errors.register(app)
    app.extensions["spine_auc.cds_auth"] = auth
    bp = Blueprint("probe", __name__)

    @bp.before_request
    def _auth() -> None:
        audience = "https://cds.example.org" + request.path
        current_app.extensions["spine_auc.cds_auth"].authenticate(
            request.headers.get("Authorization"), audience_url=audience
        )

    @bp.post("/cds-services/spine-auc-order-select")
    def service() -> Any:
        return jsonify({"cards": []})

    app.register_blueprint(bp)
    client = app.test_client()
    token = sign(keys.es384)
    ok = client.post(
        "/cds-services/spine-auc-order-select", json={}, headers={"Authorization": bearer(token)}
    )
    assert ok.status_code == 200 and ok.get_json() == {"cards": []}
    replay = client.post(
        "/cds-services/spine-auc-order-select", json={}, headers={"Authorization": bearer(token)}
    )
    missing = client.post("/cds-services/spine-auc-order-select", json={})
    for refused_response in (replay, missing):
        # #12 finding 6: a generic OperationOutcome and a Bearer challenge, never the reason.
        assert refused_response.status_code == 401
        assert refused_response.headers["WWW-Authenticate"].startswith("Bearer ")
        outcome = refused_response.get_json()
        assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] == "login"
        assert "jti" not in refused_response.get_data(as_text=True)


def test_loopback_open_mode_refuses_non_loopback_peers(store: ConsultationStore) -> None:
    from app.security.cds_auth import authenticator_from_config

    auth = authenticator_from_config({"CDS_TRUSTED_ISSUERS": [], "BIND_HOST": "127.0.0.1"}, store)
    assert auth.authenticate(None, audience_url=SERVICE_URL, remote_addr="127.0.0.1") is None
    assert auth.authenticate(None, audience_url=SERVICE_URL, remote_addr="::1") is None
    with pytest.raises(Unauthorized):
        auth.authenticate(None, audience_url=SERVICE_URL, remote_addr="203.0.113.7")
    explicit = authenticator_from_config(
        {"CDS_TRUSTED_ISSUERS": [], "BIND_HOST": "0.0.0.0", "ALLOW_UNAUTHENTICATED": True}, store
    )
    assert explicit.authenticate(None, audience_url=SERVICE_URL, remote_addr="203.0.113.7") is None
    closed = authenticator_from_config({"CDS_TRUSTED_ISSUERS": [], "BIND_HOST": "0.0.0.0"}, store)
    with pytest.raises(Unauthorized):
        closed.authenticate(None, audience_url=SERVICE_URL, remote_addr="127.0.0.1")


def test_with_issuers_a_token_is_required_even_from_loopback(
    jwks_file: str, store: ConsultationStore
) -> None:
    from app.security.cds_auth import authenticator_from_config

    auth = authenticator_from_config(
        {"CDS_TRUSTED_ISSUERS": [issuer(jwks_file)], "BIND_HOST": "127.0.0.1"}, store
    )
    refused(auth, None)
