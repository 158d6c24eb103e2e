"""Signed, expiring, opaque link tokens for the question page (and the form's CSRF token bound to one).

A token is ``base64url(question id (16 random bytes) ‖ expiry (8 bytes, Unix seconds) ‖ HMAC-SHA256)``: it
names one pending question (one consultation) by a random id, never a patient, and cannot be forged or
extended without the secret. The secret is ``QUESTIONS_SECRET`` when configured, else a random key kept in
``<DATA_DIR>/questions.key`` (created 0600 on first use; every worker reads the same file).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEY_FILE = "questions.key"
_ID_BYTES = 16
_EXP = struct.Struct(">Q")
_MAC_BYTES = 32


class BadToken(Exception):
    """The token is malformed, forged or expired (``expired`` says which)."""

    def __init__(self, message: str, *, expired: bool = False):
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class LinkToken:
    question_id: str  # hex of the random id
    expires_at: int  # Unix seconds


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def secret_from_config(config: dict[str, Any]) -> bytes:
    """``QUESTIONS_SECRET``, else the key file under ``DATA_DIR`` (generated, mode 0600, when absent)."""
    configured = config.get("QUESTIONS_SECRET")
    if configured:
        return str(configured).encode()
    path = Path(config["DATA_DIR"]) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    for _ in range(50):  # another worker may be writing it right now
        key = path.read_text(encoding="ascii").strip()
        if len(key) == 64:
            return key.encode()
        time.sleep(0.01)
    raise RuntimeError(f"{path} does not hold a 32-byte hex key")


def new_question_id() -> str:
    return secrets.token_hex(_ID_BYTES)


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, b"question-link\x00" + payload, hashlib.sha256).digest()


def issue(secret: bytes, question_id: str, expires_at: int) -> str:
    payload = bytes.fromhex(question_id) + _EXP.pack(expires_at)
    return _b64(payload + _mac(secret, payload))


def verify(secret: bytes, token: str, *, now: float | None = None) -> LinkToken:
    """The token's question id and expiry; raises :class:`BadToken` when forged, malformed or expired."""
    try:
        raw = _unb64(token)
    except (binascii.Error, ValueError):
        raise BadToken("malformed link") from None
    if len(raw) != _ID_BYTES + _EXP.size + _MAC_BYTES:
        raise BadToken("malformed link")
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise BadToken("this link is not valid")
    (expires_at,) = _EXP.unpack(payload[_ID_BYTES:])
    if (time.time() if now is None else now) >= expires_at:
        raise BadToken("this link has expired", expired=True)
    return LinkToken(payload[:_ID_BYTES].hex(), int(expires_at))


def csrf_token(secret: bytes, link_token: str) -> str:
    """The form's CSRF token: bound to the link token, unforgeable without the secret."""
    return _b64(hmac.new(secret, b"question-form\x00" + link_token.encode(), hashlib.sha256).digest())


def csrf_ok(secret: bytes, link_token: str, given: str) -> bool:
    return hmac.compare_digest(csrf_token(secret, link_token).encode(), given.encode())
