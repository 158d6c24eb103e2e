"""Who may read the auditor page (``/audit``): a configured auditor bearer token, or an API client token.

``SPINE_AUC_AUDITOR_TOKENS`` (JSON list) holds the tokens, each as ``sha256:<hex digest>`` (preferred: the
secret is not in the configuration) or as the token itself. A request is an auditor's when it carries
``Authorization: Bearer <token>`` whose SHA-256 equals a configured digest (constant-time compare), or the
session cookie the login form sets after such a token was typed (an HMAC of a timestamp keyed by the
token's digest: it reveals nothing of the token, expires after ``AUDITOR_SESSION_SECONDS``, HttpOnly,
SameSite=Strict, Secure over HTTPS).

An API client token (``SPINE_AUC_API_TRUSTED_ISSUERS``, :mod:`app.security.api_auth`) holding the scope
``system/spine-auc.audit.read`` is accepted too, as a bearer header; it sees its own tenant's consultations.

Off by default: with neither auditor tokens nor API issuers configured the page answers only on a
loopback bind (the embedded default, a developer's machine) and to loopback peers; on any other bind it
answers 404 until one of them is configured. Configuring either makes a credential required everywhere,
loopback included.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from app.security.cds_auth import is_loopback_host

COOKIE = "spine_auc_auditor"
SCOPE_AUDIT_READ = "system/spine-auc.audit.read"
DEFAULT_SESSION_SECONDS = 8 * 3600


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def configured_digests(config: dict[str, Any]) -> list[str]:
    """The configured tokens as SHA-256 hex digests (``sha256:<hex>`` entries are taken as they are)."""
    out = []
    for entry in config.get("AUDITOR_TOKENS") or []:
        if not isinstance(entry, str) or not entry:
            continue
        out.append(entry[7:].lower() if entry.startswith("sha256:") else digest_of(entry))
    return out


def token_matches(token: str, digests: list[str]) -> str | None:
    """The configured digest the token hashes to (compared in constant time), or ``None``."""
    presented = digest_of(token)
    found = None
    for d in digests:
        if hmac.compare_digest(presented, d):
            found = d
    return found


def _signature(digest: str, issued: int) -> str:
    return hmac.new(bytes.fromhex(digest), f"auditor-session:{issued}".encode(), hashlib.sha256).hexdigest()


def session_cookie(digest: str, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    return f"{issued}.{_signature(digest, issued)}"


def session_valid(cookie: str | None, digests: list[str], max_age: int, now: float | None = None) -> bool:
    if not cookie or "." not in cookie:
        return False
    issued_text, _, signature = cookie.partition(".")
    try:
        issued = int(issued_text)
    except ValueError:
        return False
    current = now if now is not None else time.time()
    if not 0 <= current - issued <= max_age:
        return False
    valid = False
    for d in digests:
        try:
            if hmac.compare_digest(_signature(d, issued), signature):
                valid = True
        except ValueError:
            continue
    return valid


def credentials_configured(config: dict[str, Any], api_issuers: bool) -> bool:
    return bool(configured_digests(config)) or api_issuers


def page_enabled(config: dict[str, Any], remote_addr: str | None, *, api_issuers: bool) -> bool:
    """Whether the page exists for this caller at all (see the module docstring)."""
    if credentials_configured(config, api_issuers):
        return True
    return is_loopback_host(str(config.get("BIND_HOST") or "")) and is_loopback_host(remote_addr)


def is_auditor(config: dict[str, Any], authorization: str | None, cookie: str | None) -> bool:
    """True when the request carries an auditor token or session (API client tokens: see the page)."""
    digests = configured_digests(config)
    if not digests:
        return False
    bearer = authorization[7:].strip() if authorization and authorization[:7].lower() == "bearer " else ""
    if bearer and token_matches(bearer, digests):
        return True
    max_age = int(config.get("AUDITOR_SESSION_SECONDS") or DEFAULT_SESSION_SECONDS)
    return session_valid(cookie, digests, max_age)
