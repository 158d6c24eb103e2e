"""Key sets (app/security/jwks.py): parsed keys keep what their JWK declares; URLs go through app.fhir.http."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.security.jwks import MAX_JWKS_BYTES, JwksCache, JwksError, fetch_json, parse_jwks
from tests.stubserver import StubServer


def ec_jwk(kid: str, **extra: Any) -> dict[str, Any]:
    public = ec.generate_private_key(ec.SECP384R1()).public_key()
    return {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public)), "kid": kid, **extra}


def test_a_key_keeps_the_alg_and_curve_its_jwk_declares() -> None:
    keys = parse_jwks({"keys": [ec_jwk("declared", alg="ES384", use="sig"), ec_jwk("bare")]})
    assert (keys["declared"].alg, keys["declared"].crv) == ("ES384", "P-384")
    assert keys["bare"].alg is None and keys["bare"].crv == "P-384"  # no alg declared: none assumed
    assert keys["declared"].jwk.key_type == "EC"


def test_encryption_symmetric_and_kid_less_keys_are_skipped() -> None:
    oct_key = {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}
    keys = parse_jwks(
        {"keys": [ec_jwk("enc", use="enc"), oct_key, {k: v for k, v in ec_jwk("x").items() if k != "kid"}]}
    )
    assert keys == {}


def test_a_key_set_is_fetched_over_http(stub_server: StubServer) -> None:
    stub_server.json("/jwks.json", {"keys": [ec_jwk("k1")]})
    assert [k["kid"] for k in fetch_json(stub_server.url + "/jwks.json")["keys"]] == ["k1"]


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (200, b"[1, 2]", {}),  # not a JSON object
        (200, b"{" + b" " * (MAX_JWKS_BYTES + 1) + b"}", {}),  # over the size cap
        (404, b"{}", {}),
        (302, b"", {"Location": "/elsewhere.json"}),  # no redirects, not even to the same origin
    ],
)
def test_a_bad_answer_is_a_jwks_error(
    stub_server: StubServer, status: int, body: bytes, headers: dict[str, str]
) -> None:
    stub_server.route("/jwks.json", lambda req: req.send_raw(status, body, headers=headers))
    stub_server.json("/elsewhere.json", {"keys": []})
    with pytest.raises(JwksError):
        fetch_json(stub_server.url + "/jwks.json")
    assert stub_server.hits["/elsewhere.json"] == 0


def test_the_cache_keeps_at_most_max_sources_key_sets(stub_server: StubServer) -> None:
    stub_server.json("/sets/", {"keys": [ec_jwk("k1")]})  # every path below /sets/ answers a key set
    cache = JwksCache(max_sources=3)
    urls = [f"{stub_server.url}/sets/{n}.json" for n in range(10)]
    for url in urls:
        assert cache.from_url(url, "k1") is not None
    assert len(cache) == 3
    assert stub_server.hits_under("/sets/") == 10
    assert cache.from_url(urls[-1], "k1") is not None  # recently used: still cached
    assert stub_server.hits_under("/sets/") == 10
    assert cache.from_url(urls[0], "k1") is not None  # dropped: fetched again
    assert stub_server.hits_under("/sets/") == 11 and len(cache) == 3
