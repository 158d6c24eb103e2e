"""Reads for the auditor page: consultations and feedback in a date range (newest first, bounded)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.store import tables as s
from app.store.consultations import ConsultationStore, StoreError
from app.store.result_blob import read_result

MAX_ROWS = 50_000  # the page summarises at most this many consultations (the newest); it says so


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite returns naive UTC
        return value.replace(tzinfo=UTC)
    return value


def consultations_between(
    store: ConsultationStore,
    since: datetime | None,
    until: datetime | None,
    *,
    tenant: str | None = None,
    limit: int = MAX_ROWS,
) -> list[dict[str, Any]]:
    """``{recordedAt, callerIss, patient, result}`` per consultation recorded in ``[since, until)``
    (of ``tenant`` only, when given)."""
    table = s.consultations
    query = select(table.c.created_at, table.c.caller_iss, table.c.patient, table.c.result, table.c.result_z)
    if tenant is not None:
        query = query.where(table.c.tenant == tenant)
    if since is not None:
        query = query.where(table.c.created_at >= since)
    if until is not None:
        query = query.where(table.c.created_at < until)
    query = query.order_by(table.c.seq.desc()).limit(limit)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError as exc:
        raise StoreError(f"audit store unavailable: {type(exc).__name__}") from exc
    return [
        {
            "recordedAt": _aware(r.created_at),
            "callerIss": r.caller_iss,
            "patient": r.patient,
            "result": read_result(r),
        }
        for r in rows
    ]


def feedback_between(
    store: ConsultationStore, since: datetime | None, until: datetime | None, *, limit: int = MAX_ROWS
) -> list[dict[str, Any]]:
    """``{receivedAt, card, outcome, overrideReason, acceptedSuggestions}`` per feedback item in the range."""
    table = s.feedback
    query = select(table)
    if since is not None:
        query = query.where(table.c.received_at >= since)
    if until is not None:
        query = query.where(table.c.received_at < until)
    query = query.order_by(table.c.seq.desc()).limit(limit)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError as exc:
        raise StoreError(f"audit store unavailable: {type(exc).__name__}") from exc
    return [
        {
            "receivedAt": _aware(r.received_at),
            "card": r.card_uuid,
            "outcome": r.outcome,
            "overrideReason": None if r.override_reason is None else json.loads(r.override_reason),
            "acceptedSuggestions": json.loads(r.accepted_suggestions),
        }
        for r in rows
    ]
