"""#12 finding 4 and 6: jku spellings share one fetch, exp is a number and short-lived, exact-URL audiences."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.errors import Unauthorized
from app.security.cds_auth import CdsAuthenticator
from app.store.consultations import ConsultationStore
from tests.jwt_keys import KeyPair, cds_claims, serve_jwks
from tests.stubserver import StubServer

ISS = "https://ehr.example.org"
BASE = "https://cds.example.org/cds-services"
SERVICE_URL = BASE + "/spine-auc-order-select"


@pytest.fixture(scope="module")
def key() -> KeyPair:
    return KeyPair("ES384", "ec-1")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConsultationStore]:
    opened = ConsultationStore.from_url(f"sqlite:///{tmp_path / 'auth.db'}")
    yield opened
    opened.close()


def pinned(tmp_path: Path, store: ConsultationStore, key: KeyPair, **issuer: Any) -> CdsAuthenticator:
    config = {"iss": ISS, "jwks_file": key.write_jwks(tmp_path / "jwks.json"), "audiences": [BASE], **issuer}
    return CdsAuthenticator([config], store, allow_unauthenticated=False)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_jku_spelled_differently_is_fetched_once(
    stub_server: StubServer, store: ConsultationStore, key: KeyPair
) -> None:
    serve_jwks(stub_server, "/jwks.json", key.jwks())
    allowlisted = f"http://localhost:{stub_server.port}/jwks.json"
    auth = CdsAuthenticator(
        [{"iss": ISS, "jku_allowlist": [allowlisted], "audiences": [BASE]}],
        store,
        allow_unauthenticated=False,
    )
    forger = KeyPair("ES384", key.kid)  # right kid, wrong key: every token below is a forgery
    spellings = [
        allowlisted,
        f"http://LocalHost:{stub_server.port}/jwks.json",
        f"HTTP://localhost:0{stub_server.port}/jwks.json",
        f"http://localhost:{stub_server.port}/jwks.json/",
        f"http://localhost:{stub_server.port}/jwks.json//",
    ]
    for jku in spellings:
        with pytest.raises(Unauthorized):
            auth.authenticate(
                bearer(forger.sign(cds_claims(ISS, SERVICE_URL), {"jku": jku})), audience_url=SERVICE_URL
            )
    assert stub_server.hits == {"/jwks.json": 1}
    token = key.sign(cds_claims(ISS, SERVICE_URL), {"jku": spellings[1]})
    assert auth.authenticate(bearer(token), audience_url=SERVICE_URL) is not None
    assert stub_server.hits == {"/jwks.json": 1}
    assert len(auth.keys) == 1  # one cache entry, by the normalised URL


@pytest.mark.parametrize("exp", ["string", "bool", "absent"])
def test_exp_that_is_not_a_number_is_refused(
    tmp_path: Path, store: ConsultationStore, key: KeyPair, exp: str
) -> None:
    auth = pinned(tmp_path, store, key)
    claims = cds_claims(ISS, SERVICE_URL)
    if exp == "string":
        claims["exp"] = str(claims["exp"])  # PyJWT alone would accept "1733...": int("1733...")
    elif exp == "bool":
        claims["exp"] = True
    else:
        del claims["exp"]
    with pytest.raises(Unauthorized):
        auth.authenticate(bearer(key.sign(claims)), audience_url=SERVICE_URL)


def test_fractional_exp_within_the_lifetime_is_accepted(
    tmp_path: Path, store: ConsultationStore, key: KeyPair
) -> None:
    auth = pinned(tmp_path, store, key)
    claims = cds_claims(ISS, SERVICE_URL)
    claims["exp"] = claims["iat"] + 299.5
    assert auth.authenticate(bearer(key.sign(claims)), audience_url=SERVICE_URL) is not None


def test_exp_ten_years_ahead_is_refused(tmp_path: Path, store: ConsultationStore, key: KeyPair) -> None:
    auth = pinned(tmp_path, store, key)
    claims = cds_claims(ISS, SERVICE_URL, exp=int(time.time()) + 10 * 365 * 86400)
    with pytest.raises(Unauthorized):
        auth.authenticate(bearer(key.sign(claims)), audience_url=SERVICE_URL)


def test_lifetime_limit_is_five_minutes_plus_skew_and_configurable(
    tmp_path: Path, store: ConsultationStore, key: KeyPair
) -> None:
    auth = pinned(tmp_path, store, key)
    now = int(time.time())
    assert auth.authenticate(
        bearer(key.sign(cds_claims(ISS, SERVICE_URL, iat=now, exp=now + 360))), audience_url=SERVICE_URL
    )
    with pytest.raises(Unauthorized):
        auth.authenticate(
            bearer(key.sign(cds_claims(ISS, SERVICE_URL, iat=now, exp=now + 361))), audience_url=SERVICE_URL
        )
    from app.security.cds_auth import authenticator_from_config

    issuers = [{"iss": ISS, "jwks_file": str(tmp_path / "jwks.json"), "audiences": [BASE]}]
    strict = authenticator_from_config(
        {"CDS_TRUSTED_ISSUERS": issuers, "CDS_MAX_TOKEN_LIFETIME_SECONDS": 60, "CDS_CLOCK_SKEW_SECONDS": 0},
        store,
    )
    with pytest.raises(Unauthorized):
        strict.authenticate(
            bearer(key.sign(cds_claims(ISS, SERVICE_URL, iat=now, exp=now + 120))), audience_url=SERVICE_URL
        )
    assert strict.authenticate(
        bearer(key.sign(cds_claims(ISS, SERVICE_URL, iat=now, exp=now + 60))), audience_url=SERVICE_URL
    )


def test_audience_configured_as_the_exact_service_url(
    tmp_path: Path, store: ConsultationStore, key: KeyPair
) -> None:
    here = "http://127.0.0.1:8201/cds-services/spine-auc-order-select"
    auth = pinned(tmp_path, store, key, audiences=[here])
    assert auth.authenticate(bearer(key.sign(cds_claims(ISS, here))), audience_url=here) is not None
    feedback = here + "/feedback"
    assert auth.authenticate(bearer(key.sign(cds_claims(ISS, feedback))), audience_url=feedback)
    other = "http://127.0.0.1:8201/cds-services/spine-auc-order-sign"
    for aud, url in ((other, other), (here, other), ("http://127.0.0.1:8201/cds-services",) * 2):
        with pytest.raises(Unauthorized):
            auth.authenticate(bearer(key.sign(cds_claims(ISS, aud))), audience_url=url)
