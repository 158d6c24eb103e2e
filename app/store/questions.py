"""Questions asked through the question page: open questions, their answers, and answers still in force.

Shares the audit store's engine (``ConsultationStore.engine``; the ``questions`` table is created by its
schema upgrades). Every write is one transaction; a failure raises :class:`StoreError` (503).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from app.store import tables as s
from app.store.consultations import StoreError
from app.store.raw_sqlite import for_engine

# answers_in_force on a SQLite file: one prepared query (index ix_questions_order) on the thread's connection.
_ANSWERS_SQL = (
    "SELECT questionnaire_response FROM questions WHERE patient = ? AND order_ref = ?"
    " AND answered_at IS NOT NULL AND answered_at >= ? ORDER BY answered_at DESC LIMIT 1"
)


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite returns naive UTC
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class Question:
    question_id: str
    consultation_id: str
    patient: str | None
    order_ref: str | None
    expires_at: datetime
    context: dict[str, Any] | None
    answered_at: datetime | None
    answer_consultation_id: str | None
    questionnaire_response: dict[str, Any] | None


class QuestionStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._raw = for_engine(engine)
        # answered_at as SQLAlchemy stores it (SQLite: text), for the plain query's comparison.
        column_type = s.questions.c.answered_at.type
        self._bind_time = column_type.dialect_impl(engine.dialect).bind_processor(engine.dialect)

    def open_question(
        self,
        question_id: str,
        *,
        consultation_id: str,
        patient: str | None,
        order_ref: str | None,
        expires_at: datetime,
        context: dict[str, Any],
    ) -> None:
        row = {
            "question_id": question_id,
            "consultation_id": consultation_id[:100],
            "patient": None if patient is None else patient[:200],
            "order_ref": None if order_ref is None else order_ref[:200],
            "created_at": datetime.now(UTC),
            "expires_at": expires_at,
            "context": json.dumps(context, separators=(",", ":")),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(s.questions).values(**row))
        except SQLAlchemyError as exc:
            raise StoreError(f"question could not be recorded: {type(exc).__name__}") from exc

    def get(self, question_id: str) -> Question | None:
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(s.questions).where(s.questions.c.question_id == question_id)
                ).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"question store unavailable: {type(exc).__name__}") from exc
        if row is None:
            return None
        return Question(
            question_id=row.question_id,
            consultation_id=row.consultation_id,
            patient=row.patient,
            order_ref=row.order_ref,
            expires_at=_utc(row.expires_at) or datetime.now(UTC),
            context=None if row.context is None else json.loads(row.context),
            answered_at=_utc(row.answered_at),
            answer_consultation_id=row.answer_consultation_id,
            questionnaire_response=(
                None if row.questionnaire_response is None else json.loads(row.questionnaire_response)
            ),
        )

    def answer(self, question_id: str, *, response: dict[str, Any], consultation_id: str) -> bool:
        """Record the answers once (``False`` when the question was already answered); drops the context."""
        table = s.questions
        try:
            with self.engine.begin() as conn:
                done = conn.execute(
                    update(table)
                    .where(and_(table.c.question_id == question_id, table.c.answered_at.is_(None)))
                    .values(
                        answered_at=datetime.now(UTC),
                        answer_consultation_id=consultation_id[:100],
                        questionnaire_response=json.dumps(response, separators=(",", ":")),
                        context=None,
                    )
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"answers could not be recorded: {type(exc).__name__}") from exc
        return bool(done.rowcount)

    def answers_in_force(self, patient: str, order_ref: str, *, window: timedelta) -> dict[str, Any] | None:
        """The latest answers to this order for this patient given within ``window``, if any."""
        since = datetime.now(UTC) - window
        if self._raw is not None:
            bound = since if self._bind_time is None else self._bind_time(since)
            try:
                row = self._raw.reader().execute(_ANSWERS_SQL, (patient, order_ref, bound)).fetchone()
            except sqlite3.Error as exc:
                raise StoreError(f"question store unavailable: {type(exc).__name__}") from exc
            return None if row is None or row[0] is None else dict(json.loads(row[0]))
        table = s.questions
        query = (
            select(table.c.questionnaire_response)
            .where(
                and_(
                    table.c.patient == patient,
                    table.c.order_ref == order_ref,
                    table.c.answered_at.is_not(None),
                    table.c.answered_at >= since,
                )
            )
            .order_by(table.c.answered_at.desc())
            .limit(1)
        )
        try:
            with self.engine.connect() as conn:
                found = conn.execute(query).scalar()
        except SQLAlchemyError as exc:
            raise StoreError(f"question store unavailable: {type(exc).__name__}") from exc
        return None if found is None else dict(json.loads(found))

    def purge_older_than(self, days: int) -> int:
        """Delete questions (and their answers) older than ``days``; returns how many."""
        cutoff = datetime.now(UTC) - timedelta(days=days)
        try:
            with self.engine.begin() as conn:
                done = conn.execute(delete(s.questions).where(s.questions.c.created_at < cutoff))
        except SQLAlchemyError as exc:
            raise StoreError(f"purge failed: {type(exc).__name__}") from exc
        return int(done.rowcount or 0)

    def purge_expired(self) -> int:
        """Drop the re-rating context of questions that expired unanswered (the record is not kept)."""
        table = s.questions
        try:
            with self.engine.begin() as conn:
                done = conn.execute(
                    update(table)
                    .where(and_(table.c.expires_at < datetime.now(UTC), table.c.context.is_not(None)))
                    .values(context=None)
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"purge failed: {type(exc).__name__}") from exc
        return int(done.rowcount or 0)
