"""JSON Web Key Sets of trusted CDS clients: pinned files or allowlisted URLs, cached with rotation.

A key set comes from a file (re-read when it changes) or from an HTTPS URL (cached for ``ttl``
seconds; an unknown ``kid`` triggers one refetch, at most every ``min_refetch`` seconds, so a client
that rotates its keys is picked up without letting a stream of bogus ``kid`` values hammer it). At most
``max_sources`` key sets of each kind are kept (least recently used dropped first).
The default fetcher goes through ``app.fhir.http`` (the one outbound HTTP layer): no redirects, a time
budget and a size cap. Each key keeps the ``alg``/``crv`` its JWK declares, so callers need no PyJWT
internals to check that a token's ``alg`` fits the key.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

from app.fhir.errors import FhirError, FhirInvalidResponse
from app.fhir.http import get_json

log = logging.getLogger("spine_auc.security.jwks")

Fetcher = Callable[[str], dict[str, Any]]

MAX_JWKS_BYTES = 256 * 1024
# Key sets kept per process (files and URLs each); the least recently used is dropped beyond this. The
# callers pass only configured sources (a file, a jwks_url, a normalised allowlisted jku), so the bound is a
# backstop, never a working limit.
MAX_CACHED_SOURCES = 32


class JwksError(Exception):
    """The key set could not be obtained or is not a JWK Set."""


def fetch_json(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """GET ``url`` and parse a JSON object through the one HTTP layer: no redirects, bounded size and time."""
    if not url.lower().startswith(("https://", "http://")):
        raise JwksError("JWKS URL must be http(s)")
    try:
        return get_json(url, timeout=timeout, max_bytes=MAX_JWKS_BYTES)
    except FhirInvalidResponse as exc:
        raise JwksError(f"JWKS is not a JSON object or too large: {exc.message}") from exc
    except FhirError as exc:
        raise JwksError(f"JWKS fetch failed: {type(exc).__name__}") from exc


@dataclass(frozen=True)
class SigningKey:
    """A verified-usable key of a JWK Set with the ``alg`` and ``crv`` its JWK declares (``None`` if absent)."""

    jwk: jwt.PyJWK
    alg: str | None
    crv: str | None


def parse_jwks(data: dict[str, Any]) -> dict[str, SigningKey]:
    """``kid`` → key for every usable signing key; keys without ``kid`` or for encryption are skipped."""
    keys = data.get("keys")
    if not isinstance(keys, list):
        raise JwksError("JWK Set has no 'keys' list")
    parsed: dict[str, SigningKey] = {}
    for entry in keys:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") == "oct":  # symmetric keys are never acceptable
            continue
        try:
            alg, crv = entry.get("alg"), entry.get("crv")
            parsed[entry["kid"]] = SigningKey(
                jwt.PyJWK(entry), alg if isinstance(alg, str) else None, crv if isinstance(crv, str) else None
            )
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, KeyError, TypeError):
            log.warning("skipping unusable JWK kid=%s", entry.get("kid"))
    return parsed


@dataclass
class _Cached:
    keys: dict[str, SigningKey] = field(default_factory=dict)
    fetched_at: float = 0.0
    stamp: Any = None


class JwksCache:
    """Keys by source (a file path or a URL), thread-safe, shared by all issuers of one process."""

    def __init__(
        self,
        fetcher: Fetcher | None = None,
        *,
        ttl: float = 300.0,
        min_refetch: float = 10.0,
        max_sources: int = MAX_CACHED_SOURCES,
    ):
        self._fetcher = fetcher or fetch_json
        self.ttl = ttl
        self.min_refetch = min_refetch
        self.max_sources = max_sources
        self._lock = threading.Lock()
        self._files: OrderedDict[str, _Cached] = OrderedDict()
        self._urls: OrderedDict[str, _Cached] = OrderedDict()

    def __len__(self) -> int:
        """How many key sets are cached (files and URLs)."""
        return len(self._files) + len(self._urls)

    def _remember(self, cache: OrderedDict[str, _Cached], source: str, entry: _Cached) -> None:
        cache[source] = entry
        cache.move_to_end(source)
        while len(cache) > self.max_sources:
            dropped, _ = cache.popitem(last=False)
            log.warning("JWKS cache full; dropped the least recently used key set source=%s", dropped)

    def from_file(self, path: str, kid: str) -> SigningKey | None:
        with self._lock:
            try:
                stat = os.stat(path)
            except OSError as exc:
                raise JwksError(f"JWKS file unreadable: {path}") from exc
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._files.get(path)
            if cached is None or cached.stamp != stamp:
                with open(path, encoding="utf-8") as handle:
                    try:
                        data = json.load(handle)
                    except ValueError as exc:
                        raise JwksError(f"JWKS file is not JSON: {path}") from exc
                cached = _Cached(keys=parse_jwks(data), fetched_at=time.monotonic(), stamp=stamp)
            self._remember(self._files, path, cached)
            return cached.keys.get(kid)

    def from_url(self, url: str, kid: str) -> SigningKey | None:
        with self._lock:
            now = time.monotonic()
            cached = self._urls.get(url)
            stale = cached is None or now - cached.fetched_at > self.ttl
            missing = cached is not None and kid not in cached.keys
            may_refetch = cached is None or now - cached.fetched_at > self.min_refetch
            if stale or (missing and may_refetch):
                try:
                    keys = parse_jwks(self._fetcher(url))
                except JwksError:
                    if cached is None:
                        raise
                    log.warning("JWKS refresh failed; keeping the cached key set url=%s", url)
                else:
                    cached = _Cached(keys=keys, fetched_at=now)
            if cached is None:  # unreachable: a failed first fetch raised above
                raise JwksError("no key set")
            self._remember(self._urls, url, cached)
            return cached.keys.get(kid)
