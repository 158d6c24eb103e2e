"""JSON Web Key Sets of trusted CDS clients: pinned files or allowlisted URLs, cached with rotation.

A key set comes from a file (re-read when it changes) or from an HTTPS URL (cached for ``ttl``
seconds; an unknown ``kid`` triggers one refetch, at most every ``min_refetch`` seconds, so a client
that rotates its keys is picked up without letting a stream of bogus ``kid`` values hammer it).
The default fetcher uses the standard library, follows no redirects and caps the body size.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

log = logging.getLogger("spine_auc.jwks")

Fetcher = Callable[[str], dict[str, Any]]

MAX_JWKS_BYTES = 256 * 1024


class JwksError(Exception):
    """The key set could not be obtained or is not a JWK Set."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx surfaces as an HTTPError instead of being followed


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch_json(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """GET ``url`` and parse a JSON object; no redirects, bounded size and time."""
    if not url.lower().startswith(("https://", "http://")):
        raise JwksError("JWKS URL must be http(s)")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(MAX_JWKS_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise JwksError(f"JWKS fetch failed: {type(exc).__name__}") from exc
    if len(body) > MAX_JWKS_BYTES:
        raise JwksError("JWKS too large")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise JwksError("JWKS is not JSON") from exc
    if not isinstance(data, dict):
        raise JwksError("JWKS is not a JSON object")
    return data


def parse_jwks(data: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    """``kid`` → key for every usable signing key; keys without ``kid`` or for encryption are skipped."""
    keys = data.get("keys")
    if not isinstance(keys, list):
        raise JwksError("JWK Set has no 'keys' list")
    parsed: dict[str, jwt.PyJWK] = {}
    for entry in keys:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") == "oct":  # symmetric keys are never acceptable
            continue
        try:
            parsed[entry["kid"]] = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, KeyError, TypeError):
            log.warning("skipping unusable JWK kid=%s", entry.get("kid"))
    return parsed


@dataclass
class _Cached:
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float = 0.0
    stamp: Any = None


class JwksCache:
    """Keys by source (a file path or a URL), thread-safe, shared by all issuers of one process."""

    def __init__(self, fetcher: Fetcher | None = None, *, ttl: float = 300.0, min_refetch: float = 10.0):
        self._fetcher = fetcher or fetch_json
        self.ttl = ttl
        self.min_refetch = min_refetch
        self._lock = threading.Lock()
        self._files: dict[str, _Cached] = {}
        self._urls: dict[str, _Cached] = {}

    def from_file(self, path: str, kid: str) -> jwt.PyJWK | None:
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
                self._files[path] = cached
            return cached.keys.get(kid)

    def from_url(self, url: str, kid: str) -> jwt.PyJWK | None:
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
                    self._urls[url] = cached
            if cached is None:  # unreachable: a failed first fetch raised above
                raise JwksError("no key set")
            return cached.keys.get(kid)
