"""CDS client authentication (CDS Hooks 2.0 §Trusting CDS Clients) and the ``fhirServer`` SSRF guard.

Every CDS call carries ``Authorization: Bearer <JWT>``. A token is accepted only when its ``iss`` is a
configured trusted issuer, its ``kid`` names a key in that issuer's key set (pinned file, configured
URL, or a ``jku`` on the issuer's allowlist), its ``alg`` is on the issuer's allowlist (never ``none``
or HMAC; the token never chooses the verifier), ``aud`` is the endpoint being called, ``exp`` /
``nbf`` / ``iat`` hold within the clock skew, ``tenant`` is allowlisted where configured, and its
``jti`` has not been seen before by any worker (store-backed). Every failure is a bare 401; tokens are
never logged (only ``iss``, ``kid``, ``jti`` and a reason).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt

from app.errors import InvalidInput, Unauthorized
from app.security.jwks import Fetcher, JwksCache, JwksError, SigningKey
from app.security.key_fit import key_misfit

log = logging.getLogger("spine_auc.security.cds_auth")

DEFAULT_ALGORITHMS = ("ES384", "RS384")
ALLOWED_EXTRA_ALGORITHMS = frozenset({"ES256", "ES512", "RS256", "RS512", "PS256", "PS384", "PS512"})
MAX_TOKEN_BYTES = 16 * 1024
# CDS Hooks: tokens "SHOULD be very short lived"; the sandbox signs exp = iat + 300.
DEFAULT_MAX_TOKEN_LIFETIME = 300


class JtiStore(Protocol):
    def claim_jti(self, iss: str, jti: str, exp: int) -> bool: ...


@dataclass(frozen=True)
class Caller:
    iss: str
    sub: str | None
    tenant: str | None
    fhir_servers: tuple[str, ...]


@dataclass(frozen=True)
class IssuerConfig:
    iss: str
    jwks_file: str | None
    jwks_url: str | None
    jku_allowlist: tuple[str, ...]
    audiences: tuple[str, ...]
    algorithms: tuple[str, ...]
    tenants: tuple[str, ...] | None
    fhir_servers: tuple[str, ...]


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_base_url(url: str) -> str:
    """Canonical FHIR base for comparison: lower-case scheme/host, no default port, no trailing /."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"URL must not carry credentials, query or fragment: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or (scheme, port) in {("http", 80), ("https", 443)} else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def require_https_or_loopback(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        return
    raise ValueError(f"{what} must be https (plain http only on loopback): {url!r}")


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(value)


def parse_issuer(raw: dict[str, Any]) -> IssuerConfig:
    """Validate one trusted-issuer entry; raises ``ValueError`` naming the problem."""
    if not isinstance(raw, dict):
        raise ValueError("each trusted issuer must be an object")
    iss = raw.get("iss")
    if not isinstance(iss, str) or not iss:
        raise ValueError("trusted issuer needs 'iss'")
    jwks_file, jwks_url = raw.get("jwks_file"), raw.get("jwks_url")
    jku_allowlist = tuple(normalize_base_url(u) for u in _strings(raw.get("jku_allowlist"), "jku_allowlist"))
    if not jwks_file and not jwks_url and not jku_allowlist:
        raise ValueError(f"issuer {iss}: needs 'jwks_file', 'jwks_url' or a 'jku_allowlist'")
    if jwks_file and jwks_url:
        raise ValueError(f"issuer {iss}: give either 'jwks_file' or 'jwks_url', not both")
    if jwks_url:
        require_https_or_loopback(jwks_url, f"issuer {iss}: jwks_url")
    for url in jku_allowlist:
        require_https_or_loopback(url, f"issuer {iss}: jku_allowlist entry")
    algorithms = _strings(raw.get("algorithms"), "algorithms") or DEFAULT_ALGORITHMS
    for alg in algorithms:
        if alg not in DEFAULT_ALGORITHMS and alg not in ALLOWED_EXTRA_ALGORITHMS:
            raise ValueError(f"issuer {iss}: algorithm {alg!r} is not allowed (never 'none' or HMAC)")
    tenants = raw.get("tenants")
    fhir_servers = tuple(normalize_base_url(u) for u in _strings(raw.get("fhir_servers"), "fhir_servers"))
    return IssuerConfig(
        iss=iss,
        jwks_file=jwks_file if isinstance(jwks_file, str) else None,
        jwks_url=jwks_url if isinstance(jwks_url, str) else None,
        jku_allowlist=jku_allowlist,
        audiences=tuple(a.rstrip("/") for a in _strings(raw.get("audiences"), "audiences")),
        algorithms=tuple(algorithms),
        tenants=None if tenants is None else _strings(tenants, "tenants"),
        fhir_servers=fhir_servers,
    )


def parse_issuers(raw: Any) -> list[IssuerConfig]:
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else []
    if not isinstance(raw, list):
        raise ValueError("CDS_TRUSTED_ISSUERS must be a JSON list")
    issuers = [parse_issuer(item) for item in raw]
    if len({i.iss for i in issuers}) != len(issuers):
        raise ValueError("CDS_TRUSTED_ISSUERS lists an issuer twice")
    return issuers


def _expected_audiences(issuer: IssuerConfig, audience_url: str) -> list[str]:
    """The ``aud`` values acceptable for a call to ``audience_url``.

    A configured audience is either the public URL of the ``/cds-services`` base (the token must then
    name that base plus the endpoint path being called; the discovery URL is the base itself) or the
    exact URL of one service (what the CDS Hooks sandbox sends), which then covers that service and its
    feedback endpoint only. Without configured audiences the exact request URL is expected.
    """
    audience_url = audience_url.split("?", 1)[0].rstrip("/")
    if not issuer.audiences:
        return [audience_url]
    tail = _after_cds_services(urlsplit(audience_url).path)
    expected = []
    for configured in issuer.audiences:
        path = urlsplit(configured).path
        marker = path.find("/cds-services")
        if marker < 0:
            expected.append(configured + tail)
            continue
        service = path[marker + len("/cds-services") :]
        if not service or tail == service or tail.startswith(service + "/"):
            expected.append(configured[: len(configured) - len(service)] + tail)
    return expected


def _after_cds_services(path: str) -> str:
    marker = path.find("/cds-services")
    return path[marker + len("/cds-services") :] if marker >= 0 else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class CdsAuthenticator:
    """Verifies CDS client JWTs; one per app (``app.extensions["spine_auc.cds_auth"]``)."""

    def __init__(
        self,
        issuers: list[dict[str, Any]],
        store: JtiStore,
        *,
        clock_skew: int = 60,
        max_token_lifetime: int = DEFAULT_MAX_TOKEN_LIFETIME,
        allow_unauthenticated: bool,
        jwks_fetcher: Fetcher | None = None,
        open_fhir_servers: tuple[str, ...] = (),
        loopback_only: bool = False,
        clock: Callable[[], float] = time.time,
    ):
        self.issuers = {i.iss: i for i in parse_issuers(issuers)}
        self.store = store
        self.clock_skew = clock_skew
        self.max_token_lifetime = max_token_lifetime
        self.allow_unauthenticated = allow_unauthenticated
        self.keys = JwksCache(jwks_fetcher)
        self.open_fhir_servers = tuple(normalize_base_url(u) for u in open_fhir_servers)
        # Open mode granted only because of a loopback bind: also refuse peers that are not loopback
        # (when the caller passes remote_addr), in case the process is served on another address.
        self.loopback_only = loopback_only
        self._clock = clock

    def _refuse(self, reason: str, **fields: Any) -> Unauthorized:
        detail = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        log.warning("cds auth refused: %s %s", reason, detail)
        return Unauthorized("unauthorized")

    def authenticate(
        self, authorization_header: str | None, *, audience_url: str, remote_addr: str | None = None
    ) -> Caller | None:
        """The verified caller, or ``None`` for an accepted unauthenticated call; raises ``Unauthorized``.

        ``remote_addr`` (the peer address) lets the loopback-only open mode refuse non-loopback peers.
        """
        if not authorization_header or not self.issuers:
            if not self.allow_unauthenticated:
                raise self._refuse("no authorization header" if self.issuers else "no trusted issuers")
            if self.loopback_only and remote_addr is not None and not is_loopback_host(remote_addr):
                raise self._refuse("unauthenticated call from a non-loopback peer", peer=remote_addr)
            return None
        scheme, _, token = authorization_header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_BYTES:
            raise self._refuse("not a bearer token")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise self._refuse("malformed token") from exc
        alg, kid, jku = header.get("alg"), header.get("kid"), header.get("jku")
        iss = unverified.get("iss")
        jti = unverified.get("jti")
        if not isinstance(iss, str) or iss not in self.issuers:
            raise self._refuse("unknown issuer", iss=iss if isinstance(iss, str) else None)
        issuer = self.issuers[iss]
        if not isinstance(alg, str) or alg not in issuer.algorithms:
            raise self._refuse("algorithm not allowed", iss=iss, alg=alg)
        if header.get("typ") not in (None, "JWT", "jwt"):
            raise self._refuse("typ is not JWT", iss=iss)
        if not isinstance(kid, str) or not kid:
            raise self._refuse("no kid", iss=iss)
        key = self._find_key(issuer, kid, jku)
        self._check_key_matches(key, alg, iss, kid)
        try:
            claims = jwt.decode(
                token,
                key=key.jwk.key,
                algorithms=[alg],
                audience=_expected_audiences(issuer, audience_url),
                issuer=iss,
                leeway=self.clock_skew,
                options={"require": ["exp", "iat", "jti", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise self._refuse(f"invalid token ({type(exc).__name__})", iss=iss, kid=kid) from exc
        now = self._clock()
        iat, exp = claims["iat"], claims["exp"]
        if not _is_number(iat) or not _is_number(exp):
            raise self._refuse("exp or iat is not a number", iss=iss, kid=kid)
        if iat > now + self.clock_skew:
            raise self._refuse("iat in the future", iss=iss, kid=kid)
        if exp - iat > self.max_token_lifetime + self.clock_skew:
            raise self._refuse("token lifetime too long", iss=iss, kid=kid)
        if not isinstance(jti, str) or not jti:
            raise self._refuse("no jti", iss=iss, kid=kid)
        tenant = claims.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise self._refuse("tenant is not a string", iss=iss)
        if issuer.tenants is not None and tenant not in issuer.tenants:
            raise self._refuse("tenant not allowed", iss=iss, tenant=tenant)
        if not self.store.claim_jti(iss, jti, int(exp) + self.clock_skew):
            raise self._refuse("replayed jti", iss=iss, jti=jti)
        sub = claims.get("sub")
        return Caller(
            iss=iss,
            sub=sub if isinstance(sub, str) else None,
            tenant=tenant,
            fhir_servers=issuer.fhir_servers,
        )

    def _find_key(self, issuer: IssuerConfig, kid: str, jku: Any) -> SigningKey:
        try:
            if jku is not None:
                if not isinstance(jku, str):
                    raise self._refuse("jku is not a string", iss=issuer.iss)
                try:
                    normalized = normalize_base_url(jku)
                except ValueError as exc:
                    raise self._refuse("jku is not a URL", iss=issuer.iss) from exc
                if normalized not in issuer.jku_allowlist:
                    raise self._refuse("jku not on the allowlist", iss=issuer.iss, jku=jku)
                if issuer.jwks_file:  # pinned out-of-band: the allowlisted jku is never fetched
                    key = self.keys.from_file(issuer.jwks_file, kid)
                else:  # the normalised allowlist entry, never the token's spelling: one cache entry each
                    key = self.keys.from_url(normalized, kid)
            elif issuer.jwks_file:
                key = self.keys.from_file(issuer.jwks_file, kid)
            elif issuer.jwks_url:
                key = self.keys.from_url(issuer.jwks_url, kid)
            else:
                raise self._refuse("token has no jku and issuer has no configured key set", iss=issuer.iss)
        except JwksError as exc:
            raise self._refuse(f"key set unavailable ({exc})", iss=issuer.iss, kid=kid) from exc
        if key is None:
            raise self._refuse("unknown kid", iss=issuer.iss, kid=kid)
        return key

    def _check_key_matches(self, key: SigningKey, alg: str, iss: str, kid: str) -> None:
        misfit = key_misfit(key, alg)
        if misfit is not None:
            raise self._refuse(misfit, iss=iss, kid=kid)

    def check_fhir_server(self, caller: Caller | None, fhir_server: str | None) -> None:
        """Refuse (before any outbound call) a ``fhirServer`` the caller is not allowed to name."""
        if fhir_server is None:
            return
        if not isinstance(fhir_server, str):
            raise InvalidInput("fhirServer must be a URL string", expression=["fhirServer"])
        try:
            normalized = normalize_base_url(fhir_server)
        except ValueError as exc:
            raise InvalidInput(
                "fhirServer is not an acceptable http(s) base URL", expression=["fhirServer"]
            ) from exc
        host = urlsplit(normalized).hostname
        if not normalized.startswith("https://") and not is_loopback_host(host):
            raise InvalidInput("fhirServer must use https", expression=["fhirServer"])
        if caller is None:
            allowed = self.open_fhir_servers or ()
            if normalized in allowed or (not allowed and is_loopback_host(host)):
                return
        elif normalized in caller.fhir_servers:
            return
        log.warning("fhirServer refused iss=%s host=%s", caller.iss if caller else None, host)
        raise Unauthorized("fhirServer not allowed for this caller")


def check_startup_security(config: dict[str, Any], host: str) -> list[str]:
    """Warnings to log at start; raises ``RuntimeError`` when the configuration must not serve.

    No trusted issuers: accepted (with a warning) on a loopback bind; on any other bind address only
    with an explicit ``ALLOW_UNAUTHENTICATED``. Invalid issuer configuration always stops the start.
    """
    try:
        issuers = parse_issuers(config.get("CDS_TRUSTED_ISSUERS") or [])
    except ValueError as exc:
        raise RuntimeError(f"invalid CDS_TRUSTED_ISSUERS: {exc}") from exc
    allow = bool(config.get("ALLOW_UNAUTHENTICATED"))
    warnings: list[str] = []
    if issuers:
        if allow:
            warnings.append("ALLOW_UNAUTHENTICATED is set: CDS calls without a JWT are accepted")
        return warnings
    if is_loopback_host(host):
        warnings.append(
            "no trusted CDS issuers configured: unauthenticated CDS calls are accepted "
            f"(bound to loopback {host})"
        )
        return warnings
    if allow:
        warnings.append(
            f"no trusted CDS issuers configured and bound to {host}: unauthenticated CDS calls are accepted "
            "because --allow-unauthenticated was given"
        )
        return warnings
    raise RuntimeError(
        f"refusing to serve on {host} without trusted CDS issuers (set SPINE_AUC_CDS_TRUSTED_ISSUERS) "
        "unless --allow-unauthenticated is given"
    )


def authenticator_from_config(config: dict[str, Any], store: JtiStore) -> CdsAuthenticator:
    """The app's authenticator: open mode only when no issuers and (loopback bind or explicitly allowed)."""
    issuers = config.get("CDS_TRUSTED_ISSUERS") or []
    if isinstance(issuers, str):
        issuers = json.loads(issuers) if issuers.strip() else []
    explicit = bool(config.get("ALLOW_UNAUTHENTICATED"))
    loopback_default = not issuers and is_loopback_host(config.get("BIND_HOST"))
    fhir_base = config.get("FHIR_BASE_URL")
    return CdsAuthenticator(
        issuers,
        store,
        clock_skew=int(config.get("CDS_CLOCK_SKEW_SECONDS", 60)),
        max_token_lifetime=int(config.get("CDS_MAX_TOKEN_LIFETIME_SECONDS", DEFAULT_MAX_TOKEN_LIFETIME)),
        allow_unauthenticated=explicit or loopback_default,
        open_fhir_servers=(fhir_base,) if fhir_base else (),
        loopback_only=loopback_default and not explicit,
    )
