"""Logs as JSON lines: time, level, logger, message, plus audit fields (consultation id, criteria version).

Pass audit fields with ``extra={"consultation_id": ..., "criteria_version": ...}``. Anything that looks
like a bearer token or a JWT is redacted from every line, so a token can never reach the log even by
accident (CDS Hooks best practice: "never store, share, or log JWTs"). Log references
(``Patient/123``), never patient content.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

AUDIT_FIELDS = (
    "consultation_id",
    "criteria_version",
    "hook_instance",
    "request_id",
    "iss",
    "tenant",
    "patient",
    "order",
    "status",
    "latency_ms",
)

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """Remove bearer tokens and anything shaped like a JWT."""
    return _JWT.sub("[redacted-jwt]", _BEARER.sub(r"\1[redacted]", text))


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for name in AUDIT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__  # type only: messages may echo input
        return json.dumps(entry, separators=(",", ":"), default=str)


def configure_logging(level: str | int = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Install one JSON-lines handler on the root logger (idempotent); returns it."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_spine_auc_json", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    handler._spine_auc_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
