"""API client authentication: bearer JWTs of configured issuers, SMART Backend Services style.

Guards everything that is not CDS Hooks: ``POST /api/v1/appropriateness``, the FHIR ``$appropriateness``
operations (scope ``system/spine-auc.appropriateness``) and the consultation reads (scope
``system/spine-auc.consultations.read``). A token is accepted only when its ``iss`` is a configured API
issuer, its ``kid`` names a key of that issuer's key set (a pinned ``jwks_file`` or the issuer's
``jwks_url``; a ``jku`` header is never followed), ``alg`` is on the issuer's list (never ``none`` or
HMAC), ``sub`` (the client id) is present and on the issuer's ``clients`` list where configured, ``aud``
is one of the service's configured audiences, ``exp`` and ``iat`` are numbers with ``exp − iat`` at most
the configured lifetime (5 minutes by default) and the ``scope`` claim (space separated) holds the scope
the route needs. Access tokens may be used for several calls within their short lifetime: ``jti`` is not
a one-time nonce here.

Tenant: the token's ``tenant`` claim, or else the client id; it must be on the issuer's ``tenants`` list
where configured. Consultation reads see only the caller's tenant; evaluations are recorded under it.

Open mode: only the embedded default — no API issuer, no CDS issuer, bound to loopback — leaves these
routes open (to loopback peers); the start-up log says so. Any other configuration without an API issuer
answers 401: a non-loopback bind, or a loopback bind once CDS issuers are configured (configuring an issuer
means real patient data; an operator then opts into API access by adding an API issuer). The service
still starts, so a CDS-Hooks-only deployment needs no API issuer.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from app.errors import Forbidden, Unauthorized
from app.security.cds_auth import (
    ALLOWED_EXTRA_ALGORITHMS,
    DEFAULT_ALGORITHMS,
    MAX_TOKEN_BYTES,
    is_loopback_host,
    require_https_or_loopback,
)
from app.security.jwks import Fetcher, JwksCache, JwksError, SigningKey
from app.security.key_fit import key_misfit

log = logging.getLogger("spine_auc.security.api_auth")

SCOPE_EVALUATE = "system/spine-auc.appropriateness"
SCOPE_CONSULTATIONS_READ = "system/spine-auc.consultations.read"
DEFAULT_MAX_TOKEN_LIFETIME = 300
_TYPES = (None, "JWT", "jwt", "at+jwt", "at+JWT")


@dataclass(frozen=True)
class ApiClient:
    """A verified API caller."""

    iss: str
    client_id: str
    tenant: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class ApiIssuer:
    iss: str
    jwks_file: str | None
    jwks_url: str | None
    audiences: tuple[str, ...]
    algorithms: tuple[str, ...]
    clients: tuple[str, ...] | None
    tenants: tuple[str, ...] | None


def _strings(value: Any, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(value)


def parse_api_issuer(raw: Any) -> ApiIssuer:
    """Validate one API issuer entry; raises ``ValueError`` naming the problem."""
    if not isinstance(raw, dict):
        raise ValueError("each API issuer must be an object")
    iss = raw.get("iss")
    if not isinstance(iss, str) or not iss:
        raise ValueError("API issuer needs 'iss'")
    jwks_file, jwks_url = raw.get("jwks_file"), raw.get("jwks_url")
    if bool(jwks_file) == bool(jwks_url) or not isinstance(jwks_file or jwks_url, str):
        raise ValueError(f"API issuer {iss}: give exactly one of 'jwks_file' or 'jwks_url'")
    if jwks_url:
        require_https_or_loopback(jwks_url, f"API issuer {iss}: jwks_url")
    algorithms = _strings(raw.get("algorithms"), "algorithms") or DEFAULT_ALGORITHMS
    for alg in algorithms:
        if alg not in DEFAULT_ALGORITHMS and alg not in ALLOWED_EXTRA_ALGORITHMS:
            raise ValueError(f"API issuer {iss}: algorithm {alg!r} is not allowed (never 'none' or HMAC)")
    audiences = _strings(raw.get("audiences"), "audiences") or ()
    return ApiIssuer(
        iss=iss,
        jwks_file=jwks_file or None,
        jwks_url=jwks_url or None,
        audiences=tuple(a.rstrip("/") for a in audiences),
        algorithms=tuple(algorithms),
        clients=_strings(raw.get("clients"), "clients"),
        tenants=_strings(raw.get("tenants"), "tenants"),
    )


def parse_api_issuers(raw: Any) -> list[ApiIssuer]:
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else []
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("API_TRUSTED_ISSUERS must be a JSON list")
    issuers = [parse_api_issuer(item) for item in raw]
    if len({i.iss for i in issuers}) != len(issuers):
        raise ValueError("API_TRUSTED_ISSUERS lists an issuer twice")
    return issuers


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ApiAuthenticator:
    """Verifies API client tokens; one per app (``app.extensions["spine_auc.api_auth"]``)."""

    def __init__(
        self,
        issuers: Any,
        *,
        open_on_loopback: bool = False,
        clock_skew: int = 60,
        max_token_lifetime: int = DEFAULT_MAX_TOKEN_LIFETIME,
        jwks_fetcher: Fetcher | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.issuers = {i.iss: i for i in parse_api_issuers(issuers)}
        self.open_on_loopback = open_on_loopback and not self.issuers
        self.clock_skew = clock_skew
        self.max_token_lifetime = max_token_lifetime
        self.keys = JwksCache(jwks_fetcher)
        self._clock = clock

    def _refuse(self, reason: str, **fields: Any) -> Unauthorized:
        detail = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        log.warning("api auth refused: %s %s", reason, detail)
        return Unauthorized(reason, error="invalid_token")

    def authorize(
        self, authorization_header: str | None, *, scope: str, audience: str, remote_addr: str | None
    ) -> ApiClient | None:
        """The verified caller holding ``scope``, or ``None`` in loopback open mode.

        Raises ``Unauthorized`` (no or bad token) or ``Forbidden`` (a good token without ``scope``).
        """
        if not self.issuers:
            if self.open_on_loopback and (remote_addr is None or is_loopback_host(remote_addr)):
                return None
            log.warning("api auth refused: no API issuers configured and not loopback peer=%s", remote_addr)
            raise Unauthorized("no API issuer configured")
        if not authorization_header:
            log.warning("api auth refused: no authorization header")
            raise Unauthorized("no bearer token")
        client = self.verify(authorization_header, audience=audience)
        if scope not in client.scopes:
            log.warning(
                "api auth refused: scope %s missing iss=%s sub=%s", scope, client.iss, client.client_id
            )
            raise Forbidden(scope)
        return client

    def verify(self, authorization_header: str, *, audience: str) -> ApiClient:
        """Check signature and claims of ``Authorization: Bearer <JWT>``; raises ``Unauthorized``."""
        scheme, _, token = authorization_header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_BYTES:
            raise self._refuse("not a bearer token")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise self._refuse("malformed token") from exc
        iss, alg, kid = unverified.get("iss"), header.get("alg"), header.get("kid")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise self._refuse("unknown issuer", iss=iss if isinstance(iss, str) else None)
        if not isinstance(alg, str) or alg not in issuer.algorithms:
            raise self._refuse("algorithm not allowed", iss=issuer.iss, alg=alg)
        if header.get("typ") not in _TYPES:
            raise self._refuse("typ is not JWT", iss=issuer.iss)
        if not isinstance(kid, str) or not kid:
            raise self._refuse("no kid", iss=issuer.iss)
        key = self._key(issuer, kid)
        misfit = key_misfit(key, alg)
        if misfit is not None:
            raise self._refuse(misfit, iss=issuer.iss, kid=kid)
        try:
            claims = jwt.decode(
                token,
                key=key.jwk.key,
                algorithms=[alg],
                audience=list(issuer.audiences) or [audience.rstrip("/")],
                issuer=issuer.iss,
                leeway=self.clock_skew,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise self._refuse(f"invalid token ({type(exc).__name__})", iss=issuer.iss, kid=kid) from exc
        return self._client(issuer, claims, kid)

    def _client(self, issuer: ApiIssuer, claims: dict[str, Any], kid: str) -> ApiClient:
        iat, exp = claims["iat"], claims["exp"]
        if not _is_number(iat) or not _is_number(exp):
            raise self._refuse("exp or iat is not a number", iss=issuer.iss, kid=kid)
        if iat > self._clock() + self.clock_skew:
            raise self._refuse("iat in the future", iss=issuer.iss, kid=kid)
        if exp - iat > self.max_token_lifetime + self.clock_skew:
            raise self._refuse("token lifetime too long", iss=issuer.iss, kid=kid)
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub:
            raise self._refuse("sub is not a client id", iss=issuer.iss)
        if issuer.clients is not None and sub not in issuer.clients:
            raise self._refuse("client not allowed", iss=issuer.iss, sub=sub)
        tenant = claims.get("tenant", sub)
        if not isinstance(tenant, str) or not tenant:
            raise self._refuse("tenant is not a string", iss=issuer.iss, sub=sub)
        if issuer.tenants is not None and tenant not in issuer.tenants:
            raise self._refuse("tenant not allowed", iss=issuer.iss, sub=sub, tenant=tenant)
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise self._refuse("scope is not a string", iss=issuer.iss, sub=sub)
        return ApiClient(iss=issuer.iss, client_id=sub, tenant=tenant, scopes=frozenset(scope.split()))

    def _key(self, issuer: ApiIssuer, kid: str) -> SigningKey:
        try:
            if issuer.jwks_file:
                key = self.keys.from_file(issuer.jwks_file, kid)
            else:
                key = self.keys.from_url(str(issuer.jwks_url), kid)
        except JwksError as exc:
            raise self._refuse(f"key set unavailable ({exc})", iss=issuer.iss, kid=kid) from exc
        if key is None:
            raise self._refuse("unknown kid", iss=issuer.iss, kid=kid)
        return key


def _open_mode(config: dict[str, Any], host: str | None) -> bool:
    """The embedded default: no issuer of any kind and a loopback bind."""
    cds_issuers = config.get("CDS_TRUSTED_ISSUERS") or []
    if isinstance(cds_issuers, str):
        cds_issuers = json.loads(cds_issuers) if cds_issuers.strip() else []
    return not cds_issuers and is_loopback_host(host)


def api_authenticator_from_config(config: dict[str, Any]) -> ApiAuthenticator:
    """The app's API authenticator; open (to loopback peers) only in the embedded default."""
    return ApiAuthenticator(
        config.get("API_TRUSTED_ISSUERS") or [],
        open_on_loopback=_open_mode(config, config.get("BIND_HOST")),
        clock_skew=int(config.get("CDS_CLOCK_SKEW_SECONDS", 60)),
        max_token_lifetime=int(config.get("API_MAX_TOKEN_LIFETIME_SECONDS", DEFAULT_MAX_TOKEN_LIFETIME)),
    )


def api_startup_warnings(config: dict[str, Any], host: str) -> list[str]:
    """What to log at start about API access; raises ``RuntimeError`` on an invalid issuer list."""
    try:
        issuers = parse_api_issuers(config.get("API_TRUSTED_ISSUERS") or [])
    except ValueError as exc:
        raise RuntimeError(f"invalid API_TRUSTED_ISSUERS: {exc}") from exc
    if issuers:
        return []
    if _open_mode(config, host):
        return [
            f"OPEN MODE: no API issuers configured: the REST API, $appropriateness and consultation reads "
            f"answer any loopback caller without a token (bound to {host}); set "
            "SPINE_AUC_API_TRUSTED_ISSUERS before serving patient data"
        ]
    return [
        f"no API issuers configured (bound to {host}): the REST API, $appropriateness and consultation "
        "reads answer 401 to every call; set SPINE_AUC_API_TRUSTED_ISSUERS to allow API clients"
    ]
