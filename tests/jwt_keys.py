"""Real signing keys for tests: generated key pairs, their JWK Sets, signed tokens, JWK Sets served by the stub."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.stubserver import StubServer


class KeyPair:
    """One generated signing key (EC P-384 for ES384, P-256 for ES256, RSA 2048 for RS*/PS*)."""

    def __init__(self, alg: str = "ES384", kid: str | None = None):
        self.alg = alg
        self.kid = kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}"
        if alg.startswith("ES"):
            curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
            self.private: Any = ec.generate_private_key(curve)
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @classmethod
    def from_private(cls, private: Any, alg: str, kid: str) -> KeyPair:
        """A published key pair (the CDS Hooks sandbox's) instead of a generated one."""
        pair = cls.__new__(cls)
        pair.alg, pair.kid, pair.private = alg, kid, private
        return pair

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.algorithms.ECAlgorithm if self.alg.startswith("ES") else jwt.algorithms.RSAAlgorithm
        data = json.loads(algorithm.to_jwk(self.private.public_key()))
        data.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return dict(data)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}

    def write_jwks(self, path: Path) -> str:
        path.write_text(json.dumps(self.jwks()))
        return str(path)

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(
            claims,
            self.private,
            algorithm=self.alg,
            headers={"typ": "JWT", "kid": self.kid, **(headers or {})},
        )


def api_claims(iss: str, aud: str, scope: str, **extra: Any) -> dict[str, Any]:
    """Claims of an API-client access token (SMART Backend Services style), valid for 5 minutes."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": iss,
        "sub": "scheduler-1",
        "aud": aud,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "scope": scope,
    }
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def cds_claims(iss: str, aud: str, **extra: Any) -> dict[str, Any]:
    """Claims as a CDS client (the CDS Hooks sandbox) signs them: exp = iat + 300, a fresh jti."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": iss, "aud": aud, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def serve_jwks(stub: StubServer, path: str, jwks: dict[str, Any]) -> str:
    """Serve ``jwks`` at ``path`` of the stub server (``tests/stubserver.py``); returns its URL."""
    stub.json(path, jwks)
    return stub.url + path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
