"""The questions table: opened, answered once, answers in force for a window, purged; and the upgrade from a
store created by the previous release (schema version 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, inspect, update

from app.store import tables as store_schema
from app.store.consultations import ConsultationStore
from app.store.questions import QuestionStore

RESPONSE = {"resourceType": "QuestionnaireResponse", "status": "completed", "item": []}


def opened(tmp_path: Path) -> QuestionStore:
    store = QuestionStore(ConsultationStore.from_url(f"sqlite:///{tmp_path / 'q.db'}").engine)
    store.open_question(
        "ab" * 16,
        consultation_id="urn:uuid:1",
        patient="pt-1",
        order_ref="ServiceRequest/sr-1",
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
        context={"order": {}, "record": {}},
    )
    return store


def test_a_question_is_answered_once_and_its_answers_apply_within_the_window(tmp_path: Path) -> None:
    store = opened(tmp_path)
    question = store.get("ab" * 16)
    assert question is not None and question.context is not None and question.answered_at is None
    window = timedelta(minutes=5)
    assert store.answers_in_force("pt-1", "ServiceRequest/sr-1", window=window) is None
    assert store.answer("ab" * 16, response=RESPONSE, consultation_id="urn:uuid:2")
    assert not store.answer("ab" * 16, response={**RESPONSE, "id": "x"}, consultation_id="urn:uuid:3")
    answered = store.get("ab" * 16)
    assert answered is not None and answered.context is None  # the record is not kept once answered
    assert answered.answer_consultation_id == "urn:uuid:2"
    assert store.answers_in_force("pt-1", "ServiceRequest/sr-1", window=window) == RESPONSE
    assert store.answers_in_force("pt-2", "ServiceRequest/sr-1", window=window) is None
    assert store.answers_in_force("pt-1", "ServiceRequest/sr-2", window=window) is None
    with store.engine.begin() as conn:
        conn.execute(
            update(store_schema.questions).values(answered_at=datetime.now(UTC) - timedelta(minutes=6))
        )
    assert store.answers_in_force("pt-1", "ServiceRequest/sr-1", window=window) is None


def test_expired_questions_lose_their_record_and_old_ones_are_purged(tmp_path: Path) -> None:
    store = opened(tmp_path)
    assert store.purge_expired() == 0
    with store.engine.begin() as conn:
        conn.execute(
            update(store_schema.questions).values(
                expires_at=datetime.now(UTC) - timedelta(minutes=1),
                created_at=datetime.now(UTC) - timedelta(days=40),
            )
        )
    assert store.purge_expired() == 1
    question = store.get("ab" * 16)
    assert question is not None and question.context is None
    assert store.purge_older_than(30) == 1 and store.get("ab" * 16) is None


def test_a_version_1_store_is_upgraded_with_the_questions_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v1.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        store_schema.metadata.create_all(conn, tables=[store_schema.schema_version])
        store_schema._v1_initial(conn)
        conn.execute(
            store_schema.schema_version.insert().values(
                version=1, description="v1", applied_at=datetime.now(UTC)
            )
        )
    assert "questions" not in inspect(engine).get_table_names()
    engine.dispose()
    store = ConsultationStore.from_url(url)
    assert store.schema_version == store_schema.CURRENT_VERSION >= 2
    assert "questions" in inspect(store.engine).get_table_names()
