"""API client tokens (SMART Backend Services style) with real generated RSA/EC keys (#12 finding 1)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from app.errors import Forbidden, Unauthorized
from app.security.api_auth import (
    SCOPE_CONSULTATIONS_READ,
    SCOPE_EVALUATE,
    ApiAuthenticator,
    ApiClient,
    api_authenticator_from_config,
    api_startup_warnings,
)
from tests.jwt_keys import KeyPair, api_claims, serve_jwks
from tests.stubserver import StubServer

ISS = "https://auth.example.org"
AUD = "https://auc.example.org"


@pytest.fixture(scope="module")
def rsa_key() -> KeyPair:
    return KeyPair("RS384", "rsa-1")


@pytest.fixture(scope="module")
def ec_key() -> KeyPair:
    return KeyPair("ES384", "ec-1")


@pytest.fixture
def jwks_file(tmp_path: Path, rsa_key: KeyPair, ec_key: KeyPair) -> str:
    path = tmp_path / "api-jwks.json"
    path.write_text(json.dumps({"keys": [rsa_key.jwk(), ec_key.jwk()]}))
    return str(path)


def issuer(jwks_file: str, **extra: Any) -> dict[str, Any]:
    return {"iss": ISS, "jwks_file": jwks_file, "audiences": [AUD], **extra}


@pytest.fixture
def auth(jwks_file: str) -> ApiAuthenticator:
    return ApiAuthenticator([issuer(jwks_file)])


def authorize(auth: ApiAuthenticator, token: str | None, scope: str = SCOPE_EVALUATE) -> ApiClient | None:
    header = None if token is None else f"Bearer {token}"
    return auth.authorize(header, scope=scope, audience="http://ignored", remote_addr="203.0.113.9")


def test_rs384_token_with_the_scope_gives_the_client(auth: ApiAuthenticator, rsa_key: KeyPair) -> None:
    client = authorize(auth, rsa_key.sign(api_claims(ISS, AUD, SCOPE_EVALUATE)))
    assert client == ApiClient(
        iss=ISS, client_id="scheduler-1", tenant="scheduler-1", scopes=frozenset({SCOPE_EVALUATE})
    )


def test_es384_token_with_a_tenant_claim(auth: ApiAuthenticator, ec_key: KeyPair) -> None:
    scopes = f"{SCOPE_EVALUATE} {SCOPE_CONSULTATIONS_READ}"
    client = authorize(
        auth, ec_key.sign(api_claims(ISS, AUD, scopes, tenant="clinic-7")), SCOPE_CONSULTATIONS_READ
    )
    assert client is not None and client.tenant == "clinic-7" and client.client_id == "scheduler-1"


def test_token_without_the_scope_is_forbidden(auth: ApiAuthenticator, ec_key: KeyPair) -> None:
    with pytest.raises(Forbidden):
        authorize(auth, ec_key.sign(api_claims(ISS, AUD, SCOPE_EVALUATE)), SCOPE_CONSULTATIONS_READ)
    with pytest.raises(Forbidden):
        authorize(auth, ec_key.sign(api_claims(ISS, AUD, "system/*.read")))
    no_scope = api_claims(ISS, AUD, SCOPE_EVALUATE)
    del no_scope["scope"]
    with pytest.raises(Forbidden):
        authorize(auth, ec_key.sign(no_scope))


def _refused(auth: ApiAuthenticator, token: str | None) -> None:
    with pytest.raises(Unauthorized):
        authorize(auth, token)


class FromNow(int):
    """A time claim given as seconds from the moment the test runs (not from collection, which may be minutes
    earlier on a loaded machine)."""

    def __repr__(self) -> str:
        return f"now{int(self):+d}"


def _at_run_time(over: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    return {k: now + int(v) if isinstance(v, FromNow) else v for k, v in over.items()}


@pytest.mark.parametrize(
    "over",
    [
        {"iss": "https://other.example.org"},
        {"aud": "https://elsewhere.example.org"},
        {"sub": None},
        {"exp": None},
        {"iat": None},
        {"exp": FromNow(-3600), "iat": FromNow(-3700)},
        {"exp": FromNow(10 * 365 * 86400)},
        {"iat": FromNow(600), "exp": FromNow(700)},
        {"nbf": FromNow(600)},
        {"scope": ["system/spine-auc.appropriateness"]},
        {"tenant": 7},
    ],
    ids=lambda o: ",".join(f"{k}={v!r}" for k, v in o.items()),
)
def test_bad_claims_are_refused(auth: ApiAuthenticator, ec_key: KeyPair, over: dict[str, Any]) -> None:
    claims = api_claims(ISS, AUD, SCOPE_EVALUATE)
    claims.update(_at_run_time(over))
    _refused(auth, ec_key.sign({k: v for k, v in claims.items() if v is not None}))


def test_exp_as_a_string_is_refused(auth: ApiAuthenticator, ec_key: KeyPair) -> None:
    claims = api_claims(ISS, AUD, SCOPE_EVALUATE)
    claims["exp"] = str(claims["exp"])
    _refused(auth, ec_key.sign(claims))


def test_wrong_key_alg_none_hmac_and_no_token_are_refused(auth: ApiAuthenticator, ec_key: KeyPair) -> None:
    claims = api_claims(ISS, AUD, SCOPE_EVALUATE)
    _refused(auth, KeyPair("ES384", ec_key.kid).sign(claims))  # the right kid, another key
    _refused(auth, KeyPair("ES384", "unknown-kid").sign(claims))
    _refused(auth, jwt.encode(claims, key=None, algorithm="none", headers={"kid": ec_key.kid}))
    _refused(
        auth,
        jwt.encode(claims, "secret-secret-secret-secret-32by", algorithm="HS256", headers={"kid": "ec-1"}),
    )
    _refused(auth, ec_key.sign(claims, {"typ": "dpop+jwt"}))
    _refused(auth, None)
    _refused(auth, "not-a-jwt")
    with pytest.raises(Unauthorized):
        auth.authorize("Basic dXNlcjpwdw==", scope=SCOPE_EVALUATE, audience=AUD, remote_addr=None)


def test_a_jku_header_is_never_followed(jwks_file: str, stub_server: StubServer) -> None:
    attacker = KeyPair("ES384", "attacker")
    jku = serve_jwks(stub_server, "/jwks.json", attacker.jwks())
    auth = ApiAuthenticator([issuer(jwks_file)])
    _refused(auth, attacker.sign(api_claims(ISS, AUD, SCOPE_EVALUATE), {"jku": jku}))
    assert stub_server.hits == {}


def test_client_and_tenant_allowlists(jwks_file: str, ec_key: KeyPair) -> None:
    auth = ApiAuthenticator([issuer(jwks_file, clients=["scheduler-1"], tenants=["clinic-7"])])
    assert authorize(auth, ec_key.sign(api_claims(ISS, AUD, SCOPE_EVALUATE, tenant="clinic-7")))
    _refused(auth, ec_key.sign(api_claims(ISS, AUD, SCOPE_EVALUATE, tenant="clinic-8")))
    _refused(auth, ec_key.sign(api_claims(ISS, AUD, SCOPE_EVALUATE)))  # tenant = client id, not allowlisted
    _refused(auth, ec_key.sign(api_claims(ISS, AUD, SCOPE_EVALUATE, sub="intruder", tenant="clinic-7")))


def test_lifetime_is_configurable(jwks_file: str, ec_key: KeyPair) -> None:
    auth = ApiAuthenticator([issuer(jwks_file)], max_token_lifetime=60, clock_skew=0)
    now = int(time.time())
    assert authorize(auth, ec_key.sign(api_claims(ISS, AUD, SCOPE_EVALUATE, iat=now, exp=now + 60)))
    _refused(auth, ec_key.sign(api_claims(ISS, AUD, SCOPE_EVALUATE, iat=now, exp=now + 61)))


def test_without_configured_audiences_the_public_base_is_expected(jwks_file: str, ec_key: KeyPair) -> None:
    auth = ApiAuthenticator([{"iss": ISS, "jwks_file": jwks_file}])
    token = ec_key.sign(api_claims(ISS, AUD, SCOPE_EVALUATE))
    assert auth.authorize(f"Bearer {token}", scope=SCOPE_EVALUATE, audience=AUD + "/", remote_addr=None)
    with pytest.raises(Unauthorized):
        auth.authorize(f"Bearer {token}", scope=SCOPE_EVALUATE, audience="https://x.org", remote_addr=None)


def test_keys_from_the_issuers_jwks_url(stub_server: StubServer, rsa_key: KeyPair) -> None:
    url = serve_jwks(stub_server, "/keys", rsa_key.jwks())
    auth = ApiAuthenticator([{"iss": ISS, "jwks_url": url, "audiences": [AUD]}])
    for _ in range(3):
        assert authorize(auth, rsa_key.sign(api_claims(ISS, AUD, SCOPE_EVALUATE)))
    assert stub_server.hits == {"/keys": 1}


@pytest.mark.parametrize(
    "bad",
    [
        {"iss": ISS},
        {"iss": ISS, "jwks_file": "a", "jwks_url": "https://k.example.org/jwks"},
        {"iss": ISS, "jwks_url": "http://keys.example.org/jwks.json"},
        {"iss": ISS, "jwks_file": "a", "algorithms": ["HS256"]},
        {"iss": ISS, "jwks_file": "a", "clients": "scheduler-1"},
        {"jwks_file": "a"},
        "not an object",
    ],
)
def test_unsafe_issuer_configuration_stops_the_start(bad: Any) -> None:
    with pytest.raises(ValueError):
        ApiAuthenticator([bad])
    with pytest.raises(RuntimeError):
        api_startup_warnings({"API_TRUSTED_ISSUERS": [bad]}, "127.0.0.1")


# -- open mode: only the embedded default -------------------------------------------------------------


def test_embedded_default_is_open_to_loopback_peers_and_says_so() -> None:
    auth = api_authenticator_from_config({"BIND_HOST": "127.0.0.1", "API_TRUSTED_ISSUERS": []})
    assert auth.authorize(None, scope=SCOPE_EVALUATE, audience=AUD, remote_addr="127.0.0.1") is None
    with pytest.raises(Unauthorized):
        auth.authorize(None, scope=SCOPE_EVALUATE, audience=AUD, remote_addr="203.0.113.7")
    (warning,) = api_startup_warnings({"API_TRUSTED_ISSUERS": []}, "127.0.0.1")
    assert "OPEN MODE" in warning and "127.0.0.1" in warning


@pytest.mark.parametrize(
    "config",
    [
        {"BIND_HOST": "0.0.0.0"},
        {"BIND_HOST": "10.0.0.5", "ALLOW_UNAUTHENTICATED": True},
        {"BIND_HOST": "127.0.0.1", "CDS_TRUSTED_ISSUERS": [{"iss": "https://ehr", "jwks_file": "x"}]},
    ],
)
def test_without_an_api_issuer_any_other_configuration_answers_401(config: dict[str, Any]) -> None:
    auth = api_authenticator_from_config(config)
    for peer in ("127.0.0.1", "203.0.113.7"):
        with pytest.raises(Unauthorized):
            auth.authorize(None, scope=SCOPE_CONSULTATIONS_READ, audience=AUD, remote_addr=peer)
    (warning,) = api_startup_warnings(config, config["BIND_HOST"])
    assert "401" in warning


def test_with_an_api_issuer_a_token_is_required_even_on_loopback(jwks_file: str) -> None:
    auth = api_authenticator_from_config(
        {"BIND_HOST": "127.0.0.1", "API_TRUSTED_ISSUERS": [issuer(jwks_file)]}
    )
    with pytest.raises(Unauthorized):
        auth.authorize(None, scope=SCOPE_EVALUATE, audience=AUD, remote_addr="127.0.0.1")
    assert api_startup_warnings({"API_TRUSTED_ISSUERS": [issuer(jwks_file)]}, "0.0.0.0") == []
