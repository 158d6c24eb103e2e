"""SMART Backend Services (client-credentials grant with a signed JWT assertion) for server-to-server FHIR.

``SmartBackendTokenProvider(...).token()`` returns an access token, cached until ``expires_in`` − 30 s.
The assertion follows the SMART App Launch "Backend Services" profile: header ``alg``/``kid``/``typ``;
claims ``iss`` = ``sub`` = client_id, ``aud`` = token URL, ``exp`` at most 5 minutes ahead, a fresh ``jti``.
The HTTP call goes through ``app.fhir.http.post_form`` (the one outbound HTTP layer). Tokens and
assertions are never logged.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import jwt

from app.fhir.errors import FhirAuthError, FhirInvalidResponse
from app.fhir.http import post_form

log = logging.getLogger("spine_auc.fhir.smart_backend")

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 300  # SMART: exp no more than five minutes in the future
EXPIRY_MARGIN_SECONDS = 30
SUPPORTED_ALGS = ("RS384", "ES384")


class SmartBackendTokenProvider:
    """Obtains and caches access tokens from a SMART Backend Services token endpoint (thread-safe)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        private_key_pem: str | bytes,
        kid: str,
        alg: str = "RS384",
        scope: str = "system/*.read",
        *,
        timeout: float = 5.0,
    ):
        if alg not in SUPPORTED_ALGS:
            raise ValueError(f"unsupported alg {alg!r}; use one of {', '.join(SUPPORTED_ALGS)}")
        parts = urlsplit(token_url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("token_url must be https (plain http only on the loopback interface)")
        self.token_url = token_url
        self.client_id = client_id
        self.kid = kid
        self.alg = alg
        self.scope = scope
        self.timeout = timeout
        self._key = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0  # monotonic
        self.requests_made = 0

    def __repr__(self) -> str:  # never shows the key or the token
        return f"SmartBackendTokenProvider({self.token_url!r}, client_id={self.client_id!r}, alg={self.alg})"

    def assertion(self, now: float | None = None) -> str:
        """A fresh signed client assertion."""
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "exp": issued + ASSERTION_LIFETIME_SECONDS,
            "iat": issued,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=self.alg, headers={"kid": self.kid, "typ": "JWT"})

    def token(self) -> str:
        """A valid access token: the cached one, or a new one from the token endpoint."""
        with self._lock:
            if self._token is not None and time.monotonic() < self._expires_at:
                return self._token
            answer = self._request_token()
            self._token, lifetime = _parse_token_answer(answer)
            self._expires_at = time.monotonic() + max(0, lifetime - EXPIRY_MARGIN_SECONDS)
            log.info("SMART backend token obtained from %s (lifetime %d s)", self.token_url, lifetime)
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (e.g. after a 401 from the FHIR server)."""
        with self._lock:
            self._token = None
            self._expires_at = 0.0

    def _request_token(self) -> dict[str, Any]:
        self.requests_made += 1
        return post_form(
            self.token_url,
            {
                "grant_type": "client_credentials",
                "scope": self.scope,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.assertion(),
            },
            timeout=self.timeout,
        )


def _parse_token_answer(answer: dict[str, Any]) -> tuple[str, int]:
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise FhirInvalidResponse("token endpoint answer has no access_token")
    token_type = answer.get("token_type", "bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise FhirAuthError(f"token endpoint returned token_type {token_type!r}, not bearer")
    expires_in = answer.get("expires_in", ASSERTION_LIFETIME_SECONDS)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        raise FhirInvalidResponse(f"token endpoint returned an invalid expires_in: {expires_in!r}")
    return token, int(expires_in)
