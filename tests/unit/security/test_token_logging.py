"""Logs are JSON lines with audit fields; tokens never reach them."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.errors import Unauthorized
from app.logging_setup import configure_logging, redact
from app.security.cds_auth import CdsAuthenticator
from app.store.consultations import ConsultationStore


def test_json_line_carries_consultation_id_and_criteria_version() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", stream)
    try:
        logging.getLogger("spine_auc.test").info(
            "rated order",
            extra={"consultation_id": "urn:uuid:abc", "criteria_version": "2026.11", "patient": "Patient/p1"},
        )
    finally:
        logging.getLogger().removeHandler(handler)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["msg"] == "rated order"
    assert line["consultation_id"] == "urn:uuid:abc"
    assert line["criteria_version"] == "2026.11"
    assert line["patient"] == "Patient/p1"
    assert line["level"] == "INFO" and line["logger"] == "spine_auc.test"


def test_redact_removes_bearer_tokens_and_jwts() -> None:
    token = jwt.encode({"sub": "x"}, ec.generate_private_key(ec.SECP384R1()), algorithm="ES384")
    assert token not in redact(f"Authorization: Bearer {token}")
    assert token not in redact(f"got token {token} from client")
    assert "Bearer [redacted]" in redact("Authorization: Bearer opaque-access-token-123")


def test_refused_and_accepted_tokens_are_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "alg": "ES384"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    store = ConsultationStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
    auth = CdsAuthenticator(
        [{"iss": "https://ehr", "jwks_file": str(path)}], store, allow_unauthenticated=False
    )
    url = "https://cds.example.org/cds-services/x"
    now = int(time.time())
    token = jwt.encode(
        {"iss": "https://ehr", "aud": url, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())},
        key,
        algorithm="ES384",
        headers={"kid": "k1"},
    )
    stream = io.StringIO()
    handler = configure_logging("DEBUG", stream)
    try:
        with caplog.at_level(logging.DEBUG):
            assert auth.authenticate(f"Bearer {token}", audience_url=url) is not None
            with pytest.raises(Unauthorized):
                auth.authenticate(f"Bearer {token}", audience_url=url)  # replay: refused and logged
    finally:
        logging.getLogger().removeHandler(handler)
        store.close()
    assert "replayed jti" in caplog.text
    for text in (caplog.text, stream.getvalue()):
        assert token not in text
        assert token.split(".")[2] not in text  # not even the signature
