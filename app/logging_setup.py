"""Logs as JSON lines: time, level, logger, message, plus audit fields (consultation id, criteria version).

Pass audit fields with ``extra={"consultation_id": ..., "criteria_version": ...}``. Anything that looks
like a bearer token, a JWT, credentials or a URL query string is redacted from every line, so a token
can never reach the log even by accident (CDS Hooks best practice: "never store, share, or log JWTs").
Log references (``Patient/123``), never patient content.

gunicorn's access and error logs go through :class:`GunicornJsonLogger` (its ``logger_class``): the
same JSON lines, an access line carrying method, path without the query, status, size and duration,
never a header.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from gunicorn import glogging

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
    "http",
)

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_BASIC = re.compile(r"(Basic\s+)[A-Za-z0-9+/=]{8,}")
_CREDENTIAL = re.compile(r"(?i)\b(access_token|id_token|token|client_assertion|password|code)=[^&\s\"'<>]+")
_QUERY = re.compile(r"(?<=[\w/\]])\?[^\s\"'<>]+")


def redact(text: str) -> str:
    """Remove bearer and basic credentials, anything shaped like a JWT, and URL query strings."""
    text = _BASIC.sub(r"\1[redacted]", _BEARER.sub(r"\1[redacted]", text))
    text = _CREDENTIAL.sub(r"\1=[redacted]", text)
    return _QUERY.sub("?[redacted]", _JWT.sub("[redacted-jwt]", text))


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


class GunicornJsonLogger(glogging.Logger):
    """gunicorn's ``logger_class``: access and error logs as redacted JSON lines."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonLineFormatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        status = str(getattr(resp, "status", "") or "").split(" ", 1)[0]
        http = {
            "method": getattr(req, "method", None),
            "path": redact(str(getattr(req, "path", "") or "")),
            "query": "[redacted]" if getattr(req, "query", "") else None,
            "status": int(status) if status.isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "remote": environ.get("REMOTE_ADDR"),
        }
        try:
            self.access_log.info(
                "%s %s %s", http["method"], http["path"], http["status"], extra={"http": http}
            )
        except Exception:  # never let a log line fail a request
            self.error("access log line failed")
