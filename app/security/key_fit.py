"""Whether a verification key fits a token's ``alg``: the key, not the token, decides what verifies."""

from __future__ import annotations

from app.security.jwks import SigningKey

_KEY_FAMILY = {"ES": "EC", "RS": "RSA", "PS": "RSA"}
_EC_CURVE = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


def key_misfit(key: SigningKey, alg: str) -> str | None:
    """Why ``key`` must not verify an ``alg`` token (kty, curve or the JWK's own alg), or ``None``."""
    if key.alg is not None and key.alg != alg:
        return "alg differs from the key's alg"
    if key.jwk.key_type != _KEY_FAMILY.get(alg[:2]):
        return "key type does not fit alg"
    if alg in _EC_CURVE and key.crv != _EC_CURVE[alg]:
        return "curve does not fit alg"
    return None
