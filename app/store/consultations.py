"""Consultation audit store: consultations, CDS Hooks feedback and the JWT ``jti`` replay cache.

SQLAlchemy Core over SQLite (WAL, ``synchronous=FULL``; the default, under the data directory) or
PostgreSQL (by URL). Every write is committed before the method returns; a failed write raises
:class:`StoreError` (503) so the caller sees it — nothing is dropped silently. The per-request writes
(consultations, ``jti`` claims) go through a group commit (app/store/group_commit.py): concurrent requests
of a process share one transaction and its fsync, each answered only after that commit; on a SQLite file
they run on a plain ``sqlite3`` connection (app/store/raw_sqlite.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import sqlite3
import time
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.clinical.result import Result
from app.errors import InvalidInput, SpineAucError
from app.metrics import STORE_WRITE_LATENCY, timed
from app.store import tables as s
from app.store.group_commit import GroupCommit
from app.store.raw_sqlite import RawSqlite, register
from app.store.result_blob import canonical_json, compress_result, read_result
from app.store.sqlite_files import configure_sqlite, sqlite_engine, sqlite_file
from app.store.writes import ClaimJti, EngineWriter, InsertRows, SqliteWriter

MAX_PAGE = 200


class StoreError(SpineAucError):
    """The audit store could not record or read: the request is not answered as if it had been."""

    status = 503
    issue_code = "transient"


def _str_or_none(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:limit]


def _first_code(result: Result) -> tuple[str | None, str | None]:
    for coding in result.procedure.codes if result.procedure else ():
        if coding.code:
            return _str_or_none(coding.system, 200), _str_or_none(coding.code, 100)
    return None, None


def _query_digest(*parts: str | None) -> str:
    """Binds a cursor to the query (tenant, patient, order) that produced it."""
    return hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()[:16]


def _encode_cursor(seq: int, digest: str) -> str:
    return base64.urlsafe_b64encode(f"c2:{seq}:{digest}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, digest: str) -> int:
    """The ``seq`` of a cursor made for the same query; any other cursor is a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, number, bound = raw.split(":")
        if prefix != "c2" or bound != digest:
            raise ValueError(prefix)
        return int(number)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidInput("invalid paging cursor", expression=["cursor"]) from exc


def _failed(exc: BaseException) -> bool:
    """A database failure (a 503), as opposed to a bug (re-raised as it is)."""
    return isinstance(exc, SQLAlchemyError | sqlite3.Error)


JTI_PURGE_EVERY_SECONDS = 60.0


# Pooled connections must not cross a fork (gunicorn --preload): children start with a fresh pool.
# One fork hook for all stores, holding their engines weakly (a hook per store would keep every engine
# alive for the life of the process: fork hooks cannot be unregistered).
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _fresh_pools_after_fork() -> None:
    for engine in list(_ENGINES):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_pools_after_fork)


class ConsultationStore:
    """All reads and writes of the audit store."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.schema_version = s.upgrade(engine)
        _ENGINES.add(engine)
        database = sqlite_file(engine)
        self._raw = None if database is None else RawSqlite(database, configure_sqlite)
        if self._raw is not None:
            register(engine, self._raw)
        writer = EngineWriter(engine) if self._raw is None else SqliteWriter(self._raw, engine.dialect)
        self._commits = GroupCommit(writer.commit)
        self._next_jti_purge = 0.0

    @classmethod
    def from_url(cls, url: str) -> ConsultationStore:
        engine = sqlite_engine(url) if url.startswith("sqlite") else create_engine(url, pool_pre_ping=True)
        try:
            return cls(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(f"audit store unavailable: {type(exc).__name__}") from exc
        except BaseException:
            engine.dispose()  # a store that refuses to open (e.g. newer schema) leaves no connection open
            raise

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- consultations -------------------------------------------------------------------------------

    def record_consultations(
        self,
        results: list[Result],
        *,
        hook_instance: str | None,
        request_id: str | None,
        caller_iss: str | None,
        tenant: str | None,
        patient: str | None,
        latency_ms: float,
    ) -> None:
        """Write one row per result in a single transaction, committed before returning."""
        if not results:
            return
        now = datetime.now(UTC)
        rows = []
        for result in results:
            if not result.consultation_id:
                raise StoreError("result without a consultationId cannot be recorded")
            system, code = _first_code(result)
            rows.append(
                {
                    "consultation_id": result.consultation_id[:100],
                    "hook_instance": _str_or_none(hook_instance, 200),
                    "request_id": _str_or_none(request_id, 200),
                    "caller_iss": _str_or_none(caller_iss, 500),
                    "tenant": _str_or_none(tenant, 200),
                    "patient": _str_or_none(patient, 200),
                    "order_ref": _str_or_none(result.service_request, 200),
                    "order_system": system,
                    "order_code": code,
                    "status": result.status[:40],
                    "topic_id": _str_or_none(result.topic.id if result.topic else None, 100),
                    "topic_version": _str_or_none(result.topic.version if result.topic else None, 40),
                    "variant": result.variant.number if result.variant else None,
                    "category": _str_or_none(result.category, 60),
                    "score": result.score,
                    "pama_rating": _str_or_none(result.pama_rating, 40),
                    "reasons": "",  # inside result_z (schema version 3)
                    "criteria_version": _str_or_none(result.criteria_version, 100),
                    "created_at": now,
                    "latency_ms": float(latency_ms),
                    "result": "",
                    "result_z": compress_result(result.to_json()),
                }
            )
        try:
            with timed(STORE_WRITE_LATENCY, kind="consultations"):
                self._commits.submit(InsertRows(s.consultations, rows))
        except Exception as exc:
            if _failed(exc):
                raise StoreError(f"consultation could not be recorded: {type(exc).__name__}") from exc
            raise

    @staticmethod
    def _row_to_dict(row: Any) -> dict[str, Any]:
        created = row.created_at
        if created is not None and created.tzinfo is None:  # SQLite returns naive UTC
            created = created.replace(tzinfo=UTC)
        result = read_result(row)
        return {
            "consultationId": row.consultation_id,
            "result": result,
            "audit": {
                "hookInstance": row.hook_instance,
                "requestId": row.request_id,
                "callerIss": row.caller_iss,
                "tenant": row.tenant,
                "patient": row.patient,
                "order": row.order_ref,
                "orderCode": {"system": row.order_system, "code": row.order_code} if row.order_code else None,
                "status": row.status,
                "topic": {"id": row.topic_id, "version": row.topic_version} if row.topic_id else None,
                "variant": row.variant,
                "category": row.category,
                "score": row.score,
                "pamaRating": row.pama_rating,
                "reasons": json.loads(row.reasons) if row.reasons else result.get("reasons", []),
                "criteriaVersion": row.criteria_version,
                "recordedAt": created.isoformat() if created else None,
                "latencyMs": row.latency_ms,
            },
        }

    def get_consultation(
        self, consultation_id: str, *, tenant_scope: str | None = None
    ) -> dict[str, Any] | None:
        """One consultation; with ``tenant_scope`` only if it was recorded for that tenant."""
        query = select(s.consultations).where(s.consultations.c.consultation_id == consultation_id)
        if tenant_scope is not None:
            query = query.where(s.consultations.c.tenant == tenant_scope)
        try:
            with self.engine.connect() as conn:
                row = conn.execute(query).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"audit store unavailable: {type(exc).__name__}") from exc
        return None if row is None else self._row_to_dict(row)

    def list_consultations(
        self,
        *,
        patient: str | None = None,
        order: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        tenant_scope: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; ``cursor`` is the opaque value returned as the second element of a previous page.

        With ``tenant_scope`` only that tenant's rows; a cursor is valid only for the query (tenant,
        patient, order) that returned it.
        """
        if limit < 1 or limit > MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", expression=["limit"])
        table = s.consultations
        query = select(table).order_by(table.c.seq.desc()).limit(limit + 1)
        if patient is not None:
            query = query.where(table.c.patient == patient)
        if order is not None:
            query = query.where(table.c.order_ref == order)
        if tenant_scope is not None:
            query = query.where(table.c.tenant == tenant_scope)
        digest = _query_digest(tenant_scope, patient, order)
        if cursor:
            query = query.where(table.c.seq < _decode_cursor(cursor, digest))
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as exc:
            raise StoreError(f"audit store unavailable: {type(exc).__name__}") from exc
        page = rows[:limit]
        next_cursor = _encode_cursor(page[-1].seq, digest) if len(rows) > limit else None
        return [self._row_to_dict(row) for row in page], next_cursor

    # -- feedback ------------------------------------------------------------------------------------

    def record_feedback(self, service_id: str, item: dict[str, Any], *, caller_iss: str | None) -> bool:
        """Store one CDS Hooks feedback item; ``False`` when the identical item was already recorded."""
        card = item.get("card")
        outcome = item.get("outcome")
        if not isinstance(card, str) or not card:
            raise InvalidInput("feedback item needs a card uuid", expression=["feedback.card"])
        if not isinstance(outcome, str) or not outcome:
            raise InvalidInput("feedback item needs an outcome", expression=["feedback.outcome"])
        accepted = item.get("acceptedSuggestions", [])
        override = item.get("overrideReason")
        key = hashlib.sha256(canonical_json({"service": service_id, "item": item}).encode()).hexdigest()
        row = {
            "dedup_key": key,
            "service_id": service_id[:200],
            "card_uuid": card[:200],
            "outcome": outcome[:40],
            "accepted_suggestions": canonical_json(accepted),
            "override_reason": None if override is None else canonical_json(override),
            "outcome_timestamp": _str_or_none(item.get("outcomeTimestamp"), 60),
            "caller_iss": _str_or_none(caller_iss, 500),
            "received_at": datetime.now(UTC),
        }
        try:
            with timed(STORE_WRITE_LATENCY, kind="feedback"), self.engine.begin() as conn:
                conn.execute(insert(s.feedback).values(**row))
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise StoreError(f"feedback could not be recorded: {type(exc).__name__}") from exc
        return True

    def list_feedback(self, card_uuid: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(s.feedback).where(s.feedback.c.card_uuid == card_uuid).order_by(s.feedback.c.seq)
            ).all()
        return [
            {
                "serviceId": r.service_id,
                "card": r.card_uuid,
                "outcome": r.outcome,
                "acceptedSuggestions": json.loads(r.accepted_suggestions),
                "overrideReason": None if r.override_reason is None else json.loads(r.override_reason),
                "outcomeTimestamp": r.outcome_timestamp,
                "callerIss": r.caller_iss,
            }
            for r in rows
        ]

    # -- JWT replay cache ----------------------------------------------------------------------------

    def claim_jti(self, iss: str, jti: str, exp: int) -> bool:
        """Record ``(iss, jti)``; ``False`` if it was seen before. Atomic across processes (unique key)."""
        # Expired entries can no longer be replayed (exp is checked first): deleting them (at most once a
        # minute per process) only keeps the table short.
        purge_before = None
        if time.monotonic() >= self._next_jti_purge:
            self._next_jti_purge = time.monotonic() + JTI_PURGE_EVERY_SECONDS
            purge_before = int(time.time()) - 3600
        try:
            won: bool = self._commits.submit(ClaimJti(iss[:500], jti[:500], int(exp), purge_before))
        except Exception as exc:
            if _failed(exc):
                raise StoreError(f"replay cache unavailable: {type(exc).__name__}") from exc
            raise
        return won

    # -- retention -----------------------------------------------------------------------------------

    def purge_older_than(self, days: int) -> int:
        """Delete consultations and feedback older than ``days``; returns the number of consultations."""
        if days < 0:
            raise InvalidInput("retention days must be >= 0")
        cutoff = datetime.now(UTC) - timedelta(days=days)
        try:
            with self.engine.begin() as conn:
                deleted = conn.execute(delete(s.consultations).where(s.consultations.c.created_at < cutoff))
                conn.execute(delete(s.feedback).where(s.feedback.c.received_at < cutoff))
        except SQLAlchemyError as exc:
            raise StoreError(f"purge failed: {type(exc).__name__}") from exc
        return int(deleted.rowcount or 0)

    def ping(self) -> None:
        """A cheap query (``SELECT 1``): raises when the database does not answer."""
        with self.engine.connect() as conn:
            conn.execute(select(1)).scalar()

    def count_consultations(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(s.consultations)).scalar() or 0)

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
        self.engine.dispose()
