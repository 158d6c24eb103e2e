"""Service configuration: defaults, then ``SPINE_AUC_*`` environment variables, then test overrides."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    # Clinical content (validated once at start-up; the service refuses to start on invalid criteria).
    "CRITERIA_DIR": str(REPO_ROOT / "criteria"),
    "FIXTURES_DIR": str(REPO_ROOT / "fhir_fixtures"),
    # Storage: SQLite (WAL) under DATA_DIR by default, PostgreSQL by URL.
    "DATA_DIR": str(REPO_ROOT / "var"),
    "DATABASE_URL": None,
    "RETENTION_DAYS": 3650,
    # Outbound FHIR: the server patient data is fetched from when a request does not carry it.
    "FHIR_BASE_URL": None,
    "FHIR_TIMEOUT_SECONDS": 5.0,
    "FHIR_DEADLINE_SECONDS": 8.0,
    "FHIR_PAGE_CAP": 50,
    # Inbound limits.
    "MAX_BODY_BYTES": 5 * 1024 * 1024,
    "MAX_URL_BYTES": 4096,  # longer request URIs get 414 (gunicorn's own limit is set above it: 8190)
    "MAX_HEADER_BYTES": 8192,  # a longer header field gets 431 (gunicorn's own limit: 16380)
    # Bounded work per request (over a limit: a 4xx OperationOutcome or "not rated", never a worker timeout).
    "MAX_CODE_LENGTH": 100,  # longer codes are not matched (a data issue)
    "MAX_TEXT_LENGTH": 4096,  # longer texts/displays are cut before matching (a data issue)
    "MAX_ORDERS_PER_CALL": 100,  # ServiceRequests per REST/FHIR call or CDS draftOrders
    "MAX_PREFETCH_RESOURCES": 2000,  # resources per prefetch key / per Bundle
    "MAX_MEDICATION_READS": 50,  # Medication reads per call; more references: medications unavailable
    "EVALUATION_BUDGET_SECONDS": 10.0,  # evaluation time per request; later orders "not rated"
    # CDS Hooks
    "CDS_LEGACY_SYSTEM_ACTIONS": True,
    "CDS_TRUSTED_ISSUERS": [],
    "ALLOW_UNAUTHENTICATED": False,
    "BIND_HOST": "127.0.0.1",
    # Auditor page (/audit): tokens as "sha256:<hex>" (or plain); none = loopback only.
    "AUDITOR_TOKENS": [],
    "AUDITOR_SESSION_SECONDS": 8 * 3600,
    # Origins allowed to call CDS Hooks from a browser: ["*"] or a list (env: JSON list or comma-separated).
    "CDS_CORS_ORIGINS": ["*"],
    # The public URL of this service (behind a proxy): the expected token audience is derived from it.
    "PUBLIC_BASE_URL": None,
    # Tokens (CDS clients and API clients): clock skew and the longest accepted exp - iat.
    "CDS_CLOCK_SKEW_SECONDS": 60,
    "CDS_MAX_TOKEN_LIFETIME_SECONDS": 300,
    # API clients (REST API, $appropriateness, consultation reads): JSON list of issuers.
    "API_TRUSTED_ISSUERS": [],
    "API_MAX_TOKEN_LIFETIME_SECONDS": 300,
    # The question page: link lifetime, how long answers apply to the same order, the link-signing secret
    # (None: a random key kept 0600 in DATA_DIR/questions.key).
    "QUESTIONS_LINK_MINUTES": 30.0,
    "QUESTIONS_ANSWER_WINDOW_MINUTES": 120.0,
    "QUESTIONS_SECRET": None,
}

_ENV_PREFIX = "SPINE_AUC_"


def _coerce(raw: str, default: Any) -> Any:
    """Turn an environment string into the type of the default value."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, dict) or (isinstance(default, list) and raw.lstrip().startswith("[")):
        return json.loads(raw)
    if isinstance(default, list):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def load_config(test_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the effective configuration (defaults < environment < test_config)."""
    config = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        raw = os.environ.get(_ENV_PREFIX + key)
        if raw is not None and raw != "":
            config[key] = _coerce(raw, default)
    if test_config:
        config.update(test_config)
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{Path(config['DATA_DIR']) / 'spine-auc.db'}"
    return config
