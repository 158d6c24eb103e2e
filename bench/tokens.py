"""CDS client JWTs for the HTTP benchmark: one ES384 key (as the CDS Hooks sandbox signs), its JWK Set in a
file the service trusts (``SPINE_AUC_CDS_TRUSTED_ISSUERS`` with a ``jwks_file``), and fresh tokens.

``BENCH_JWT_ALG=RS384`` signs with an RSA 2048 key instead: CDS Hooks 2.0 asks services to accept both ES384
and RS384, and their verification costs differ ~5x (P-384 ECDSA ~0.8 ms, RSA ~0.15 ms on this machine).

Every request carries its own token (a distinct ``jti``, ``aud`` = the exact service URL, ``exp = iat + 300``
as the sandbox signs), so the service's replay cache accepts each exactly once. wrk cannot sign: tokens are
signed before a run, written one per line to a file that the wrk Lua script reads into a table.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://bench-ehr.invalid"
ALGORITHM = os.environ.get("BENCH_JWT_ALG", "ES384")
if ALGORITHM not in {"ES384", "RS384"}:
    raise SystemExit(f"BENCH_JWT_ALG must be ES384 or RS384, not {ALGORITHM!r}")
KID = f"bench-{ALGORITHM.lower()}"
LIFETIME = 300  # seconds, as the CDS Hooks sandbox signs


class TokenSigner:
    """One generated key (EC P-384, or RSA 2048 for RS384); ``jwks`` / ``write_jwks`` publish it, ``tokens``
    signs fresh ones."""

    def __init__(self, iss: str = ISSUER, kid: str = KID, private: Any = None) -> None:
        self.iss, self.kid = iss, kid
        self.private = private if private is not None else _new_key()
        self.serial = 0  # jti counter: unique within this signer, whatever the clock does

    def jwks(self) -> dict[str, Any]:
        algorithm = jwt.algorithms.ECAlgorithm if ALGORITHM.startswith("ES") else jwt.algorithms.RSAAlgorithm
        jwk = json.loads(algorithm.to_jwk(self.private.public_key()))
        jwk.update({"kid": self.kid, "alg": ALGORITHM, "use": "sig"})
        return {"keys": [jwk]}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def trusted_issuers(self, jwks_file: Path) -> str:
        """The value of ``SPINE_AUC_CDS_TRUSTED_ISSUERS`` that trusts this key (``aud`` = the request URL)."""
        return json.dumps([{"iss": self.iss, "jwks_file": str(jwks_file), "algorithms": [ALGORITHM]}])

    def sign(self, aud: str, *, now: int | None = None) -> str:
        self.serial += 1
        iat = int(time.time()) if now is None else now
        claims = {
            "iss": self.iss,
            "aud": aud,
            "iat": iat,
            "exp": iat + LIFETIME,
            "jti": f"{uuid.uuid4().hex}-{self.serial}",
        }
        return jwt.encode(claims, self.private, algorithm=ALGORITHM, headers={"typ": "JWT", "kid": self.kid})

    def tokens(self, aud: str, count: int) -> Iterator[str]:
        now = int(time.time())
        for _ in range(count):
            yield self.sign(aud, now=now)

    def many(self, aud: str, count: int, pool: Executor | None = None, chunk: int = 1000) -> list[str]:
        """``count`` fresh tokens; signed in chunks on ``pool`` (processes: ES384 signing is CPU-bound)."""
        if pool is None or count <= chunk:
            return list(self.tokens(aud, count))
        pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        jobs = []
        for first in range(0, count, chunk):
            size = min(chunk, count - first)
            jobs.append(pool.submit(_sign_chunk, pem, self.iss, self.kid, aud, self.serial + first, size))
        self.serial += count
        return [token for job in jobs for token in job.result()]


def _new_key() -> Any:
    if ALGORITHM == "RS384":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP384R1())


def _sign_chunk(pem: bytes, iss: str, kid: str, aud: str, serial: int, count: int) -> list[str]:
    signer = TokenSigner(iss, kid, serialization.load_pem_private_key(pem, password=None))
    signer.serial = serial
    return list(signer.tokens(aud, count))


def write_token_file(path: Path, tokens: Iterator[str] | list[str]) -> int:
    """Tokens one per line (the wrk Lua script's ``io.lines``); returns how many were written."""
    count = 0
    with path.open("w", encoding="ascii") as out:
        for token in tokens:
            if "\n" in token or not token:
                raise ValueError("a token must be one non-empty line")
            out.write(token + "\n")
            count += 1
    return count


def read_token_file(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="ascii").splitlines() if line]


def tokens_needed(expected_rps: float, seconds: float, *, margin: float = 3.0, floor: int = 200) -> int:
    """How many tokens one wrk run gets: ``margin`` x the requests expected at ``expected_rps``."""
    return max(floor, int(margin * expected_rps * seconds) + 1)


def signing_rate(signer: TokenSigner, aud: str, count: int = 200) -> dict[str, float]:
    """Tokens signed per second (``ALGORITHM``, PyJWT) on this machine."""
    t0 = time.perf_counter()
    for _ in signer.tokens(aud, count):
        pass
    elapsed = time.perf_counter() - t0
    return {"tokens_per_second": round(count / elapsed, 1), "us_per_token": round(elapsed / count * 1e6, 1)}
